// Faults: a connection killed in the middle of a write, serialization failures and deadlocks, a statement
// that runs too long, a database that drops every connection or stays unreachable. A transient failure
// is retried inside the handler (DataStore drops a mutation on any error that is not a network failure)
// and the write lands once; a statement timeout, or a failure that outlasts the retry budget, answers
// Unavailable. Never a partial write.
import { createServer } from 'node:net';
import { connect } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver, toDataStoreError } from '@datastore-pg/versioning';
import { apiKey, invoke, ok } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useHandlerDatabase();
const handler = handlers.Customer!;
const update = (id: string, version: number, name: string) => invoke(handler, 'updateCustomer', { input: { id, _version: version, name } }, apiKey);
const handlerBackends = () => db.sql<{ pid: number }[]>`
  select pid from pg_stat_activity where datname = current_database() and application_name = 'datastore-pg handler'`;

beforeAll(async () => {
  process.env.DB_STATEMENT_TIMEOUT_MS = '1500';
  // Test-only faults, chosen by the name a write sets. A sequence counts the attempts: nextval survives
  // the rollback of the attempt that called it, so "the first attempt only" holds across retries.
  //   'slow ...'                sleeps 3 s on every attempt (a write over the statement timeout)
  //   'stalls once ...'         sleeps 3 s on the first attempt only (a write to kill in the middle)
  //   'fails once with XXXXX'   raises SQLSTATE XXXXX on the first attempt only
  await db.sql`create sequence test_attempts`;
  await db.sql`create function test_faults() returns trigger language plpgsql as $$
    declare attempt bigint := nextval('test_attempts');
    begin
      if new.name like 'slow%' or (new.name like 'stalls once%' and attempt = 1) then
        perform pg_sleep(3);
      elsif new.name like 'fails once with %' and attempt = 1 then
        raise exception 'injected fault' using errcode = split_part(new.name, ' ', 4);
      end if;
      return new;
    end $$`;
  await db.sql`create trigger _050_test_faults before update on customers for each row execute function test_faults()`;
});

beforeEach(async () => {
  await db.sql`alter sequence test_attempts restart`;
});

const attempts = async () => {
  const [row] = await db.sql<{ attempts: number }[]>`select case when is_called then last_value else 0 end::int as attempts from test_attempts`;
  return row!.attempts;
};

async function snapshot(id: string) {
  const [row] = await db.sql<{ name: string; _version: number; journal: number[] }[]>`
    select name, _version, array(select d._version from versioning_delta.customers d where d.id = ${id} order by d._version) as journal
      from customers where id = ${id}`;
  return row!;
}

test('a connection killed in the middle of a write: retried on a new connection, the write lands once', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const pidsBefore = (await handlerBackends()).map((b) => b.pid);

  // 1. the update's first attempt sleeps inside its trigger, holding the row
  const write = update(customer.id as string, 1, 'stalls once: renamed');
  // 2. its backend is killed there (the client sees 57P01 and a closed connection)
  let killed: unknown[] = [];
  for (let waited = 0; killed.length === 0 && waited < 5000; waited += 50) {
    await new Promise((done) => setTimeout(done, 50));
    killed = [...(await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'datastore-pg handler' and state = 'active' and wait_event = 'PgSleep'`)];
  }
  expect(killed.length).toBe(1);

  // 3. the handler discards the dead connection, retries on a new one, and answers the written item
  expect(await write).toEqual({ data: expect.objectContaining({ name: 'stalls once: renamed', _version: 2 }) });
  expect(await attempts()).toBe(2);
  // 4. written once: one new version, one journal row for it
  expect(await snapshot(customer.id as string)).toEqual({ name: 'stalls once: renamed', _version: 2, journal: [1, 2] });
  expect((await handlerBackends()).map((b) => b.pid)).not.toEqual(pidsBefore);
});

test.each([
  ['40001', 'serialization_failure'],
  ['40P01', 'deadlock_detected'],
  ['55P03', 'lock_not_available'],
])('%s (%s) raised by the database: retried, the write lands once', async (sqlstate) => {
  const customer = await createItem(models.Customer, apiKey);
  const name = `fails once with ${sqlstate}`;

  expect(await update(customer.id as string, 1, name)).toEqual({ data: expect.objectContaining({ name, _version: 2 }) });

  expect(await attempts()).toBe(2);
  expect(await snapshot(customer.id as string)).toEqual({ name, _version: 2, journal: [1, 2] });
});

test('an error that is an answer (here a check violation) is not retried', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const before = await snapshot(customer.id as string);

  expect(await update(customer.id as string, 1, 'fails once with 23514')).toMatchObject({ errorType: 'ValidationError' });

  expect(await attempts()).toBe(1);
  expect(await snapshot(customer.id as string)).toEqual(before);
});

test('a statement over the statement timeout: Unavailable at once, not retried, nothing written', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const before = await snapshot(customer.id as string);

  const started = performance.now();
  expect(await update(customer.id as string, 1, 'slow again')).toEqual({ data: null, errorType: 'Unavailable', errorMessage: 'the database took too long; retry' });
  // One statement timeout (1.5 s), far below the retry budget (18 s).
  expect(performance.now() - started).toBeLessThan(3000);
  expect(await attempts()).toBe(1);

  expect(await snapshot(customer.id as string)).toEqual(before);
  expect(await ok(handler, 'getCustomer', { id: customer.id }, apiKey)).toMatchObject({ _version: 1 });
});

test('every connection dropped between two requests (a restart, as clients see it): the handler reconnects', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const pids = await handlerBackends();
  expect(pids.length).toBeGreaterThan(0);
  await db.sql`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and application_name = 'datastore-pg handler'`;
  await new Promise((done) => setTimeout(done, 100));

  expect(await ok(handler, 'getCustomer', { id: customer.id }, apiKey)).toMatchObject({ id: customer.id });
  expect((await handlerBackends()).map((b) => b.pid)).not.toEqual(pids.map((p) => p.pid));
});

test('a database that stays unreachable: retried for the budget, then Unavailable', async () => {
  // A port nothing listens on: every connection attempt is refused.
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  const sql = connect(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 1 });
  const budgetMs = 3000;
  process.env.DB_RETRY_BUDGET_MS = String(budgetMs);
  let lost = 0;
  const resolve = modelResolver(models.Customer, {}, { connection: () => sql, onConnectionLost: () => lost++ });
  delete process.env.DB_RETRY_BUDGET_MS;

  const started = performance.now();
  const error = await resolve({ arguments: { id: 'x' }, identity: null, info: { fieldName: 'getCustomer', parentTypeName: 'Query' } }).catch((e: unknown) => e);
  const elapsed = performance.now() - started;

  expect(toDataStoreError(error)).toMatchObject({ code: 'Unavailable', message: 'the database connection failed; retry' });
  expect(lost).toBeGreaterThan(1); // each attempt lost its connection
  // No retry starts past the budget, and none is left unused for more than one wait (at most 1 s).
  expect(elapsed).toBeGreaterThan(budgetMs - 1000);
  expect(elapsed).toBeLessThan(budgetMs + 500);
  await sql.end();
});
