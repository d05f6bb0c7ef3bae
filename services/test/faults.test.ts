// Faults: a connection killed in the middle of a write, a statement that runs too long, a database that
// drops every connection between two requests. Each ends as a retryable error or not at all, and never
// as a partial write.
import { models } from '@datastore-pg/schema/models';
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
  // A stand-in for a slow write: a test-only trigger that sleeps while it holds the row.
  await db.sql`create function test_slow_write() returns trigger language plpgsql as $$
    begin if new.name like 'slow%' then perform pg_sleep(3); end if; return new; end $$`;
  await db.sql`create trigger _050_test_slow_write before update on customers for each row execute function test_slow_write()`;
});

async function snapshot(id: string) {
  const [row] = await db.sql<{ name: string; _version: number; journal: number }[]>`
    select name, _version, (select count(*)::int from versioning_delta.customers d where d.id = ${id}) as journal from customers where id = ${id}`;
  return row!;
}

test('a connection killed in the middle of a write: retryable error, nothing written, the next request reconnects', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const before = await snapshot(customer.id as string);

  const write = update(customer.id as string, 1, 'slow rename');
  // Wait until the update is inside its (sleeping) trigger, then kill its backend.
  let killed: unknown[] = [];
  for (let waited = 0; killed.length === 0 && waited < 5000; waited += 50) {
    await new Promise((done) => setTimeout(done, 50));
    killed = [...(await db.sql`select pg_terminate_backend(pid) from pg_stat_activity
      where datname = current_database() and application_name = 'datastore-pg handler' and state = 'active' and wait_event = 'PgSleep'`)];
  }
  expect(killed.length).toBe(1);

  expect(await write).toEqual({ data: null, errorType: 'Unavailable', errorMessage: expect.any(String) });
  expect(await snapshot(customer.id as string)).toEqual(before);
  expect(await ok(handler, 'updateCustomer', { input: { id: customer.id, _version: 1, name: 'renamed after the fault' } }, apiKey)).toMatchObject({ _version: 2 });
});

test('a statement over the statement timeout: retryable error, nothing written', async () => {
  const customer = await createItem(models.Customer, apiKey);
  const before = await snapshot(customer.id as string);

  expect(await update(customer.id as string, 1, 'slow again')).toEqual({ data: null, errorType: 'Unavailable', errorMessage: 'the database took too long; retry' });

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
