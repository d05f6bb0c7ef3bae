// The older AppSync SDK's Delta Sync, proven with the real client: `aws-appsync` 4.1.10 in Node, its
// client.sync(buildSync(...)) with list<Plural> (base query), list<Plural>Delta (delta query) and
// onDelta<Model> (subscription), against the local endpoint with the live forwarder, as `npm run dev`
// serves it. Every change here is made by plain SQL, as another system would make it.
import { randomUUID } from 'node:crypto';
import { useLegacyApi, type Item, type LegacyDevice } from './legacy-devices';

jest.setTimeout(90_000);

const api = useLegacyApi('legacy-delta-sync');
const { db } = api;

const WORK_ORDER = { name: 'WorkOrder', plural: 'WorkOrders', fields: ['id', 'siteID', 'title', 'status', 'owner', '_version', '_deleted', '_lastChangedAt', 'aws_ds'] };
const CUSTOMER = { name: 'Customer', plural: 'Customers', fields: ['id', 'name', '_version', '_deleted', '_lastChangedAt', 'aws_ds'] };

/**
 * A device of tech-1's (the same name again: the same app, on the same store): her ID token as the SDK's
 * jwtToken, her name as onDeltaWorkOrder's owner argument, which the owner rule requires.
 */
const technicianDevice = (name: string) => api.device(name, WORK_ORDER, { user: 'tech-1', owner: 'tech-1' });

async function insertSite(): Promise<string> {
  const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values (${`Customer ${randomUUID()}`}) returning id`;
  const [site] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customer!.id}, 'Depot') returning id`;
  return site!.id;
}

async function insertWorkOrder(siteId: string, title: string, owner: string): Promise<string> {
  const [order] = await db.sql<{ id: string }[]>`insert into work_orders (site_id, title, owner) values (${siteId}, ${title}, ${owner}) returning id`;
  return order!.id;
}

const ids = (items: Item[]) => items.map((i) => i.id).sort();
const subscriptionData = (d: LegacyDevice, id: string) => d.events.filter((e) => e.event === 'subscriptionData' && e.id === id);

test('base sync under the owner rule; after a restart, the delta query brings SQL updates, inserts and deletes', async () => {
  // 1. the ERP has two open orders for tech-1, one already deleted, one for tech-2  2. tech-1's phone
  // syncs: the base query fills its cache with her two live orders  3. the app closes; by SQL the ERP
  // renames one, assigns her a new one (and tech-2 one), deletes the other (a hard DELETE, which becomes
  // a tombstone)  4. the app opens again on the same store: the SDK runs the delta query from its
  // stored lastSync, in seconds, and not the base query  5. its cache has the rename and the new order,
  // not the deleted one, nothing of tech-2's.
  const siteId = await insertSite();
  const kept = await insertWorkOrder(siteId, 'Replace seal', 'tech-1');
  const toDelete = await insertWorkOrder(siteId, 'Check valve', 'tech-1');
  const deletedBefore = await insertWorkOrder(siteId, 'Cancelled last week', 'tech-1');
  await db.sql`delete from work_orders where id = ${deletedBefore}`;
  const theirs = await insertWorkOrder(siteId, 'Not hers', 'tech-2');

  const phone = await technicianDevice('tech-1-phone');
  const stored = await phone.start();

  expect(ids(await phone.list())).toEqual([kept, toDelete].sort());
  const [base] = phone.requests('listWorkOrders');
  expect(base).toMatchObject({ items: 2 }); // tech-2's order never left the server
  expect(phone.requests()).toHaveLength(1); // a first sync is the base query alone
  expect(stored.baseLastSyncTimestamp).toBeGreaterThanOrEqual(base!.receivedAt - 2000);
  expect(stored.baseLastSyncTimestamp).toBeLessThanOrEqual(Date.now() - 2000);
  await phone.stop();

  await db.sql`update work_orders set title = 'Replace seal (bring the 40 mm one)' where id = ${kept}`;
  const added = await insertWorkOrder(siteId, 'Inspect pump', 'tech-1');
  const addedForOther = await insertWorkOrder(siteId, 'Also not hers', 'tech-2');
  await db.sql`delete from work_orders where id = ${toDelete}`;
  expect(await db.sql`select _deleted from work_orders where id = ${toDelete}`).toEqual([{ _deleted: true }]);

  const reopened = await technicianDevice('tech-1-phone');
  expect(ids(await reopened.list())).toEqual([kept, toDelete].sort()); // the cache came back from its file
  await reopened.start();

  expect(reopened.requests('listWorkOrders')).toHaveLength(0);
  const deltas = reopened.requests('listWorkOrdersDelta');
  expect(deltas).toHaveLength(1);
  expect(deltas[0]!.errors).toBeUndefined();
  // The SDK's lastSync: its own clock after the base query, 2 s back, in seconds (lib/deltaSync.js).
  expect(deltas[0]!.lastSync).toBe(Math.floor(stored.baseLastSyncTimestamp! / 1000));
  const cached = await reopened.list();
  expect(ids(cached)).toEqual([kept, added].sort());
  expect(cached.find((o) => o.id === kept)).toMatchObject({ title: 'Replace seal (bring the 40 mm one)', _version: 2 });
  expect(cached.find((o) => o.id === added)).toMatchObject({ title: 'Inspect pump', owner: 'tech-1', aws_ds: null });
  expect(ids(cached)).not.toContain(theirs);
  expect(ids(cached)).not.toContain(addedForOther);
});

test('live: an SQL update and a hard delete reach the running device through onDeltaWorkOrder, and only hers', async () => {
  // 1. tech-1's phone has synced  2. by SQL the ERP assigns tech-2 an order, then renames one of
  // tech-1's: the rename arrives (and tech-2's order never does)  3. the ERP deletes her other order:
  // it leaves her cache  4. no list query ran after the first.
  const siteId = await insertSite();
  const renamed = await insertWorkOrder(siteId, 'Grease bearings', 'tech-1');
  const deleted = await insertWorkOrder(siteId, 'Tighten flange', 'tech-1');
  const phone = await technicianDevice('tech-1-tablet');
  await phone.start();
  expect(ids(await phone.list())).toEqual(expect.arrayContaining([renamed, deleted]));
  const requestsAfterStart = phone.requests().length;

  const theirs = await insertWorkOrder(siteId, 'Not hers either', 'tech-2');
  await db.sql`update work_orders set title = 'Grease bearings (both sides)' where id = ${renamed}`;
  await phone.until((orders) => orders.some((o) => o.id === renamed && o.title === 'Grease bearings (both sides)'));
  await db.sql`delete from work_orders where id = ${deleted}`;
  await phone.until((orders) => !orders.some((o) => o.id === deleted));

  expect(subscriptionData(phone, renamed)).toContainEqual(expect.objectContaining({ field: 'onDeltaWorkOrder', _version: 2, aws_ds: null }));
  expect(subscriptionData(phone, deleted)).toContainEqual(expect.objectContaining({ field: 'onDeltaWorkOrder', aws_ds: 'DELETE' }));
  expect(subscriptionData(phone, theirs)).toHaveLength(0);
  expect(ids(await phone.list())).not.toContain(theirs);
  expect(phone.requests()).toHaveLength(requestsAfterStart);
});

test('with the API key: offline, then online again, the SDK catches up with a delta query', async () => {
  // 1. the office's device (API key) has synced the customers  2. it loses the network  3. by SQL a
  // customer is renamed, one added, one deleted: nothing reaches it  4. back online, the SDK runs its
  // delta query (not the base query) and its cache has all three changes.
  const [renamed, deleted] = (await db.sql<{ id: string }[]>`insert into customers (name) values ('Acme'), ('Bygone Ltd') returning id`).map((r) => r.id);
  const office = await api.device('office', CUSTOMER);
  await office.start();
  expect(ids(await office.list())).toEqual(expect.arrayContaining([renamed!, deleted!]));

  await office.network(false);
  await db.sql`update customers set name = 'Acme Industries' where id = ${renamed!}`;
  const [added] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Newco') returning id`;
  await db.sql`delete from customers where id = ${deleted!}`;
  await new Promise((done) => setTimeout(done, 1000)); // the forwarder publishes them meanwhile, to no one
  expect((await office.list()).find((c) => c.id === renamed)?.name).toBe('Acme');
  const stored = await office.network(true);

  expect(office.requests('listCustomers')).toHaveLength(1);
  const deltas = office.requests('listCustomersDelta');
  expect(deltas).toHaveLength(1);
  expect(deltas[0]!.lastSync).toBe(Math.floor(stored.baseLastSyncTimestamp! / 1000));
  const cached = await office.list();
  expect(cached.find((c) => c.id === renamed)?.name).toBe('Acme Industries');
  expect(ids(cached)).toContain(added!.id);
  expect(ids(cached)).not.toContain(deleted);
});
