import { connect, type Sql } from '@datastore-pg/db';
import { migrate, MigrationError, migrations, toMigrations, type Migration } from '@datastore-pg/migrate';
import { createTestDatabase, type TestDatabase } from '@datastore-pg/testing';
import { splitStatements } from '../src/split-statements';

// Migrations that run statement by statement, outside a transaction (README "Migrations"). Each test gets
// an empty database and migrations of its own.
const MARKER = '-- datastore-pg: no-transaction';
const ITEMS = `create table items (id int primary key, name text);
insert into items select g, 'item ' || g from generate_series(1, 100) g;`;

let db: TestDatabase;
beforeEach(async () => {
  db = await createTestDatabase({ empty: true });
});
afterEach(async () => {
  await db.drop();
});

function migrationsOf(files: Record<string, string>): Migration[] {
  return toMigrations(Object.entries(files).map(([name, sql]) => ({ name, sql })));
}

async function journal(sql: Sql): Promise<{ id: number; name: string; checksum: string }[]> {
  return sql`select id, name, checksum from datastore_pg.migrations order by id`;
}

async function tableExists(sql: Sql, name: string): Promise<boolean> {
  const [row]: [{ exists: boolean }?] = await sql`select to_regclass(${name}) is not null as exists`;
  return row!.exists;
}

async function indexIsValid(sql: Sql, name: string): Promise<boolean | undefined> {
  const [row]: [{ valid: boolean }?] = await sql`select indisvalid as valid from pg_index where indexrelid = to_regclass(${name})`;
  return row?.valid;
}

/** Advisory locks held in this test's database: a runner that ends must leave none. */
async function advisoryLocks(sql: Sql): Promise<number> {
  const [row]: [{ locks: number }?] = await sql`
    select count(*)::int as locks from pg_locks
     where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`;
  return row!.locks;
}

test('runs what a transaction refuses, one statement at a time, and records the file after its last', async () => {
  const all = migrationsOf({
    '000001_items.sql': `${ITEMS}
create table batches (n int);
create procedure fill_batches() language plpgsql as $$
begin
  for n in 1..3 loop
    insert into batches values (n);
    commit; -- refused inside a transaction block
  end loop;
end
$$;`,
    '000002_online.sql': `${MARKER}
-- builds the index without holding off writers
create index concurrently if not exists items_name_idx on items (name);
call fill_batches();`,
    '000003_after.sql': 'create table later (id int);',
  });
  const lines: string[] = [];
  // One connection, as `npm run migrate` opens: lent to the statements, then back for the next file.
  const result = await migrate(db.connect(1), all, { log: (line) => lines.push(line) });

  expect(result.applied).toEqual(['000001_items.sql', '000002_online.sql', '000003_after.sql']);
  expect(await journal(db.sql)).toEqual(all.map(({ id, name, checksum }) => ({ id, name, checksum })));
  expect(await indexIsValid(db.sql, 'items_name_idx')).toBe(true);
  expect(await db.sql`select count(*)::int as batches from batches`).toEqual([{ batches: 3 }]);
  expect(lines).toEqual([
    expect.stringMatching(/^applied 000001_items\.sql in \d+ ms$/),
    expect.stringMatching(/^000002_online\.sql statement 1\/2 \(line 3\): create index concurrently if not exists items_name_idx on items \(name\) in \d+ ms$/),
    expect.stringMatching(/^000002_online\.sql statement 2\/2 \(line 4\): call fill_batches\(\) in \d+ ms$/),
    expect.stringMatching(/^applied 000002_online\.sql in \d+ ms$/),
    expect.stringMatching(/^applied 000003_after\.sql in \d+ ms$/),
    '3 migration(s) applied',
  ]);
  expect(await advisoryLocks(db.sql)).toBe(0);
});

test('a failing statement records nothing; once its cause is fixed, the next run starts the file again from the top', async () => {
  // 1. statement 2 fails: its table is missing  2. nothing recorded, statement 1's table stays, the lock
  // is released  3. the table is created  4. the next run runs all three again (the first harmlessly:
  // "if not exists") and records the file.
  const all = migrationsOf({
    '000001_online.sql': `${MARKER}
create table if not exists audit (id int);
create index concurrently if not exists parts_id_idx on parts (id);
create index concurrently if not exists audit_id_idx on audit (id);`,
  });

  const failed = migrate(db.sql, all);

  await expect(failed).rejects.toThrow(MigrationError);
  await expect(failed).rejects.toMatchObject({ code: 'STATEMENT_FAILED', cause: expect.objectContaining({ code: '42P01' }) }); // undefined_table
  await expect(failed).rejects.toThrow(
    '000001_online.sql statement 2/3 (line 3): create index concurrently if not exists parts_id_idx on parts (id) failed: ' +
      'relation "parts" does not exist. Nothing of 000001_online.sql was recorded: the next run starts it again from its first statement.',
  );
  expect(await journal(db.sql)).toEqual([]);
  expect(await tableExists(db.sql, 'audit')).toBe(true); // each statement commits on its own
  expect(await advisoryLocks(db.sql)).toBe(0);

  await db.sql`create table parts (id int)`;
  const lines: string[] = [];
  const result = await migrate(db.sql, all, { log: (line) => lines.push(line) });

  expect(result.applied).toEqual(['000001_online.sql']);
  expect(lines.filter((line) => line.includes(' statement '))).toEqual([
    expect.stringMatching(/ statement 1\/3 \(line 2\): create table if not exists audit \(id int\) in \d+ ms$/),
    expect.stringMatching(/ statement 2\/3 \(line 3\): .* on parts \(id\) in \d+ ms$/),
    expect.stringMatching(/ statement 3\/3 \(line 4\): .* on audit \(id\) in \d+ ms$/),
  ]);
  expect(await journal(db.sql)).toEqual([{ id: 1, name: '000001_online.sql', checksum: all[0]!.checksum }]);
  expect(await indexIsValid(db.sql, 'parts_id_idx')).toBe(true);
});

test('runners started at the same moment apply it exactly once, the waiting ones not holding up its index build', async () => {
  // The waiting runners poll for the lock: blocked in pg_advisory_lock, each would hold a snapshot that
  // CREATE INDEX CONCURRENTLY waits for, while it waits for the lock the index build holds (a deadlock).
  const all = migrationsOf({
    '000001_items.sql': `${ITEMS}\ncreate table runs (at timestamptz not null default now());`,
    '000002_online.sql': `${MARKER}
insert into runs default values;
select pg_sleep(0.3); -- the other runners are waiting by now
create index concurrently if not exists items_name_idx on items (name);`,
    '000003_after.sql': 'create table later (id int);',
  });
  const pools = [db.connect(1), db.connect(1), db.connect(1)];

  const results = await Promise.all(pools.map((pool) => migrate(pool, all)));

  expect(results.flatMap((r) => r.applied).sort()).toEqual(all.map((m) => m.name));
  expect(await db.sql`select count(*)::int as runs from runs`).toEqual([{ runs: 1 }]);
  expect(await journal(db.sql)).toHaveLength(3);
  expect(await indexIsValid(db.sql, 'items_name_idx')).toBe(true);
  expect(await advisoryLocks(db.sql)).toBe(0);
});

test('a no-transaction migration edited after it was applied is refused before anything runs', async () => {
  const original = `${MARKER}\ncreate table if not exists a (id int);`;
  await migrate(db.sql, migrationsOf({ '000001_online.sql': original }));
  const edited = migrationsOf({
    '000001_online.sql': `${original}\ncreate table if not exists b (id int);`,
    '000002_next.sql': 'create table c (id int);',
  });

  await expect(migrate(db.sql, edited)).rejects.toMatchObject({ code: 'CHECKSUM_MISMATCH' });

  expect(await tableExists(db.sql, 'b')).toBe(false);
  expect(await tableExists(db.sql, 'c')).toBe(false);
  expect(await journal(db.sql)).toHaveLength(1);
});

test("a NOTICE a statement raises (a backfill's progress) reaches the log through the pool's onNotice, as npm run migrate connects", async () => {
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);
  const sql = connect(db.url, { max: 1, onNotice: (message) => log(`notice: ${message}`) });
  try {
    await migrate(sql, migrationsOf({
      '000001_backfill.sql': `${MARKER}\ndo $$ begin raise notice 'batch 1 of 2 done'; raise notice 'batch 2 of 2 done'; end $$;`,
    }), { log });
  } finally {
    await sql.end();
  }

  expect(lines).toEqual([
    'notice: batch 1 of 2 done',
    'notice: batch 2 of 2 done',
    expect.stringMatching(/^000001_backfill\.sql statement 1\/1 \(line 2\): do \$\$ begin .* in \d+ ms$/),
    expect.stringMatching(/^applied 000001_backfill\.sql in \d+ ms$/),
    '1 migration(s) applied',
  ]);
});

test('a no-transaction file with no statements is refused when the migrations are loaded', () => {
  for (const sql of [MARKER, `${MARKER}\n`, `${MARKER}\n-- to do\n;\n/* later */`]) {
    expect(() => migrationsOf({ '000001_empty.sql': sql })).toThrow(expect.objectContaining({ code: 'NO_STATEMENTS' }));
  }
});

test('only an exact first line marks a file: elsewhere, the marker is a comment and the file one transaction', () => {
  const [marked, later, spaced] = migrationsOf({
    '000001_a.sql': `${MARKER}\r\nselect 1;`,
    '000002_b.sql': `select 1;\n${MARKER}\n`,
    '000003_c.sql': ` ${MARKER}\nselect 1;`,
  });
  expect([marked?.transactional, later?.transactional, spaced?.transactional]).toEqual([false, true, true]);
});

test('the splitter agrees with the server on every project migration: one statement at a time, each runs', async () => {
  const session = db.connect(1); // one connection, so a statement finds the session state earlier ones set
  for (const migration of migrations) {
    for (const statement of splitStatements(migration.sql)) await session.unsafe(statement.sql);
  }
  const [row]: [{ models: number }?] = await db.sql`select count(*)::int as models from versioning.models`;
  expect(row?.models).toBeGreaterThan(0);
});
