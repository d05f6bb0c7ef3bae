// Hostile input for every model, generated from its metadata: each case answers a typed error, changes
// nothing in the database, and leaks no SQL or stack trace. (bad-input.test.ts holds the hand-written
// cases: tokens, filters, limits.)
import { randomUUID } from 'node:crypto';
import { models, type FieldMeta, type ModelMeta } from '@datastore-pg/schema/models';
import { dispatcher, invoke, ok, type SyncPage } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem, sampleInput } from './fixtures';
import { handlers } from './handlers';
import { expectSafeError, versionedTablesSnapshot } from './safety';

const db = useHandlerDatabase();
const all = Object.values(models) as ModelMeta[];
const existing: Record<string, Record<string, unknown>> = {};
const valid: Record<string, Record<string, unknown>> = {};
const tokens: Record<string, string> = {};

beforeAll(async () => {
  for (const model of all) {
    existing[model.name] = await createItem(model, dispatcher);
    await createItem(model, dispatcher);
    valid[model.name] = await sampleInput(model);
    tokens[model.name] = (await ok<SyncPage>(handlers[model.name]!, `sync${model.pluralName}`, { lastSync: 0, limit: 1 }, dispatcher)).nextToken!;
  }
});

/** A value of the wrong type for the field: the one thing its type check must refuse. */
function wrongValue(field: FieldMeta): unknown {
  if (field.list) return 'not a list';
  if (field.type.kind === 'enum') return 'NOT_A_VALUE; drop table work_orders';
  switch (field.type.name) {
    case 'Int': return 2 ** 40;
    case 'Float': return 'NaN';
    case 'Boolean': return 'yes';
    case 'ID': return "x' or '1'='1";
    case 'AWSDate': return '2026-13-45';
    case 'AWSTime': return '25:99';
    case 'AWSDateTime': return 'yesterday at noon';
    case 'AWSTimestamp': return -1.5;
    case 'AWSEmail': return 'not-an-email';
    case 'AWSURL': return 'not a url';
    case 'AWSPhone': return 'call me; drop table customers';
    case 'AWSIPAddress': return '999.1.1.1';
    case 'AWSJSON': return '{not json';
    case 'String': return { $ne: null };
  }
}

type Case = [label: string, model: ModelMeta, field: string, args: () => Record<string, unknown>, errorType: string];
const cases: Case[] = [];
for (const m of all) {
  const id = () => existing[m.name]!.id;
  const input = () => ({ ...valid[m.name]!, id: randomUUID() });
  const writable = m.fields.filter((f) => !f.readOnly && f.name !== 'id' && !m.auth.some((r) => r.allow === 'owner' && r.ownerField === f.name));
  for (const f of writable) {
    cases.push([`${m.name}.${f.name} of the wrong type on create`, m, `create${m.name}`, () => ({ input: { ...input(), [f.name]: wrongValue(f) } }), 'ValidationError']);
    cases.push([`${m.name}.${f.name} of the wrong type on update`, m, `update${m.name}`, () => ({ input: { id: id(), _version: 1, [f.name]: wrongValue(f) } }), 'ValidationError']);
    if (f.required) {
      cases.push([`${m.name}.${f.name} null on create`, m, `create${m.name}`, () => ({ input: { ...input(), [f.name]: null } }), 'ValidationError']);
      cases.push([`${m.name}.${f.name} null on update`, m, `update${m.name}`, () => ({ input: { id: id(), _version: 1, [f.name]: null } }), 'ValidationError']);
    }
    if (f.type.kind === 'scalar' && f.type.name === 'String') {
      cases.push([`${m.name}.${f.name} of 300,000 characters`, m, `create${m.name}`, () => ({ input: { ...input(), [f.name]: 'x'.repeat(300_000) } }), 'ValidationError']);
    }
  }
  cases.push(
    [`${m.name}: SQL as a field name`, m, `create${m.name}`, () => ({ input: { ...input(), [`${m.fields[1]!.name}"; drop table ${m.table}; --`]: 'x' } }), 'ValidationError'],
    [`${m.name}: a column name instead of the field`, m, `create${m.name}`, () => ({ input: { ...input(), _last_changed_at: 1 } }), 'ValidationError'],
    [`${m.name}: _version on create`, m, `create${m.name}`, () => ({ input: { ...input(), _version: 7 } }), 'ValidationError'],
    [`${m.name}: _deleted on create`, m, `create${m.name}`, () => ({ input: { ...input(), _deleted: true } }), 'ValidationError'],
    [`${m.name}: _lastChangedAt on update`, m, `update${m.name}`, () => ({ input: { id: id(), _version: 1, _lastChangedAt: 0 } }), 'ValidationError'],
    [`${m.name}: createdAt on update`, m, `update${m.name}`, () => ({ input: { id: id(), _version: 1, createdAt: '2000-01-01T00:00:00Z' } }), 'ValidationError'],
    [`${m.name}: an invalid id`, m, `get${m.name}`, () => ({ id: 'not-a-uuid' }), 'ValidationError'],
    [`${m.name}: an id with SQL`, m, `update${m.name}`, () => ({ input: { id: `${String(id())}' or 1=1 --`, _version: 1 } }), 'ValidationError'],
    [`${m.name}: a huge _version`, m, `update${m.name}`, () => ({ input: { id: id(), _version: 2 ** 60 } }), 'ValidationError'],
    [`${m.name}: a list as input`, m, `create${m.name}`, () => ({ input: [input()] }), 'ValidationError'],
    [`${m.name}: a filter on a column name`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: { [m.fields[1]!.column + '_x']: { eq: 'x' } } }), 'ValidationError'],
    [`${m.name}: a filter key with SQL`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: { 'id) or (true': { eq: 'x' } } }), 'ValidationError'],
    [`${m.name}: a filter operator with SQL`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: { id: { 'eq = id or 1': 'x' } } }), 'ValidationError'],
    [`${m.name}: a filter 20 levels deep`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: Array.from({ length: 20 }).reduce<Record<string, unknown>>((f) => ({ not: f }), { id: { eq: randomUUID() } }) }), 'ValidationError'],
    [`${m.name}: 500 conditions`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: { or: Array.from({ length: 500 }, () => ({ id: { eq: randomUUID() } })) } }), 'ValidationError'],
    [`${m.name}: a filter list of 1,000 arrays`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, filter: { and: Array.from({ length: 1000 }, () => []) } }), 'ValidationError'],
    [`${m.name}: a negative limit`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: -1 }), 'ValidationError'],
    [`${m.name}: a limit of 2^53`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: 2 ** 53 }), 'ValidationError'],
    [`${m.name}: a tampered token`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: 1, nextToken: tokens[m.name]!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }), 'InvalidNextToken'],
    [`${m.name}: a truncated token`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: 1, nextToken: tokens[m.name]!.slice(0, 20) }), 'InvalidNextToken'],
    [`${m.name}: another model's token`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: 1, nextToken: tokens[m.name === 'Customer' ? 'Site' : 'Customer']! }), 'InvalidNextToken'],
    [`${m.name}: a token forged from JSON`, m, `sync${m.pluralName}`, () => ({ lastSync: 0, limit: 1, nextToken: `${Buffer.from(JSON.stringify({ v: 1, model: m.name, mode: 'full', after: ["' or 1=1"] })).toString('base64url')}.AAAA` }), 'InvalidNextToken'],
  );
}


test('there are at least 200 cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(200);
});

test.each(cases)('%s', async (_label, model, field, args, errorType) => {
  const before = await versionedTablesSnapshot(db.sql);

  const result = await invoke(handlers[model.name]!, field, args(), dispatcher);

  expectSafeError(result, errorType);
  expect(await versionedTablesSnapshot(db.sql)).toBe(before);
});
