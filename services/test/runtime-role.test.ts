// The handlers' database user (a member of datastore_runtime) can do what the protocol needs and
// nothing else: no DDL, no hard delete, no other schema.
import { randomBytes } from 'node:crypto';
import { closeSharedConnection, connect, type Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { ENV, requireEnv, useTestDatabase, withAdmin } from '@datastore-pg/testing';
import { apiKey, dispatcher, ok, syncAll } from './appsync';
import { createItem } from './fixtures';
import { handlers } from './handlers';

const db = useTestDatabase();
const role = `dspg_app_${randomBytes(4).toString('hex')}`;
const password = randomBytes(16).toString('hex');
let app: Sql;

beforeAll(async () => {
  await withAdmin(requireEnv(ENV.serverUrl), (sql) => sql.unsafe(`create role ${role} login password '${password}' in role datastore_runtime`));
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  process.env.DATABASE_URL = url.toString();
  app = connect(url.toString(), { max: 1 });
});

afterAll(async () => {
  await closeSharedConnection();
  await app.end();
  await db.drop();
  await withAdmin(requireEnv(ENV.serverUrl), (sql) => sql.unsafe(`drop role if exists ${role}`));
});

test('the handlers work as the runtime user', async () => {
  const site = await createItem(models.Site, apiKey); // creates its customer too
  await ok(handlers.Site!, 'updateSite', { input: { id: site.id, _version: 1, name: 'renamed' } }, apiKey);
  await ok(handlers.Site!, 'deleteSite', { input: { id: site.id, _version: 2 } }, apiKey);
  const { startedAt } = await syncAll(handlers.Site!, models.Site, { lastSync: 0 }, apiKey);
  const part = await createItem(models.Part, apiKey); // draws from the parts identity sequence
  // A stale write that is merged and logged: the runtime reads the merge history and appends to the log.
  await ok(handlers.Part!, 'updatePart', { input: { id: part.id, _version: 1, description: 'by the office' } }, dispatcher);
  await ok(handlers.Part!, 'updatePart', { input: { id: part.id, _version: 1, description: 'by the device', quantityOnHand: 3 } }, apiKey);
  expect((await syncAll(handlers.Part!, models.Part, { lastSync: startedAt }, apiKey)).items).toEqual([expect.objectContaining({ description: 'by the device', _version: 3 })]);
  expect(await db.sql`select reason, writer from versioning.conflicts where item_id = ${part.id as string}`).toEqual([{ reason: 'conflict', writer: 'apiKey' }]);
  const [who] = await app<{ user: string }[]>`select current_user as user`;
  expect(who!.user).toBe(role);
});

test.each([
  ['create a table', 'create table intruder (id int)'],
  ['alter a table', 'alter table customers add column notes text'],
  ['drop a table', 'drop table work_logs'],
  ['truncate', 'truncate parts'],
  ['hard-delete rows', 'delete from customers'],
  ['change TTLs', "update versioning.models set base_table_ttl = '1 second'"],
  ['read the migration journal', 'select * from datastore_pg.migrations'],
  ['write a delta table', 'insert into versioning_delta.customers (id, _version, _deleted, _last_changed_at, item) values (1, 1, false, 1, \'{}\')'],
  ['write a merge history', 'insert into versioning_merge.customers (id, _version, _last_changed_at, changed) values (1, 1, 1, \'{}\')'],
  ['rewrite the conflict log', 'update versioning.conflicts set lost_value = null'],
  ['read the conflict log', 'select * from versioning.conflicts'],
  ['restore a logged value', 'select versioning.restore_conflict(1)'],
  ['read password hashes', 'select * from pg_authid'],
  ['re-version a table', "select versioning.enable('customers')"],
])('cannot %s', async (_name, statement) => {
  await expect(app.unsafe(statement)).rejects.toMatchObject({ code: '42501' }); // insufficient_privilege, not a typo's 42P01
});
