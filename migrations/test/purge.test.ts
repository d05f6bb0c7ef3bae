import type { Sql } from '@datastore-pg/db';
import { useTestDatabase } from '@datastore-pg/testing';
import { insertSite, insertWorkOrder, sleep } from './fixtures';

const db = useTestDatabase();

// A TTL this short expires between two statements, so tests never wait for real TTLs.
const EXPIRED = '1 millisecond';

async function count(sql: Sql, table: string, where = sql`true`): Promise<number> {
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)} where ${where}`;
  return row!.n;
}

async function setTtls(sql: Sql, table: string, ttls: { base?: string; delta?: string }): Promise<void> {
  await sql`
    update versioning.models
       set base_table_ttl = coalesce(${ttls.base ?? null}::interval, base_table_ttl),
           delta_sync_table_ttl = coalesce(${ttls.delta ?? null}::interval, delta_sync_table_ttl)
     where base_table = ${table}::regclass`;
}

async function callPurge(sql: Sql, batchSize: number, maxBatches: number): Promise<{ tombstones: number; delta: number }> {
  const [row] = await sql<{ tombstones_purged: string; delta_rows_purged: string }[]>`
    call versioning.purge(${batchSize}, ${maxBatches})`;
  return { tombstones: Number(row!.tombstones_purged), delta: Number(row!.delta_rows_purged) };
}

afterEach(async () => {
  await db.sql`update versioning.models set base_table_ttl = '30 days', delta_sync_table_ttl = '30 minutes'`;
});

test('removes expired tombstones and keeps live rows and unexpired tombstones', async () => {
  // 1. ten work orders  2. four deleted with a TTL that has expired, two with the default 30 days
  // 3. purge: only the four go.
  const siteId = await insertSite(db.sql);
  const ids = [];
  for (let i = 0; i < 10; i++) ids.push(await insertWorkOrder(db.sql, siteId, `order ${i}`));
  await setTtls(db.sql, 'work_orders', { base: EXPIRED });
  await db.sql`delete from work_orders where id in ${db.sql(ids.slice(0, 4))}`;
  await setTtls(db.sql, 'work_orders', { base: '30 days' });
  await db.sql`delete from work_orders where id in ${db.sql(ids.slice(4, 6))}`;
  await sleep(5);

  const purged = await db.sql<{ n: number }[]>`select versioning.purge_tombstones('work_orders', 100) as n`;

  expect(purged[0]!.n).toBe(4);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids)}`)).toBe(6);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids.slice(0, 4))}`)).toBe(0);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids)} and _deleted`)).toBe(2);
});

test('deletes at most one batch per call', async () => {
  const siteId = await insertSite(db.sql);
  await setTtls(db.sql, 'work_orders', { base: EXPIRED, delta: EXPIRED });
  const ids = [];
  for (let i = 0; i < 10; i++) ids.push(await insertWorkOrder(db.sql, siteId));
  await db.sql`delete from work_orders where id in ${db.sql(ids)}`;
  await sleep(5);
  const deltaRows = await count(db.sql, 'versioning_delta.work_orders');
  expect(deltaRows).toBeGreaterThanOrEqual(20);

  const [tombstones] = await db.sql<{ n: number }[]>`select versioning.purge_tombstones('work_orders', 3) as n`;
  const [delta] = await db.sql<{ n: number }[]>`select versioning.purge_delta('work_orders', 5) as n`;

  expect(tombstones!.n).toBe(3);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids)}`)).toBe(7);
  expect(delta!.n).toBe(5);
  expect(await count(db.sql, 'versioning_delta.work_orders')).toBe(deltaRows - 5);
});

test('the purge procedure commits batch by batch and stops at max_batches', async () => {
  // 1. purge what earlier tests left  2. seven expired tombstones  3. batches of two, at most three
  // batches: six go  4. the next run takes the last one.
  await callPurge(db.sql, 1000, 1000);
  const siteId = await insertSite(db.sql);
  await setTtls(db.sql, 'work_orders', { base: EXPIRED });
  const ids = [];
  for (let i = 0; i < 7; i++) ids.push(await insertWorkOrder(db.sql, siteId));
  await db.sql`delete from work_orders where id in ${db.sql(ids)}`;
  await sleep(5);

  const first = await callPurge(db.sql, 2, 3);
  expect(first.tombstones).toBe(6);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids)}`)).toBe(1);

  const second = await callPurge(db.sql, 2, 3);
  expect(second.tombstones).toBe(1);
  expect(await count(db.sql, 'work_orders', db.sql`id in ${db.sql(ids)}`)).toBe(0);
});

test('a journal row goes once its change is older than the DeltaSyncTableTTL in force now', async () => {
  // 1. two changes, the first made (as far as its stamp says) an hour ago  2. purge with a 30-minute
  // TTL: only the first goes, and the table records the newest change purge removed (what a sync does
  // with that after a TTL is raised: packages/versioning/test/delta-expiry.test.ts).
  const siteId = await insertSite(db.sql);
  const old = await insertWorkOrder(db.sql, siteId);
  const recent = await insertWorkOrder(db.sql, siteId);
  const stamp = (await db.sql<{ stamp: number }[]>`
    update versioning_delta.work_orders set _last_changed_at = _last_changed_at - 3600000 where id = ${old}
    returning _last_changed_at::float8 as stamp`)[0]!.stamp;

  await callPurge(db.sql, 1000, 1000);

  expect(await count(db.sql, 'versioning_delta.work_orders', db.sql`id = ${old}`)).toBe(0);
  expect(await count(db.sql, 'versioning_delta.work_orders', db.sql`id = ${recent}`)).toBe(1);
  expect(await count(db.sql, 'work_orders', db.sql`id = ${old}`)).toBe(1); // the row itself is live
  const through = (await db.sql<{ through: number }[]>`
    select delta_purged_through::float8 as through from versioning.models where base_table = 'work_orders'::regclass`)[0]!.through;
  const recentStamp = (await db.sql<{ recentStamp: number }[]>`
    select _last_changed_at::float8 as "recentStamp" from versioning_delta.work_orders where id = ${recent}`)[0]!.recentStamp;
  expect(through).toBeGreaterThanOrEqual(stamp);
  expect(through).toBeLessThan(recentStamp);
});

test('moving delta_purged_through does not regenerate the table\'s trigger functions', async () => {
  const before = await db.sql`select p.oid, p.xmin::text from pg_proc p where p.proname = 'work_orders_journal'`;
  await db.sql`update versioning.models set delta_purged_through = delta_purged_through + 1 where base_table = 'work_orders'::regclass`;
  expect(await db.sql`select p.oid, p.xmin::text from pg_proc p where p.proname = 'work_orders_journal'`).toEqual(before);
});

test('a tombstone still referenced by a row is skipped, not allowed to stall the purge', async () => {
  // 1. a site with a live work order, and a second site with none  2. both sites deleted, expired
  // 3. purge: the referenced site stays a tombstone, the other goes  4. the work order is deleted
  // and purged too  5. now the first site goes.
  const siteId = await insertSite(db.sql);
  const orphanSiteId = await insertSite(db.sql);
  const workOrderId = await insertWorkOrder(db.sql, siteId);
  await setTtls(db.sql, 'sites', { base: EXPIRED });
  await db.sql`delete from sites where id in ${db.sql([siteId, orphanSiteId])}`;
  await sleep(5);

  await callPurge(db.sql, 1, 1000);

  expect(await count(db.sql, 'sites', db.sql`id = ${siteId} and _deleted`)).toBe(1);
  expect(await count(db.sql, 'sites', db.sql`id = ${orphanSiteId}`)).toBe(0);

  await setTtls(db.sql, 'work_orders', { base: EXPIRED });
  await db.sql`delete from work_orders where id = ${workOrderId}`;
  await sleep(5);
  await callPurge(db.sql, 1000, 1000); // sites sort before work_orders: the site goes on the next run
  await callPurge(db.sql, 1000, 1000);

  expect(await count(db.sql, 'work_orders', db.sql`id = ${workOrderId}`)).toBe(0);
  expect(await count(db.sql, 'sites', db.sql`id = ${siteId}`)).toBe(0);
});

test('refuses nonsensical batch sizes', async () => {
  await expect(callPurge(db.sql, 0, 1)).rejects.toMatchObject({ code: '22023' });
  await expect(callPurge(db.sql, 1, -1)).rejects.toMatchObject({ code: '22023' });
});

test('removes merge history older than the merge horizon (by default the BaseTableTTL), and conflict-log entries older than their TTL', async () => {
  // 1. a work order inserted and updated by SQL: one history row (an insert outside the API records
  // none)  2. a horizon that has passed: purge takes it
  // 3. a logged conflict older than conflict_log_ttl goes, a recent one stays.
  const siteId = await insertSite(db.sql);
  const id = await insertWorkOrder(db.sql, siteId);
  await db.sql`update work_orders set notes = 'checked' where id = ${id}`;
  const history = () => count(db.sql, 'versioning_merge.work_orders', db.sql`id = ${id}`);
  expect(await history()).toBe(1);
  await callPurge(db.sql, 100, 10);
  expect(await history()).toBe(1); // within 30 days
  await db.sql`update versioning.models set merge_horizon = ${EXPIRED} where base_table = 'work_orders'::regclass`;
  await sleep(5);
  try {
    const [row] = await db.sql<{ merge_rows_purged: string }[]>`call versioning.purge(100, 10)`;
    expect(Number(row!.merge_rows_purged)).toBeGreaterThanOrEqual(1);
    expect(await history()).toBe(0);
  } finally {
    await db.sql`update versioning.models set merge_horizon = null`;
  }

  const logged = await db.sql<{ id: string }[]>`
    insert into versioning.conflicts (logged_at, base_table, item_id, field, column_name, reason, kept, base_version, server_version)
    values (now() - interval '91 days', 'work_orders', ${id}, 'notes', 'notes', 'conflict', 'incoming', 1, 2),
           (now(), 'work_orders', ${id}, 'notes', 'notes', 'conflict', 'incoming', 1, 2) returning id`;
  const [purged] = await db.sql<{ conflicts_purged: string }[]>`call versioning.purge(100, 10)`;
  expect(Number(purged!.conflicts_purged)).toBe(1);
  expect(await db.sql`select id from versioning.conflicts where item_id = ${id}`).toEqual([{ id: logged[1]!.id }]);
});
