// Per-device journal reads: a technician's delta sync reads their own changes through the journal's key
// index (versioning.index_journal on the owner), not every change of the window; a selective-sync
// filter's key narrows the read without changing the answer, whatever case its uuid is written in.
import { closeSharedConnection } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { dispatcher, syncAll, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
const techA = user('tech-a');

/**
 * Rows of the journal read by sequential scans, and scans of its owner key index, so far, summed over
 * their partitions, as the statistics collector has them. (Rows, not scans: a sequential scan of an empty
 * partition, such as the default, reads nothing.)
 */
async function journalScans(): Promise<{ seqRowsRead: number; keyScans: number; keyRowsRead: number }> {
  // The handler's own session flushes its statistics when it ends.
  await closeSharedConnection();
  await db.sql`select pg_stat_force_next_flush()`;
  const [row] = await db.sql<{ seq_rows_read: number; key_scans: number; key_rows_read: number }[]>`
    select (select sum(t.seq_tup_read) from pg_partition_tree(m.delta_table) p join pg_stat_user_tables t on t.relid = p.relid)::int as seq_rows_read,
           sum(i.idx_scan)::int as key_scans, sum(i.idx_tup_read)::int as key_rows_read
      from versioning.models m
      join pg_class k on k.relnamespace = 'versioning_delta'::regnamespace and k.relkind = 'I' and k.relname like '%\\_owner\\_key\\_idx'
                      and exists (select from pg_index x where x.indexrelid = k.oid and x.indrelid = m.delta_table)
      cross join pg_partition_tree(k.oid) p
      join pg_stat_user_indexes i on i.indexrelid = p.relid
     where m.base_table = 'work_orders'::regclass
     group by m.delta_table`;
  return { seqRowsRead: row!.seq_rows_read, keyScans: row!.key_scans, keyRowsRead: row!.key_rows_read };
}

test('a technician\'s delta sync reads only their own changes out of a journal of 300 others\'', async () => {
  const site = await createItem(models.Site, dispatcher);
  const { startedAt: lastSync } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, techA);
  await new Promise((done) => setTimeout(done, 5));
  // 3,000 changes of 300 other technicians and 5 of tech-a's, by the ERP, all in tech-a's next window.
  await db.sql`insert into work_orders (site_id, title, owner)
               select ${site.id as string}::uuid, 'job ' || n, case when n <= 5 then 'tech-a' else 'tech-' || (n % 300) end
                 from generate_series(1, 3005) n`;
  await db.sql`analyze versioning_delta.work_orders`;
  await new Promise((done) => setTimeout(done, 5));
  const before = await journalScans();

  const { items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, { lastSync }, techA);
  const after = await journalScans();

  expect(items.map((i) => i.title).sort()).toEqual(['job 1', 'job 2', 'job 3', 'job 4', 'job 5']);
  expect(after.seqRowsRead - before.seqRowsRead).toBe(0);
  expect(after.keyScans - before.keyScans).toBeGreaterThanOrEqual(1);
  expect(after.keyRowsRead - before.keyRowsRead).toBeLessThanOrEqual(10); // tech-a's 5, not 3,005
});

test('a selective sync on a uuid gets the same changes whether the filter writes it in capitals or not', async () => {
  const [siteA, siteB] = [await createItem(models.Site, dispatcher), await createItem(models.Site, dispatcher)];
  const { startedAt: lastSync } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {}, dispatcher);
  await new Promise((done) => setTimeout(done, 5));
  await db.sql`insert into work_orders (site_id, title) values (${siteA.id as string}, 'at A 1'), (${siteA.id as string}, 'at A 2'), (${siteB.id as string}, 'at B')`;
  await new Promise((done) => setTimeout(done, 5));

  const titles = async (siteID: string) => (await syncAll(handlers.WorkOrder!, models.WorkOrder, { lastSync, filter: { siteID: { eq: siteID } } }, dispatcher)).items.map((i) => i.title).sort();

  expect(await titles(siteA.id as string)).toEqual(['at A 1', 'at A 2']);
  expect(await titles((siteA.id as string).toUpperCase())).toEqual(['at A 1', 'at A 2']);
  expect(await titles(siteB.id as string)).toEqual(['at B']);
});
