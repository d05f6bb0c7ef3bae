// Live changes from every writer, proven with the real aws-amplify v6 DataStore client: what plain SQL
// commits (an ERP, psql, a batch job) reaches a device that is online, through its subscriptions alone
// (no sync query after its first), as on `npm run dev`: the local endpoint runs the same forwarder as
// the stack's Lambda and fans its publish mutations out through the same subscription filters.
import { randomUUID } from 'node:crypto';
import type { Device, Item } from './devices';
import { useLocalApi } from './local-api';

jest.setTimeout(90_000);

const api = useLocalApi('live');
const { db } = api;

async function device(username: string, groups: string[] = []): Promise<Device> {
  const d = await api.device(username, { user: api.user(username, groups) });
  await d.start();
  return d;
}

/** Every sync query the device sent (DataStore's first sync, and any re-sync after a reconnect). */
const syncQueries = (d: Device) => d.events.filter((e) => e.event === 'request' && String(e.operation).startsWith('sync')).length;

async function insertCustomer(): Promise<string> {
  const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values (${`Customer ${randomUUID()}`}) returning id`;
  return customer!.id;
}

const has = (d: Device, model: string, check: (items: Item[]) => boolean) => d.until(model, (items) => check(items) && items);

test('an SQL insert, update and hard delete each reach an online device, without a sync query', async () => {
  // 1. the back office's device is online, its first sync done  2. the ERP inserts a site by SQL: it
  // appears  3. updates it by SQL: the device has the new name  4. deletes it by SQL (a hard DELETE, which
  // the journal turns into a tombstone): it is gone  5. the device sent no sync query after its first.
  const office = await device('office', ['Dispatchers']);
  const syncsAtStart = syncQueries(office);
  const customerId = await insertCustomer();

  const [site] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customerId}, 'North depot') returning id`;
  await has(office, 'Site', (sites) => sites.some((s) => s.id === site!.id && s.name === 'North depot'));

  await db.sql`update sites set name = 'North depot (closed Sundays)' where id = ${site!.id}`;
  await has(office, 'Site', (sites) => sites.some((s) => s.id === site!.id && s.name === 'North depot (closed Sundays)' && s._version === 2));

  await db.sql`delete from sites where id = ${site!.id}`;
  await has(office, 'Site', (sites) => !sites.some((s) => s.id === site!.id));

  expect(await office.until('Customer', (customers) => customers.find((c) => c.id === customerId))).toBeTruthy();
  expect(syncQueries(office)).toBe(syncsAtStart);
});

test('owner isolation holds for forwarded items: a technician receives only their own work orders', async () => {
  // 1. two technicians and a dispatcher online  2. the ERP assigns one work order to each by SQL  3. each
  // technician receives exactly their own; the dispatcher both  4. the ERP cancels tech-a's by a hard
  // DELETE: tech-a's copy goes, tech-b never heard of it.
  const [techA, techB, dispatch] = await Promise.all([device('tech-a'), device('tech-b'), device('dispatch', ['Dispatchers'])]);
  const [site] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${await insertCustomer()}, 'Pump station') returning id`;
  const [forA] = await db.sql<{ id: string }[]>`insert into work_orders (site_id, title, owner) values (${site!.id}, 'Replace seal', 'tech-a') returning id`;
  const [forB] = await db.sql<{ id: string }[]>`insert into work_orders (site_id, title, owner) values (${site!.id}, 'Check valve', 'tech-b') returning id`;

  await has(dispatch, 'WorkOrder', (orders) => [forA!.id, forB!.id].every((id) => orders.some((o) => o.id === id)));
  await has(techA, 'WorkOrder', (orders) => orders.some((o) => o.id === forA!.id));
  await has(techB, 'WorkOrder', (orders) => orders.some((o) => o.id === forB!.id));
  await db.sql`delete from work_orders where id = ${forA!.id}`;
  await has(techA, 'WorkOrder', (orders) => !orders.some((o) => o.id === forA!.id));
  await has(dispatch, 'WorkOrder', (orders) => !orders.some((o) => o.id === forA!.id));

  expect((await techA.query('WorkOrder')).map((o) => o.id)).not.toContain(forB!.id);
  expect((await techB.query('WorkOrder')).map((o) => o.id)).not.toContain(forA!.id);
});

test('the forwarder killed mid-stream, again and again, misses nothing', async () => {
  // 1. a device online  2. the ERP inserts 40 sites one by one while the forwarder's database sessions are
  // killed four times (it restarts from its stored position)  3. the device ends with all 40, no sync query.
  const office = await device('office', ['Dispatchers']);
  const syncsAtStart = syncQueries(office);
  const customerId = await insertCustomer();
  const names = Array.from({ length: 40 }, (_, i) => `Stream ${randomUUID()} #${i}`);
  let kills = 0;
  for (const [i, name] of names.entries()) {
    await db.sql`insert into sites (customer_id, name) values (${customerId}, ${name})`;
    if (i % 10 === 5) kills += await killForwarder();
    await new Promise((done) => setTimeout(done, 20));
  }

  await has(office, 'Site', (sites) => names.every((name) => sites.some((s) => s.name === name)));
  expect(kills).toBe(4);
  expect(syncQueries(office)).toBe(syncsAtStart);
});

/**
 * Terminates the forwarder's sessions (its lock's, its passes'), once it has some again: those between
 * statements, as a crash or a dropped network finds them. (One killed while it is still starting up makes
 * postgres.js reject an internal promise nobody holds: a driver quirk, not what this test is about.)
 */
async function killForwarder(): Promise<number> {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const killed = await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
                                 where application_name = 'datastore-pg forwarder' and datname = current_database() and state = 'idle'`;
    if (killed.length > 0) return 1;
    await new Promise((done) => setTimeout(done, 50));
  }
  throw new Error('the forwarder never connected again');
}

test('a long-open transaction delays what commits after it began, and loses nothing', async () => {
  // 1. a device online  2. a transaction renames a site and stays open  3. meanwhile another writer
  // inserts a site and commits: the watermark stays below the open transaction, so the device gets
  // neither yet (publishing the insert now would move the forwarder past the rename)  4. the transaction
  // commits: the device gets both.
  const office = await device('office', ['Dispatchers']);
  const customerId = await insertCustomer();
  const [slow] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customerId}, 'Slow') returning id`;
  await has(office, 'Site', (sites) => sites.some((s) => s.id === slow!.id));
  const open = await db.sql.reserve();
  try {
    await open`begin`;
    await open`update sites set name = 'Slow (renamed in a long transaction)' where id = ${slow!.id}`;
    const [quick] = await db.sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customerId}, 'Quick') returning id`;
    await new Promise((done) => setTimeout(done, 2000)); // some 20 forwarder passes
    const meanwhile = await office.query('Site');
    expect(meanwhile.find((s) => s.id === slow!.id)?.name).toBe('Slow');
    expect(meanwhile.map((s) => s.id)).not.toContain(quick!.id);

    await open`commit`;

    await has(office, 'Site', (sites) => sites.some((s) => s.id === quick!.id)
      && sites.some((s) => s.id === slow!.id && s.name === 'Slow (renamed in a long transaction)'));
  } finally {
    open.release();
  }
});
