// The real aws-amplify v6 DataStore client, in Node, one process per device, with models generated from
// schema.graphql by Amplify's own generator, against the local AppSync endpoint and real Postgres.
import { randomUUID } from 'node:crypto';
import type { Item } from './devices';
import { useLocalApi } from './local-api';

jest.setTimeout(90_000);

const { db, user, device } = useLocalApi('datastore');

async function insertCustomers(names: string[]): Promise<string[]> {
  const rows = await db.sql<{ id: string }[]>`insert into customers (name) select unnest(${names}::text[]) returning id`;
  return rows.map((r) => r.id);
}

async function insertSite(): Promise<string> {
  const [customer] = await insertCustomers([`Customer ${randomUUID()}`]);
  const [site] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customer!}, 'Depot') returning id`;
  return site!.id;
}

test('initial sync over several pages', async () => {
  const ids = await insertCustomers(['Paging 1', 'Paging 2', 'Paging 3', 'Paging 4', 'Paging 5']);
  const phone = await device('phone');

  await phone.start();

  const customers = await phone.query('Customer');
  expect(customers.map((c) => c.id)).toEqual(expect.arrayContaining(ids));
  const pages = phone.requests('syncCustomers');
  expect(pages.length).toBeGreaterThanOrEqual(3); // syncPageSize 2
  expect(pages.every((p) => p.lastSync === 0 || p.lastSync === null || p.lastSync === undefined)).toBe(true);
});

test('create, update and delete reach the server', async () => {
  const [customerId] = await insertCustomers(['Round trip']);
  const phone = await device('phone', { user: user('tech-1') });
  await phone.start();

  const site = await phone.call<Item>('save', { model: 'Site', fields: { customerID: customerId, name: 'New depot', latitude: 50.1 } });
  await phone.synced();
  expect(await db.sql`select name, _version from sites where id = ${site.id}`).toEqual([{ name: 'New depot', _version: 1 }]);

  await phone.call('update', { model: 'Site', id: site.id, fields: { name: 'Renamed depot' } });
  await phone.synced();
  expect(await db.sql`select name, _version from sites where id = ${site.id}`).toEqual([{ name: 'Renamed depot', _version: 2 }]);

  await phone.call('delete', { model: 'Site', id: site.id });
  await phone.synced();
  expect(await db.sql`select _deleted, _version from sites where id = ${site.id}`).toEqual([{ _deleted: true, _version: 3 }]);
});

test('a second device sees changes live, through subscriptions', async () => {
  const a = await device('a', { user: user('tech-1') });
  const b = await device('b', { user: user('tech-2') });
  await Promise.all([a.start(), b.start()]);
  const syncsBefore = b.requests('syncCustomers').length;

  const created = await a.call<Item>('save', { model: 'Customer', fields: { name: 'Live Ltd' } });

  await b.until('Customer', (items) => items.find((c) => c.id === created.id && c.name === 'Live Ltd'));
  expect(b.requests('syncCustomers').length).toBe(syncsBefore); // not by syncing again
  await a.call('update', { model: 'Customer', id: created.id, fields: { name: 'Live Ltd (renamed)' } });
  await b.until('Customer', (items) => items.find((c) => c.id === created.id && c.name === 'Live Ltd (renamed)'));
});

test('a conflict between two devices resolves with the default handler: the later device wins', async () => {
  // 1. both devices hold v1  2. b goes offline and renames  3. a renames online (v2)
  // 4. b reconnects: its write is based on v1, the server answers ConflictUnhandled, DataStore's default
  // handler retries it on top of v2, and both devices converge on b's name at v3.
  const id = (await insertCustomers(['Conflict Co']))[0]!;
  const a = await device('a', { user: user('tech-1') });
  const b = await device('b', { user: user('tech-2') });
  await Promise.all([a.start(), b.start()]);
  await b.call('network', { online: false });
  await b.call('update', { model: 'Customer', id, fields: { name: 'Named by b' } });
  await a.call('update', { model: 'Customer', id, fields: { name: 'Named by a' } });
  await a.synced();

  await b.call('network', { online: true });
  await b.synced(40_000);

  await a.until('Customer', (items) => items.find((c) => c.id === id && c.name === 'Named by b' && c._version === 3));
  expect(await db.sql`select name, _version from customers where id = ${id}`).toEqual([{ name: 'Named by b', _version: 3 }]);
});

test('a conflict resolves with a custom conflict handler', async () => {
  // b's handler takes the server's item but keeps b's name: a's phone and b's name both survive.
  // (Customer, because DataStore builds the handler's localModel from the update's input alone, which
  // fails its own validation for models whose required fields the update does not touch.)
  const id = (await insertCustomers(['Handler Co']))[0]!;
  const a = await device('a', { user: user('tech-1') });
  const b = await device('b', { user: user('tech-2'), conflict: 'keep-local-name' });
  await Promise.all([a.start(), b.start()]);
  await b.call('network', { online: false });
  await b.call('update', { model: 'Customer', id, fields: { name: 'Name from b', phone: '+15550100001' } });
  await a.call('update', { model: 'Customer', id, fields: { phone: '+15550100002' } });
  await a.synced();

  await b.call('network', { online: true });
  await b.synced(40_000);

  await a.until('Customer', (items) => items.find((c) => c.id === id && c.name === 'Name from b'));
  expect(await db.sql`select name, phone, _version from customers where id = ${id}`).toEqual([{ name: 'Name from b', phone: '+15550100002', _version: 3 }]);
});

test('a restarted device delta-syncs only what changed; a change by plain SQL reaches it', async () => {
  const ids = await insertCustomers(['Delta 1', 'Delta 2', 'Delta 3']);
  const phone = await device('phone', { user: user('tech-1') });
  await phone.start();
  await phone.call('stop');

  await db.sql`update customers set name = 'Delta 2 (changed by the ERP)' where id = ${ids[1]!}`;
  const before = phone.requests('syncCustomers').length;
  await phone.start();

  const resync = phone.requests('syncCustomers').slice(before);
  expect(resync.length).toBeGreaterThan(0);
  expect(resync.every((r) => typeof r.lastSync === 'number' && r.lastSync > 0)).toBe(true);
  expect(resync.reduce((n, r) => n + (r.items ?? 0), 0)).toBe(1);
  await phone.until('Customer', (items) => items.find((c) => c.id === ids[1] && c.name === 'Delta 2 (changed by the ERP)'));
});

test('a device away longer than the BaseTableTTL loses the rows deleted meanwhile: no ghosts', async () => {
  // 1. the phone syncs three customers and is put away  2. the ERP deletes two of them; the phone stays
  // away past the BaseTableTTL (shortened here), so purge removes the tombstones and the journal rows
  // (they go to the graveyard)  3. the phone comes back: its sync (a base sync: the journal no longer
  // covers its lastSync) sends the two deletions from the graveyard, and the phone drops both rows.
  const ids = await insertCustomers(['Ghost 1', 'Ghost 2', 'Survivor']);
  const phone = await device('phone', { user: user('tech-1') });
  await phone.start();
  await phone.until('Customer', (items) => ids.every((id) => items.some((c) => c.id === id)));
  await phone.call('stop');

  const setTtls = (base: string, delta: string) => db.sql`
    update versioning.models set base_table_ttl = ${base}::interval, delta_sync_table_ttl = ${delta}::interval
     where base_table = 'customers'::regclass`;
  try {
    await setTtls('1 millisecond', '1 millisecond');
    await db.sql`delete from customers where id in ${db.sql(ids.slice(0, 2))}`;
    await new Promise((done) => setTimeout(done, 20));
    await db.sql`call versioning.purge()`;
  } finally {
    await setTtls('30 days', '30 minutes');
  }
  expect(await db.sql`select id from customers where id in ${db.sql(ids.slice(0, 2))}`).toEqual([]);
  const before = phone.requests('syncCustomers').length;

  await phone.start();

  await phone.until('Customer', (items) => !items.some((c) => ids.slice(0, 2).includes(c.id)));
  expect((await phone.query('Customer')).map((c) => c.id)).toContain(ids[2]);
  const resync = phone.requests('syncCustomers').slice(before);
  expect(resync.every((r) => typeof r.lastSync === 'number' && r.lastSync > 0)).toBe(true);
});

test('a selective-sync expression keeps only matching rows on the device', async () => {
  const siteId = await insertSite();
  const orders = await db.sql<{ id: string; status: string }[]>`
    insert into work_orders (site_id, title, status, owner) values
      (${siteId}, 'open one', 'OPEN', 'tech-1'), (${siteId}, 'done one', 'COMPLETED', 'tech-1') returning id, status`;
  const phone = await device('phone', { user: user('tech-1'), selective: { model: 'WorkOrder', field: 'status', eq: 'OPEN' } });

  await phone.start();

  const local = await phone.query('WorkOrder');
  expect(local.map((o) => o.id)).toContain(orders.find((o) => o.status === 'OPEN')!.id);
  expect(local.every((o) => o.status === 'OPEN')).toBe(true);
  expect(phone.requests('syncWorkOrders').every((r) => r.errorType === undefined)).toBe(true);
});

test('two technicians under the owner rule never see each other\'s work orders', async () => {
  const siteId = await insertSite(); // before the devices sync: DataStore saves a child only beside its parent
  const alice = await device('alice', { user: user('alice') });
  const bob = await device('bob', { user: user('bob') });
  await Promise.all([alice.start(), bob.start()]);

  const mine = await alice.call<Item>('save', { model: 'WorkOrder', fields: { siteID: siteId, title: 'Alice\'s job', status: 'OPEN', priority: 'NORMAL' } });
  const theirs = await bob.call<Item>('save', { model: 'WorkOrder', fields: { siteID: siteId, title: 'Bob\'s job', status: 'OPEN', priority: 'HIGH' } });
  await Promise.all([alice.synced(), bob.synced()]);
  expect(await db.sql`select owner from work_orders where id in ${db.sql([mine.id, theirs.id])} order by owner`).toEqual([{ owner: 'alice' }, { owner: 'bob' }]);

  await alice.call('stop');
  await alice.start();
  await new Promise((done) => setTimeout(done, 500)); // room for a subscription message that must not come
  expect((await alice.query('WorkOrder')).map((o) => o.id)).toEqual([mine.id]);
  expect((await bob.query('WorkOrder')).map((o) => o.id)).toEqual([theirs.id]);
});

test('a restarted technician\'s delta sync, by owner and selective sync, brings her new work and no one else\'s', async () => {
  // 1. alice syncs open work orders, then closes the app  2. the ERP assigns, by SQL, an open and a
  // completed order to her and 200 open ones to other technicians  3. she reopens it: a delta sync
  // (read through the journal's owner and status keys) brings her open order only.
  const siteId = await insertSite();
  const alice = await device('alice', { user: user('alice'), selective: { model: 'WorkOrder', field: 'status', eq: 'OPEN' } });
  await alice.start();
  await alice.call('stop');
  const [open, completed] = await db.sql<{ id: string }[]>`
    insert into work_orders (site_id, title, status, owner) values
      (${siteId}, 'alice open', 'OPEN', 'alice'), (${siteId}, 'alice done', 'COMPLETED', 'alice') returning id`;
  await db.sql`insert into work_orders (site_id, title, status, owner)
               select ${siteId}::uuid, 'job ' || n, 'OPEN', 'tech-' || (n % 20) from generate_series(1, 200) n`;
  const before = alice.requests('syncWorkOrders').length;

  await alice.start();
  await alice.until('WorkOrder', (items) => items.some((o) => o.id === open!.id));

  const resync = alice.requests('syncWorkOrders').slice(before);
  expect(resync.length).toBeGreaterThan(0);
  expect(resync.every((r) => typeof r.lastSync === 'number' && r.lastSync > 0)).toBe(true);
  expect(resync.reduce((n, r) => n + (r.items ?? 0), 0)).toBe(1);
  const local = await alice.query('WorkOrder');
  expect(local.map((o) => o.id)).not.toContain(completed!.id);
  expect(local.every((o) => o.owner === 'alice' && o.status === 'OPEN')).toBe(true);
});

test('a device that was offline pushes its queued edits on reconnect', async () => {
  const phone = await device('phone', { user: user('tech-1') });
  await phone.start();
  await phone.call('network', { online: false });

  const created = await phone.call<Item>('save', { model: 'Customer', fields: { name: 'Made offline' } });
  await phone.call('update', { model: 'Customer', id: created.id, fields: { phone: '+15550100199' } });
  expect(await db.sql`select id from customers where id = ${created.id}`).toEqual([]);

  await phone.call('network', { online: true });
  await phone.synced(40_000);

  expect(await db.sql`select name, phone, _version from customers where id = ${created.id}`).toEqual([{ name: 'Made offline', phone: '+15550100199', _version: 2 }]);
});
