// A delta sync reads the journal only when the journal still holds every change of its window. Purge
// removes journal rows by the DeltaSyncTableTTL in force when it runs; a TTL raised later must not make
// a sync trust a journal that an earlier, shorter TTL already thinned out.
import { models } from '@datastore-pg/schema/models';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver } from '../src';

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const HOUR_MS = 3_600_000;

async function syncCustomers(lastSync: number, page: { limit?: number; nextToken?: string | null } = {}) {
  const resolve = modelResolver(models.Customer, {}, { connection: () => db.sql });
  const { data } = await resolve({ arguments: { lastSync, limit: page.limit ?? 1000, nextToken: page.nextToken ?? null }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } });
  return data as { items: { id: string; name: string }[]; startedAt: number; nextToken: string | null };
}

const setDeltaTtl = (ttl: string) => db.sql`update versioning.models set delta_sync_table_ttl = ${ttl}::interval where base_table = 'customers'::regclass`;

afterEach(() => setDeltaTtl('30 minutes'));

test('after a TTL is raised, a sync from before the last purge reads the base table and misses nothing', async () => {
  // 1. a device syncs  2. a customer is added  3. a 1 ms TTL lets purge remove that change from the
  // journal  4. the TTL goes back to 30 minutes  5. the device syncs from its lastSync (a minute ago
  // at most: "within half the TTL") and must still get the customer.
  const { startedAt: lastSync } = await syncCustomers(0);
  await sleep(5);
  const [added] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Added while offline') returning id`;
  await setDeltaTtl('1 millisecond');
  await sleep(5);
  const [purge] = await db.sql<{ n: number }[]>`select versioning.purge_delta('customers', 1000) as n`;
  expect(purge!.n).toBeGreaterThan(0);
  expect(await db.sql`select from versioning_delta.customers where id = ${added!.id}::text`).toHaveLength(0);
  await setDeltaTtl('30 minutes');
  await sleep(5);

  const { items } = await syncCustomers(lastSync);

  expect(items.map((item) => item.id)).toContain(added!.id);
});

test('a sync from after the last purge still reads the journal, and sees a change made since', async () => {
  await setDeltaTtl('1 millisecond');
  await db.sql`insert into customers (name) values ('Purged soon')`;
  await sleep(5);
  await db.sql`select versioning.purge_delta('customers', 1000)`;
  await setDeltaTtl('30 minutes');
  const through = (await db.sql<{ through: number }[]>`
    select delta_purged_through::float8 as through from versioning.models where base_table = 'customers'::regclass`)[0]!.through;
  await sleep(5);
  const { startedAt: lastSync } = await syncCustomers(0);
  expect(lastSync).toBeGreaterThan(through);
  await sleep(5);
  const [changed] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Changed later') returning id`;
  // A journal-only marker: the base row is renamed without a journal entry (triggers off for this one
  // statement), so only a sync that reads the journal returns the name 'Changed later'.
  await db.sql.begin(async (tx) => {
    await tx`alter table customers disable trigger user`;
    await tx`update customers set name = 'Base table' where id = ${changed!.id}`;
    await tx`alter table customers enable trigger user`;
  });
  await sleep(5);

  const { items } = await syncCustomers(lastSync);

  expect(items.find((item) => item.id === changed!.id)?.name).toBe('Changed later');
});

test('a journal partition purge drops whole counts as purged: after a TTL is raised, a sync from before its newest change reads the base table', async () => {
  // 1. nothing purged so far  2. a customer added, its journal row (as far as its stamp says) 5 hours
  // old, in a partition of [now-6h, now-4h)  3. a 3-hour TTL: purge drops that partition whole  4. the
  // TTL raised to a day: a device whose lastSync is 5.5 hours old is "within half the TTL", and would read
  // the journal, which no longer has the change, had purge not recorded the change it dropped; it reads
  // the base table and gets the customer.
  await db.sql`update versioning.models set delta_purged_through = 0 where base_table = 'customers'::regclass`;
  const [{ now }] = (await db.sql`select versioning.now_ms()::float8 as now`) as unknown as [{ now: number }];
  await db.sql.unsafe(`create table versioning_delta.customers_past (like versioning_delta.customers)`);
  await db.sql.unsafe(`alter table versioning_delta.customers attach partition versioning_delta.customers_past for values from (${now - 6 * HOUR_MS}) to (${now - 4 * HOUR_MS})`);
  const [added] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Journaled long ago') returning id`;
  await db.sql`update versioning_delta.customers set _last_changed_at = ${now - 5 * HOUR_MS} where id = ${added!.id}::text`;
  await setDeltaTtl('3 hours');
  const [purged] = await db.sql<{ partitions_dropped: string }[]>`call versioning.purge()`;
  expect(Number(purged!.partitions_dropped)).toBe(1);
  expect(await db.sql`select from versioning_delta.customers where id = ${added!.id}::text`).toHaveLength(0);
  await setDeltaTtl('1 day');

  const { items } = await syncCustomers(now - 5.5 * HOUR_MS);

  expect(items.map((item) => item.id)).toContain(added!.id);
});

test('a delta sync still paging when purge may reach its changes must start over', async () => {
  // 1. a device's lastSync, then two changes  2. page one of a delta sync (one item)  3. the device
  // waits past the TTL  4. page two is refused (InvalidNextToken)  5. a new sync from the same lastSync
  // gets both changes (from the base table).
  await setDeltaTtl('400 milliseconds');
  const { startedAt: lastSync } = await syncCustomers(0);
  await sleep(5);
  await db.sql`insert into customers (name) values ('Slow 1'), ('Slow 2')`;
  await sleep(5);
  const first = await syncCustomers(lastSync, { limit: 1 });
  expect(first.nextToken).not.toBeNull();
  await sleep(450);

  await expect(syncCustomers(lastSync, { limit: 1, nextToken: first.nextToken })).rejects.toMatchObject({ code: 'InvalidNextToken' });

  const again = await syncCustomers(lastSync);
  expect(again.items.map((item) => item.name)).toEqual(expect.arrayContaining(['Slow 1', 'Slow 2']));
});
