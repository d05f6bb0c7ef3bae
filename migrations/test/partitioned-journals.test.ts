// Partitioned journals (migration 000012): delta tables and merge histories are range-partitioned by
// _last_changed_at, with partitions ahead and a default, and purge drops a partition whole once every row
// in it has expired. Time cannot be moved, so a test that needs partitions in the past attaches them
// itself, as the purge would have created them then, and writes journal rows with past stamps directly.
import type { Sql } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { createTestDatabase, useTestDatabase } from '@datastore-pg/testing';
import { dbNowMs, insertSite, insertWorkOrder } from './fixtures';

const db = useTestDatabase();

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface Partition { partition: string; lower: number | null; upper: number | null; isDefault: boolean }

async function partitionsOf(sql: Sql, journal: string): Promise<Partition[]> {
  return sql<Partition[]>`
    select p.partition::text, p.lower_bound::float8 as lower, p.upper_bound::float8 as upper, p.is_default as "isDefault"
      from versioning.journal_partitions(${journal}::regclass) p order by p.is_default, p.lower_bound nulls first`;
}

/** A versioned table of its own, so that a test's journal holds only what the test puts there. */
async function versionedTable(sql: Sql, name: string): Promise<void> {
  await sql.unsafe(`create table ${name} (id uuid primary key default gen_random_uuid(), name text)`);
  await sql`select versioning.enable(${name})`;
}

/** A range partition in the past, attached as the purge would have created it then. */
async function attachRange(sql: Sql, journal: string, suffix: string, lower: number, upper: number): Promise<void> {
  await sql.unsafe(`create table ${journal}_${suffix} (like ${journal})`);
  await sql.unsafe(`alter table ${journal} attach partition ${journal}_${suffix} for values from (${lower}) to (${upper})`);
}

/** A journal row written directly with the given stamp: a change made (as far as its stamp says) then. */
async function journalRow(sql: Sql, journal: string, id: string, stamp: number): Promise<string> {
  const [row] = await sql<{ partition: string }[]>`
    insert into ${sql(journal)} (id, _version, _deleted, _last_changed_at, item)
    values (${id}, 1, false, ${stamp}, ${sql.json({ id })}) returning tableoid::regclass::text as partition`;
  return row!.partition;
}

async function purge(sql: Sql): Promise<{ delta: number; partitions: number }> {
  const [row] = await sql<{ delta_rows_purged: string; partitions_dropped: string }[]>`call versioning.purge(1000, 1000)`;
  return { delta: Number(row!.delta_rows_purged), partitions: Number(row!.partitions_dropped) };
}

async function purgedThrough(sql: Sql, table: string): Promise<number> {
  const [row] = await sql<{ through: number }[]>`select delta_purged_through::float8 as through from versioning.models where base_table = ${table}::regclass`;
  return row!.through;
}

test('a table versioned now gets partitioned journals: ranges from the current period through the span ahead, and a default', async () => {
  await versionedTable(db.sql, 'fresh_probe');
  const now = await dbNowMs(db.sql);

  for (const [journal, width, ahead] of [['versioning_delta.fresh_probe', HOUR_MS, 6 * HOUR_MS], ['versioning_merge.fresh_probe', 7 * DAY_MS, 14 * DAY_MS]] as const) {
    const [kind] = await db.sql<{ relkind: string }[]>`select relkind from pg_class where oid = ${journal}::regclass`;
    expect(kind!.relkind).toBe('p');
    const all = await partitionsOf(db.sql, journal);
    const ranges = all.filter((p) => !p.isDefault);
    expect(all.filter((p) => p.isDefault)).toHaveLength(1);
    expect(ranges[0]!.lower).toBeLessThanOrEqual(now);
    expect(ranges.at(-1)!.upper).toBeGreaterThanOrEqual(now + ahead);
    expect(ranges.length).toBeLessThanOrEqual(ahead / width + 2);
    ranges.forEach((p, i) => {
      expect(p.upper! - p.lower!).toBe(width);
      if (i > 0) expect(p.lower).toBe(ranges[i - 1]!.upper); // contiguous
    });
  }
  // An index made by versioning.index_journal is on every partition, and so is the domain's owner key
  // on the work orders' journal (converted by the migration).
  await db.sql`select versioning.index_journal('fresh_probe', 'name')`;
  for (const [journal, index] of [['versioning_delta.fresh_probe', 'versioning_delta.fresh_probe_name_key_idx'], ['versioning_delta.work_orders', 'versioning_delta.work_orders_owner_key_idx']] as const) {
    const [keyed] = await db.sql<{ partitions: number; indexes: number }[]>`
      select (select count(*)::int from pg_partition_tree(${journal}::regclass) where isleaf) as partitions,
             (select count(*)::int from pg_partition_tree(${index}::regclass) where isleaf) as indexes`;
    expect(keyed!.indexes).toBe(keyed!.partitions);
  }
});

test('a row outside every range lands in the default, and no range is ever created over it', async () => {
  // 1. rows stamped 30 days ahead and in 1970 (a clock far off) go to the default  2. a row in the last
  // range ahead's period, after that range is gone, too  3. adding partitions leaves that period to the
  // default instead of failing.
  await versionedTable(db.sql, 'skew_probe');
  const journal = 'versioning_delta.skew_probe';
  const now = await dbNowMs(db.sql);
  expect(await journalRow(db.sql, journal, 'future', now + 30 * DAY_MS)).toBe('versioning_delta.skew_probe_default');
  expect(await journalRow(db.sql, journal, 'past', 1000)).toBe('versioning_delta.skew_probe_default');
  await db.sql`insert into skew_probe (name) values ('now')`;
  expect((await db.sql`select tableoid::regclass::text as p from versioning_delta.skew_probe where item ->> 'name' = 'now'`)[0]!.p).not.toMatch(/_default$/);

  const last = (await partitionsOf(db.sql, journal)).filter((p) => !p.isDefault).at(-1)!;
  await db.sql.unsafe(`drop table ${last.partition}`);
  expect(await journalRow(db.sql, journal, 'skewed', last.lower! + 1)).toBe('versioning_delta.skew_probe_default');

  const [added] = await db.sql<{ n: number }[]>`select versioning.add_journal_partitions(${journal}::regclass, '30 minutes') as n`;

  expect(added!.n).toBe(0);
  expect((await partitionsOf(db.sql, journal)).filter((p) => !p.isDefault).at(-1)!.upper).toBe(last.lower);
  expect(await db.sql`select id from versioning_delta.skew_probe_default order by id`).toEqual([{ id: 'future' }, { id: 'past' }, { id: 'skewed' }]);
});

test('after an outage longer than the ranges ahead, writes land in the default and the purge resumes the ranges above them', async () => {
  // 1. every range gone (the purge has not run for longer than the span ahead)  2. a write still lands
  // (in the default)  3. the purge adds ranges again, from the next period on: the current one has a
  // row in the default.
  await versionedTable(db.sql, 'outage_probe');
  const journal = 'versioning_delta.outage_probe';
  for (const p of (await partitionsOf(db.sql, journal)).filter((p) => !p.isDefault)) await db.sql.unsafe(`drop table ${p.partition}`);
  await db.sql`insert into outage_probe (name) values ('during the outage')`;
  expect(await db.sql`select tableoid::regclass::text as p from versioning_delta.outage_probe`).toEqual([{ p: 'versioning_delta.outage_probe_default' }]);
  const now = await dbNowMs(db.sql);

  await purge(db.sql);

  const ranges = (await partitionsOf(db.sql, journal)).filter((p) => !p.isDefault);
  expect(ranges[0]!.lower).toBe(now - (now % HOUR_MS) + HOUR_MS);
  expect(ranges.at(-1)!.upper).toBeGreaterThanOrEqual(now + 6 * HOUR_MS);
  expect(await db.sql`select tableoid::regclass::text as p from versioning_delta.outage_probe`).toEqual([{ p: 'versioning_delta.outage_probe_default' }]);
});

test('purge drops each partition whose every row has expired, deletes the expired rows of the one straddling the cutoff and of the default, and records the newest change it removed', async () => {
  // 1. partitions [now-6h, now-4h) and [now-4h, now-2h), rows in both and one in the default below
  // every range  2. a 3-hour TTL: the cutoff (now-3h) lies in the second  3. purge: the first is dropped
  // whole, the second keeps its rows newer than the cutoff, the default row goes; delta_purged_through is
  // the newest row removed, from the straddling partition.
  await versionedTable(db.sql, 'purge_probe');
  const journal = 'versioning_delta.purge_probe';
  const now = await dbNowMs(db.sql);
  await attachRange(db.sql, journal, 'old', now - 6 * HOUR_MS, now - 4 * HOUR_MS);
  await attachRange(db.sql, journal, 'straddling', now - 4 * HOUR_MS, now - 2 * HOUR_MS);
  expect(await journalRow(db.sql, journal, 'a1', now - 5 * HOUR_MS)).toBe(`${journal}_old`);
  expect(await journalRow(db.sql, journal, 'a2', now - 4.5 * HOUR_MS)).toBe(`${journal}_old`);
  expect(await journalRow(db.sql, journal, 'b', now - 3.5 * HOUR_MS)).toBe(`${journal}_straddling`);
  expect(await journalRow(db.sql, journal, 'c', now - 2.5 * HOUR_MS)).toBe(`${journal}_straddling`);
  expect(await journalRow(db.sql, journal, 'd', now - 10 * HOUR_MS)).toBe(`${journal}_default`);
  await db.sql`insert into purge_probe (name) values ('live')`;
  await db.sql`update versioning.models set delta_sync_table_ttl = '3 hours' where base_table = 'purge_probe'::regclass`;

  const purged = await purge(db.sql);

  expect(purged).toEqual({ delta: 4, partitions: 1 });
  expect((await partitionsOf(db.sql, journal)).map((p) => p.partition)).not.toContain(`${journal}_old`);
  expect(await db.sql`select to_regclass(${`${journal}_old`}) as t`).toEqual([{ t: null }]); // dropped, not only detached
  expect(await db.sql`select id from versioning_delta.purge_probe where id in ('a1', 'a2', 'b', 'c', 'd') order by id`).toEqual([{ id: 'c' }]);
  expect(await db.sql`select count(*)::int as n from versioning_delta.purge_probe where item ->> 'name' = 'live'`).toEqual([{ n: 1 }]);
  expect(await purgedThrough(db.sql, 'purge_probe')).toBe(now - 3.5 * HOUR_MS);

  // The straddling partition goes once the cutoff passes its upper bound: with a 1-hour TTL.
  await db.sql`update versioning.models set delta_sync_table_ttl = '1 hour' where base_table = 'purge_probe'::regclass`;
  expect(await purge(db.sql)).toEqual({ delta: 1, partitions: 1 });
  expect(await purgedThrough(db.sql, 'purge_probe')).toBe(now - 2.5 * HOUR_MS);
  expect(await db.sql`select count(*)::int as n from versioning_delta.purge_probe`).toEqual([{ n: 1 }]);
});

test('a partition whose lock is not granted in time waits for the next run; meanwhile its rows go row by row', async () => {
  // 1. an expired partition with three rows  2. a reader holds the journal in an open transaction
  // 3. purge gives up the DETACH after the lock timeout instead of queueing (and making every writer
  // queue behind it), and deletes the rows one by one  4. reader gone: the next run drops the partition.
  await versionedTable(db.sql, 'busy_probe');
  const journal = 'versioning_delta.busy_probe';
  const now = await dbNowMs(db.sql);
  await attachRange(db.sql, journal, 'old', now - 6 * HOUR_MS, now - 4 * HOUR_MS);
  for (const id of ['x', 'y', 'z']) await journalRow(db.sql, journal, id, now - 5 * HOUR_MS);
  await db.sql`update versioning.models set delta_sync_table_ttl = '3 hours' where base_table = 'busy_probe'::regclass`;
  const reader = db.connect(1);
  let release!: () => void;
  const released = new Promise<void>((done) => (release = done));
  const reading = reader.begin(async (tx) => {
    await tx`select count(*) from versioning_delta.busy_probe`;
    await released;
  });
  try {
    await new Promise((done) => setTimeout(done, 50));
    const started = Date.now();
    const first = await purge(db.sql);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(first).toEqual({ delta: 3, partitions: 0 });
    expect((await partitionsOf(db.sql, journal)).map((p) => p.partition)).toContain(`${journal}_old`);
    expect(await purgedThrough(db.sql, 'busy_probe')).toBe(now - 5 * HOUR_MS);
  } finally {
    release();
    await reading;
  }

  expect(await purge(db.sql)).toEqual({ delta: 0, partitions: 1 });
  expect((await partitionsOf(db.sql, journal)).map((p) => p.partition)).not.toContain(`${journal}_old`);
});

test('purge drops expired merge-history partitions too', async () => {
  await versionedTable(db.sql, 'merge_probe');
  const journal = 'versioning_merge.merge_probe';
  const now = await dbNowMs(db.sql);
  await attachRange(db.sql, journal, 'old', now - 60 * DAY_MS, now - 45 * DAY_MS);
  await db.sql`insert into versioning_merge.merge_probe (id, _version, _last_changed_at, changed)
               select 'm' || g, 2, ${now - 50 * DAY_MS}, '{}' from generate_series(1, 5) g`;

  const [row] = await db.sql<{ merge_rows_purged: string; partitions_dropped: string }[]>`call versioning.purge(1000, 1000)`;

  expect({ merge: Number(row!.merge_rows_purged), partitions: Number(row!.partitions_dropped) }).toEqual({ merge: 5, partitions: 1 });
  expect(await db.sql`select to_regclass(${`${journal}_old`}) as t`).toEqual([{ t: null }]);
});

describe('upgrading a database in use', () => {
  let upgraded: Awaited<ReturnType<typeof createTestDatabase>>;
  afterAll(() => upgraded?.drop());

  test('every journal becomes partitioned and keeps every row; the next purge drops an expired backlog whole', async () => {
    // 1. a database at 000011 with rows, updates, deletes and work orders of owners: full journals. The
    // customers' journal mostly expired (a purge that never ran), its merge history partly  2. 000012
    // 3. every row of every journal is still there, in partitioned journals, and the owner key index on
    // every partition  4. writes go on, numbered after the old journal's rows  5. the next purge drops
    // the customers' expired journal rows whole and deletes the expired history rows.
    upgraded = await createTestDatabase({ empty: true });
    const sql = upgraded.sql;
    await migrate(sql, migrations.filter((m) => m.name < '000012'));
    const siteId = await insertSite(sql);
    for (let i = 0; i < 20; i++) await insertWorkOrder(sql, siteId, `order ${i}`);
    await sql`update work_orders set owner = 'tech-' || (random() * 3)::int`;
    await sql`insert into customers (name) select 'Customer ' || g from generate_series(1, 300) g`;
    await sql`update customers set name = name || '!' where name like 'Customer 1%'`;
    await sql`update customers set name = name || '?' where name like 'Customer 1%'`;
    await sql`delete from customers where name like 'Customer 2%'`;
    const now = await dbNowMs(sql);
    await sql`update versioning_delta.customers set _last_changed_at = _last_changed_at - ${2 * DAY_MS} where seq % 10 <> 0`;
    await sql`update versioning_merge.customers set _last_changed_at = _last_changed_at - ${40 * DAY_MS} where _version = 3`;
    const snapshot = () => sql.begin(async (tx) => {
      const journals = await tx<{ base: string; delta: string; merge: string }[]>`
        select m.base_table::text as base, m.delta_table::text as delta, versioning.merge_table(m.base_table)::text as merge from versioning.models m order by 1`;
      const rows: Record<string, unknown[]> = {};
      for (const j of journals) {
        rows[j.delta] = await tx.unsafe(`select seq::text, id, _version::int, _deleted, _last_changed_at::text, item from ${j.delta} order by seq`);
        rows[j.merge] = await tx.unsafe(`select id, _version::int, _last_changed_at::text, changed, writer, base_version::int, sent from ${j.merge} order by id, _version`);
      }
      return rows;
    });
    const before = await snapshot();
    expect(before['versioning_delta.customers']!.length).toBeGreaterThan(400);
    expect(before['versioning_merge.customers']!.length).toBeGreaterThan(100);
    const [{ maxSeq }] = (await sql`select max(seq)::int as "maxSeq" from versioning_delta.customers`) as unknown as [{ maxSeq: number }];

    await migrate(sql, migrations);

    expect(await snapshot()).toEqual(before);
    expect(await sql`
      select c.oid::regclass::text as journal from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('versioning_delta', 'versioning_merge') and not c.relispartition and c.relkind <> 'p' and c.relkind in ('r', 'p')`).toEqual([]);
    const [keyed] = await sql<{ partitions: number; indexes: number }[]>`
      select (select count(*)::int from pg_partition_tree('versioning_delta.work_orders') where isleaf) as partitions,
             (select count(*)::int from pg_partition_tree('versioning_delta.work_orders_owner_key_idx') where isleaf) as indexes`;
    expect(keyed!.indexes).toBe(keyed!.partitions);
    // The customers' journal was mostly expired: its old table holds only expired rows now. The work
    // orders' was not: its old table keeps every row and takes this period's writes.
    const legacy = async (journal: string) => (await partitionsOf(sql, journal)).find((p) => p.partition.endsWith('_legacy'))!;
    expect((await legacy('versioning_delta.customers')).upper).toBeLessThanOrEqual(now - 30 * 60_000);
    expect((await legacy('versioning_delta.work_orders')).upper).toBeGreaterThan(now);

    const [customer] = await sql<{ id: string }[]>`insert into customers (name) values ('After the upgrade') returning id`;
    const [written] = await sql<{ seq: number }[]>`select seq::int from versioning_delta.customers where id = ${customer!.id}::text`;
    expect(written!.seq).toBeGreaterThan(maxSeq);

    const [purged] = await sql<{ delta_rows_purged: string; merge_rows_purged: string; partitions_dropped: string }[]>`call versioning.purge(1000, 1000)`;
    const expiredDelta = before['versioning_delta.customers']!.filter((r) => Number((r as { _last_changed_at: string })._last_changed_at) < now - DAY_MS).length;
    const expiredMerge = before['versioning_merge.customers']!.filter((r) => (r as { _version: number })._version === 3).length;
    expect(Number(purged!.partitions_dropped)).toBe(1);
    expect(Number(purged!.delta_rows_purged)).toBe(expiredDelta);
    expect(Number(purged!.merge_rows_purged)).toBe(expiredMerge);
    expect(await sql`select count(*)::int as n from versioning_delta.customers`).toEqual([{ n: before['versioning_delta.customers']!.length - expiredDelta + 1 }]);
  });
});
