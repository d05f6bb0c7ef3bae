// The handler checks the schema against the database on its first request and says what disagrees.
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { modelResolver } from '../src';

const db = useTestDatabase();
const event = { arguments: { lastSync: 0 }, identity: null, info: { fieldName: 'syncSites', parentTypeName: 'Query' } };

async function firstRequest(schema: string) {
  const [model] = parseModels(schema);
  return modelResolver(model!, {}, { connection: () => db.sql })(event);
}

test.each([
  ['a missing table', 'type Site @model @refersTo(name: "no_such_table") @auth(rules: [{ allow: public }]) { id: ID! }', /table no_such_table does not exist/],
  ['a missing column', 'type Site @model @auth(rules: [{ allow: public }]) { id: ID! colour: String }', /Site.colour: table sites has no column colour/],
  ['an unversioned table', 'type Site @model @refersTo(name: "pg_class_copy") @auth(rules: [{ allow: public }]) { id: ID! }', /is not versioned/],
  ['a @default its column cannot hold', 'type Site @model @auth(rules: [{ allow: public }]) { id: ID! customerID: ID! @default(value: "none") }', /Site.customerID: @default\(value: "none"\) does not fit column customer_id \(uuid\)/],
])('names %s', async (_name, schema, message) => {
  await db.sql`create table if not exists pg_class_copy (id uuid primary key, created_at timestamptz, updated_at timestamptz)`;
  await expect(firstRequest(schema)).rejects.toThrow(message);
});

test('a custom conflict handler must come with its hook, and only then', () => {
  const [custom] = parseModels('type Site @model @conflict(handler: CUSTOM) @auth(rules: [{ allow: public }]) { id: ID! }');
  expect(() => modelResolver(custom!)).toThrow(/must pass a resolveConflict hook/);
  const [plain] = parseModels('type Site @model @auth(rules: [{ allow: public }]) { id: ID! }');
  expect(() => modelResolver(plain!, { resolveConflict: () => ({ action: 'REJECT' }) })).toThrow(/is not declared @conflict\(handler: CUSTOM\)/);
});
