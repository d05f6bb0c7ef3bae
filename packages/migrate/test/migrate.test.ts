import { migrate, MigrationError, migrations, toMigrations, type Migration } from '@datastore-pg/migrate';
import { createTestDatabase, type TestDatabase } from '@datastore-pg/testing';
import type { Sql } from '@datastore-pg/db';

// Each test gets an empty database: these tests are about getting from nothing to migrated.
let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase({ empty: true });
});
afterEach(async () => {
  await db.drop();
});

async function journal(sql: Sql): Promise<{ id: number; name: string; checksum: string }[]> {
  return sql`select id, name, checksum from datastore_pg.migrations order by id`;
}

async function tableExists(sql: Sql, name: string): Promise<boolean> {
  const [row] = await sql<{ exists: boolean }[]>`select to_regclass(${name}) is not null as exists`;
  return row!.exists;
}

/** A fingerprint of every object in the database's own schemas: equal fingerprints, unchanged schema. */
async function schemaFingerprint(sql: Sql): Promise<string> {
  const [row]: [{ fingerprint: string }?] = await sql`
    select md5(string_agg(object, ',' order by object)) as fingerprint from (
      select n.nspname || '.' || c.relname || ':' || c.relkind::text as object
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')
      union all
      select tgrelid::regclass::text || '.' || tgname from pg_trigger where not tgisinternal
      union all
      select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname not in ('pg_catalog', 'information_schema')
    ) objects`;
  return row!.fingerprint;
}

test('a fresh install applies every migration in order, records it and says so', async () => {
  const lines: string[] = [];
  const result = await migrate(db.sql, migrations, { log: (line) => lines.push(line) });

  const names = migrations.map((m) => m.name);
  expect(names[0]).toBe('000001_versioning.sql');
  expect(result.applied).toEqual(names);
  expect(await journal(db.sql)).toEqual(migrations.map(({ id, name, checksum }) => ({ id, name, checksum })));
  // A no-transaction migration also logs a line per statement.
  expect(lines.filter((line) => line.startsWith('applied '))).toEqual(names.map((name) => expect.stringMatching(new RegExp(`^applied ${name} in \\d+ ms$`))));
  const [row] = await db.sql<{ models: number }[]>`select count(*)::int as models from versioning.models`;
  expect(row?.models).toBe(6);
});

test('running again applies nothing and changes nothing', async () => {
  await migrate(db.sql, migrations);
  const before = await schemaFingerprint(db.sql);
  const lines: string[] = [];

  const result = await migrate(db.sql, migrations, { log: (line) => lines.push(line) });

  expect(result.applied).toEqual([]);
  expect(lines).toEqual(['database is up to date']);
  expect(await schemaFingerprint(db.sql)).toBe(before);
  expect(await journal(db.sql)).toHaveLength(migrations.length);
});

test('runners started at the same moment apply each migration exactly once', async () => {
  const pools = [db.connect(1), db.connect(1), db.connect(1)];

  const results = await Promise.all(pools.map((pool) => migrate(pool, migrations)));

  const appliedTotal = results.flatMap((r) => r.applied).sort();
  expect(appliedTotal).toEqual(migrations.map((m) => m.name));
  expect(await journal(db.sql)).toHaveLength(migrations.length);
});

test('a migration edited after it was applied is refused before anything else runs', async () => {
  const [first, ...rest] = migrations as [Migration, ...Migration[]];
  await migrate(db.sql, [first]);
  const edited = toMigrations([{ name: first.name, sql: `${first.sql}\n-- edited` }, ...rest]);

  const run = migrate(db.sql, edited);

  await expect(run).rejects.toThrow(MigrationError);
  await expect(run).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });
  expect(await journal(db.sql)).toHaveLength(1);
  expect(await tableExists(db.sql, 'work_orders')).toBe(false);
});

test('a database with a migration this code does not know is refused', async () => {
  await migrate(db.sql, migrations);
  await expect(migrate(db.sql, migrations.slice(0, 1))).rejects.toMatchObject({ code: 'UNKNOWN_APPLIED' });
});

test('a failing migration leaves no trace: neither its statements nor its journal row', async () => {
  const broken = toMigrations([
    ...migrations,
    { name: `${String(migrations.length + 1).padStart(6, '0')}_broken.sql`, sql: 'create table half_done (id int);\nselect 1/0;' },
  ]);

  await expect(migrate(db.sql, broken)).rejects.toMatchObject({ code: '22012' }); // division_by_zero

  expect(await journal(db.sql)).toHaveLength(migrations.length);
  expect(await tableExists(db.sql, 'half_done')).toBe(false);
});

describe('toMigrations', () => {
  test('rejects a file not named NNNNNN_words.sql', () => {
    expect(() => toMigrations([{ name: '1_init.sql', sql: '' }])).toThrow(expect.objectContaining({ code: 'BAD_NAME' }));
    expect(() => toMigrations([{ name: '000001_Init.SQL', sql: '' }])).toThrow(expect.objectContaining({ code: 'BAD_NAME' }));
  });

  test('rejects gaps and repeats', () => {
    const file = (name: string) => ({ name, sql: 'select 1' });
    expect(() => toMigrations([file('000001_a.sql'), file('000003_c.sql')])).toThrow(expect.objectContaining({ code: 'BAD_SEQUENCE' }));
    expect(() => toMigrations([file('000001_a.sql'), file('000001_b.sql')])).toThrow(expect.objectContaining({ code: 'BAD_SEQUENCE' }));
  });

  test('orders by id whatever the input order', () => {
    const ordered = toMigrations([{ name: '000002_b.sql', sql: 'b' }, { name: '000001_a.sql', sql: 'a' }]);
    expect(ordered.map((m) => m.id)).toEqual([1, 2]);
  });
});

test('000005 upgrades a database in use: journals keep their rows, writes journal through the new triggers', async () => {
  // 1. a database at 000004 with rows, a tombstone and journal rows  2. the rest of the migrations
  // 3. the old rows and journal are intact, the shared trigger functions gone, writes still journaled.
  await migrate(db.sql, migrations.filter((m) => m.name < '000005'));
  await db.sql`insert into customers (name) select 'Customer ' || g from generate_series(1, 20) g`;
  await db.sql`update customers set name = name || '!' where name like 'Customer 1%'`;
  await db.sql`delete from customers where name = 'Customer 2'`;
  const before = await db.sql<{ id: string; _version: number; _deleted: boolean }[]>`
    select id, _version::int, _deleted from versioning_delta.customers order by seq`;

  await migrate(db.sql, migrations);

  expect(await db.sql`select id, _version::int, _deleted from versioning_delta.customers order by seq`).toEqual(before);
  const [{ ttlColumns }] = (await db.sql`
    select count(*)::int as "ttlColumns" from pg_attribute a join versioning.models m on a.attrelid = m.delta_table
     where a.attname = '_ttl' and not a.attisdropped`) as unknown as [{ ttlColumns: number }];
  expect(ttlColumns).toBe(0);
  expect(await db.sql`select from pg_proc where proname in ('tg_stamp_version', 'tg_stamp_timestamps', 'tg_append_delta')`).toHaveLength(0);
  const [customer] = await db.sql<{ id: string }[]>`update customers set name = 'Renamed' where name = 'Customer 3' returning id`;
  expect(await db.sql`select _version::int as version, item->>'name' as name from versioning_delta.customers where id = ${customer!.id}::text order by seq`)
    .toEqual([{ version: 1, name: 'Customer 3' }, { version: 2, name: 'Renamed' }]);
});

test('000006 upgrades a database in use: every versioned table gets its merge history, and writes record into it', async () => {
  // 1. a database at 000005 with rows  2. the rest of the migrations  3. each versioned table has a merge
  // history the runtime may read, and the next write records what it changed.
  await migrate(db.sql, migrations.filter((m) => m.name < '000006'));
  const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Before the upgrade') returning id`;

  await migrate(db.sql, migrations);

  expect(await db.sql`
    select m.base_table::text as base_table, versioning.merge_table(m.base_table) is not null as has_history,
           has_table_privilege('datastore_runtime', versioning.merge_table(m.base_table), 'select') as readable
      from versioning.models m order by 1`).toEqual(
    ['assets', 'customers', 'parts', 'sites', 'work_logs', 'work_orders'].map((t) => ({ base_table: t, has_history: true, readable: true })));
  await db.sql`update customers set name = 'After the upgrade' where id = ${customer!.id}`;
  expect(await db.sql`select _version::int, changed from versioning_merge.customers where id = ${customer!.id}::text`)
    .toEqual([{ _version: 2, changed: { name: 'Before the upgrade' } }]);
});
