// The online enable (000015): a table in use is versioned in steps that block none of its readers and
// writers for long, every row gets a DataStore id, the first sync afterwards has every row and every
// change made meanwhile, and a run killed half-way finishes when run again.
import { connect, type Sql } from '@datastore-pg/db';
import { migrate, migrations, toMigrations } from '@datastore-pg/migrate';
import { models } from '@datastore-pg/schema/models';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver } from '@datastore-pg/versioning';

const db = useTestDatabase();
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A legacy table shaped like Customer (so its handler can sync it), keyed by a number, with `rows` rows. */
async function legacyTable(sql: Sql, name: string, rows: number): Promise<void> {
  await sql`create table ${sql(name)} (customer_no bigint primary key, name text not null, email text, phone text)`;
  await sql`insert into ${sql(name)} select g, 'Customer ' || g, null, null from generate_series(1, ${rows}) g`;
  await sql`analyze ${sql(name)}`;
}

/** The statements of the online enable, each on its own (autocommit), as a no-transaction migration runs them. */
async function enableOnline(sql: Sql, table: string, batchSize = 2000): Promise<void> {
  const statements = await sql<{ statement: string }[]>`select s as statement from versioning.enable_online_statements(${table}) s`;
  for (const { statement } of statements) {
    await sql.unsafe(statement.replace(`'id');`, `'id', batch_size => ${batchSize});`));
  }
}

/**
 * Reads and writes the table by its own key in a loop, each on a connection of its own, as the ERP
 * would, until stopped; records the longest any statement took and the rows it inserted.
 */
function traffic(url: string, table: string, rows: number) {
  const sessions = [connect(url, { max: 1 }), connect(url, { max: 1 })];
  const [reader, writer] = sessions as [Sql, Sql];
  let running = true;
  let longestMs = 0;
  const inserted: number[] = [];
  const updated = new Map<number, string>();
  const timed = async (statement: () => Promise<unknown>) => {
    const started = performance.now();
    await statement();
    longestMs = Math.max(longestMs, performance.now() - started);
  };
  const loops = [
    (async () => {
      while (running) await timed(() => reader`select * from ${reader(table)} where customer_no = ${1 + Math.floor(Math.random() * rows)}`);
    })(),
    (async () => {
      for (let n = 1; running; n++) {
        if (n % 2 === 0) {
          const key = rows + n;
          await timed(() => writer`insert into ${writer(table)} (customer_no, name) values (${key}, ${`Added ${key}`})`);
          inserted.push(key);
        } else {
          const key = 1 + Math.floor(Math.random() * rows);
          await timed(() => writer`update ${writer(table)} set name = ${`Renamed ${n}`} where customer_no = ${key}`);
          updated.set(key, `Renamed ${n}`);
        }
      }
    })(),
  ];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      await Promise.all(sessions.map((s) => s.end()));
      return { longestMs, inserted, updated };
    },
  };
}

test('a table in use is versioned online: every row gets an id, and the first sync has every row and every change made meanwhile', async () => {
  await legacyTable(db.sql, 'legacy_customers', 30_000);
  const load = traffic(db.url, 'legacy_customers', 30_000);
  await sleep(100);

  await enableOnline(db.sql, 'legacy_customers');
  await sleep(100);
  const { longestMs, inserted, updated } = await load.stop();

  const [ids] = await db.sql<{ rows: number; ids: number; distinct: number }[]>`
    select count(*)::int as rows, count(id)::int as ids, count(distinct id)::int as distinct from legacy_customers`;
  expect(ids).toEqual({ rows: 30_000 + inserted.length, ids: 30_000 + inserted.length, distinct: 30_000 + inserted.length });
  expect(inserted.length).toBeGreaterThan(10);
  // The figure is P11's (npm run bench); here only that nothing was blocked for the length of a step.
  expect(longestMs).toBeLessThan(2000);

  const handler = modelResolver({ ...models.Customer, table: 'legacy_customers' }, {}, { connection: () => db.sql });
  const items: { name: string }[] = [];
  let nextToken: string | null = null;
  do {
    const { data } = (await handler({ arguments: { lastSync: 0, limit: 1000, nextToken }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } })) as { data: { items: { name: string }[]; nextToken: string | null } };
    items.push(...data.items);
    nextToken = data.nextToken;
  } while (nextToken);
  expect(items).toHaveLength(30_000 + inserted.length);
  const names = new Set(items.map((i) => i.name));
  for (const key of inserted) expect(names).toContain(`Added ${key}`);
  for (const name of updated.values()) expect(names).toContain(name);

  // Versioned from now on, by every writer.
  const [after] = await db.sql<{ _version: number }[]>`update legacy_customers set name = 'After' where customer_no = 1 returning _version::int`;
  expect(after!._version).toBeGreaterThanOrEqual(2);
  expect(await db.sql`select from versioning_delta.legacy_customers where item ->> 'name' = 'After'`).toHaveLength(1);
});

test('killed half-way through its ids, the online enable finishes when run again', async () => {
  await legacyTable(db.sql, 'killed_customers', 40_000);
  const victim = connect(db.url, { max: 1 });
  const [{ pid }] = (await victim`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
  const running = victim.unsafe(`call versioning.enable_online('killed_customers', batch_size => 500)`).catch((error: unknown) => error);
  for (let i = 0; i < 200; i++) {
    const [progress] = await db.sql<{ done: number }[]>`select ids_backfilled::int as done from versioning.online_enables where base_table = 'killed_customers'::regclass`;
    if (progress && progress.done > 0) break;
    await sleep(20);
  }
  await db.sql`select pg_terminate_backend(${pid})`;
  expect(await running).toBeInstanceOf(Error); // terminated by the administrator
  await victim.end({ timeout: 0 });
  const [half] = await db.sql<{ missing: number }[]>`select count(*)::int as missing from killed_customers where id is null`;
  expect(half!.missing).toBeGreaterThan(0);
  expect(half!.missing).toBeLessThan(40_000);

  await enableOnline(db.sql, 'killed_customers');

  expect(await db.sql`select count(*)::int as missing from killed_customers where id is null`).toEqual([{ missing: 0 }]);
  expect(await db.sql`select from versioning.models where base_table = 'killed_customers'::regclass`).toHaveLength(1);
});

test('finishing before the ids or the indexes are there is refused, with what to run first', async () => {
  await legacyTable(db.sql, 'early_customers', 100);
  await expect(db.sql.unsafe(`call versioning.enable_online_finish('early_customers')`)).rejects.toMatchObject({ code: '55000' });
  await db.sql.unsafe(`call versioning.enable_online('early_customers')`);
  await expect(db.sql.unsafe(`call versioning.enable_online_finish('early_customers')`)).rejects.toMatchObject({
    code: '55000', message: expect.stringContaining('early_customers_id_key'), hint: expect.stringContaining('enable_online_statements'),
  });
  expect(await db.sql`select from versioning.models where base_table = 'early_customers'::regclass`).toHaveLength(0);
});

test('as a no-transaction migration, through the runner: the statements enable_online_statements prints', async () => {
  await legacyTable(db.sql, 'migrated_customers', 5_000);
  const statements = await db.sql<{ statement: string }[]>`select s as statement from versioning.enable_online_statements('migrated_customers') s`;
  const file = ['-- datastore-pg: no-transaction', ...statements.map((s) => s.statement)].join('\n');
  const log: string[] = [];

  // The project's migrations (all applied to this database already) and one more of the app's own.
  const name = `${String(migrations.length + 1).padStart(6, '0')}_version_migrated_customers.sql`;
  const { applied } = await migrate(db.sql, toMigrations([...migrations, { name, sql: file }]), { log: (line) => log.push(line) });

  expect(applied).toEqual([name]);
  expect(log.filter((line) => line.includes('statement'))).toHaveLength(5);
  expect(await db.sql`select count(*)::int as missing from migrated_customers where id is null`).toEqual([{ missing: 0 }]);
  expect(await db.sql`select from versioning.models where base_table = 'migrated_customers'::regclass`).toHaveLength(1);
});
