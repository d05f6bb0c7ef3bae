// Every bad input answers a typed error, changes nothing, and leaks no SQL or stack trace.
import { randomUUID } from 'node:crypto';
import { models } from '@datastore-pg/schema/models';
import { apiKey, invoke, ok, type SyncPage } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem, sampleInput } from './fixtures';
import { handlers } from './handlers';
import { expectSafeError, versionedTablesSnapshot } from './safety';

const db = useHandlerDatabase();
const site = handlers.Site!;

let existing: Record<string, unknown>;
let validSite: Record<string, unknown>;
let siteToken: string;
let customerToken: string;

beforeAll(async () => {
  existing = await createItem(models.Site, apiKey);
  for (let i = 0; i < 3; i++) await createItem(models.Site, apiKey);
  validSite = await sampleInput(models.Site);
  siteToken = (await ok<SyncPage>(site, 'syncSites', { lastSync: 0, limit: 1 }, apiKey)).nextToken!;
  customerToken = (await ok<SyncPage>(handlers.Customer!, 'syncCustomers', { lastSync: 0, limit: 1 }, apiKey)).nextToken!;
});


const nested = (depth: number): Record<string, unknown> => (depth === 0 ? { name: { eq: 'x' } } : { not: nested(depth - 1) });
const id = () => existing.id;
const tamper = (token: string) => `${token.slice(0, 5)}${token[5] === 'x' ? 'y' : 'x'}${token.slice(6)}`;

type Case = [name: string, field: string, args: () => Record<string, unknown>, errorType: string];
const cases: Case[] = [
  // writes: fields
  ['unknown field', 'createSite', () => ({ input: { ...validSite, colour: 'red' } }), 'ValidationError'],
  ['SQL in a field name', 'createSite', () => ({ input: { ...validSite, 'name = 1; drop table sites; --': 'x' } }), 'ValidationError'],
  ['wrong type', 'createSite', () => ({ input: { ...validSite, latitude: 'north' } }), 'ValidationError'],
  ['number out of the column\'s range', 'createSite', () => ({ input: { ...validSite, id: randomUUID(), latitude: 120 } }), 'ValidationError'],
  ['NaN-like number', 'createSite', () => ({ input: { ...validSite, latitude: '1e400' } }), 'ValidationError'],
  ['null for a required field', 'createSite', () => ({ input: { ...validSite, name: null } }), 'ValidationError'],
  ['missing required field', 'createSite', () => ({ input: { id: randomUUID(), customerID: validSite.customerID } }), 'ValidationError'],
  ['id not a UUID', 'createSite', () => ({ input: { ...validSite, id: 'site-1' } }), 'ValidationError'],
  ['SQL in the id', 'createSite', () => ({ input: { ...validSite, id: "' or 1=1 --" } }), 'ValidationError'],
  ['reference to nothing', 'createSite', () => ({ input: { ...validSite, id: randomUUID(), customerID: randomUUID() } }), 'ValidationError'],
  ['_version on create', 'createSite', () => ({ input: { ...validSite, _version: 5 } }), 'ValidationError'],
  ['_deleted on create', 'createSite', () => ({ input: { ...validSite, _deleted: true } }), 'ValidationError'],
  ['_lastChangedAt on create', 'createSite', () => ({ input: { ...validSite, _lastChangedAt: 1 } }), 'ValidationError'],
  ['createdAt from the client', 'createSite', () => ({ input: { ...validSite, createdAt: '2020-01-01T00:00:00Z' } }), 'ValidationError'],
  ['huge string', 'createSite', () => ({ input: { ...validSite, name: 'x'.repeat(200_000) } }), 'ValidationError'],
  ['input not an object', 'createSite', () => ({ input: 'name=x' }), 'ValidationError'],
  ['input a list', 'createSite', () => ({ input: [validSite] }), 'ValidationError'],
  ['condition on create', 'createSite', () => ({ input: validSite, condition: { name: { eq: 'x' } } }), 'ValidationError'],
  ['update with a string _version', 'updateSite', () => ({ input: { id: id(), _version: '1', name: 'x' } }), 'ValidationError'],
  ['update with a negative _version', 'updateSite', () => ({ input: { id: id(), _version: -1, name: 'x' } }), 'ValidationError'],
  ['update of an unknown id', 'updateSite', () => ({ input: { id: randomUUID(), _version: 1, name: 'x' } }), 'NotFound'],
  ['update of an invalid id', 'updateSite', () => ({ input: { id: 'nope', _version: 1, name: 'x' } }), 'ValidationError'],
  ['update nulls a required field', 'updateSite', () => ({ input: { id: id(), _version: 1, name: null } }), 'ValidationError'],
  ['update sets _deleted', 'updateSite', () => ({ input: { id: id(), _version: 1, _deleted: true } }), 'ValidationError'],
  ['update sets updatedAt', 'updateSite', () => ({ input: { id: id(), _version: 1, updatedAt: '2020-01-01T00:00:00Z' } }), 'ValidationError'],
  ['update with SQL in a condition key', 'updateSite', () => ({ input: { id: id(), _version: 1, name: 'x' }, condition: { '1=1) or (true': { eq: 1 } } }), 'ValidationError'],
  ['delete with other fields', 'deleteSite', () => ({ input: { id: id(), _version: 1, name: 'x' } }), 'ValidationError'],
  // sync arguments
  ['limit 0', 'syncSites', () => ({ lastSync: 0, limit: 0 }), 'ValidationError'],
  ['negative limit', 'syncSites', () => ({ lastSync: 0, limit: -5 }), 'ValidationError'],
  ['fractional limit', 'syncSites', () => ({ lastSync: 0, limit: 1.5 }), 'ValidationError'],
  ['string limit', 'syncSites', () => ({ lastSync: 0, limit: '10; drop table sites' }), 'ValidationError'],
  ['negative lastSync', 'syncSites', () => ({ lastSync: -1 }), 'ValidationError'],
  ['string lastSync', 'syncSites', () => ({ lastSync: 'yesterday' }), 'ValidationError'],
  ['filter on an unknown field', 'syncSites', () => ({ lastSync: 0, filter: { colour: { eq: 'red' } } }), 'ValidationError'],
  ['SQL in a filter key', 'syncSites', () => ({ lastSync: 0, filter: { 'name) or (1=1': { eq: 'x' } } }), 'ValidationError'],
  ['SQL in a filter operator', 'syncSites', () => ({ lastSync: 0, filter: { name: { "eq' or '1'='1": 'x' } } }), 'ValidationError'],
  ['unsupported operator', 'syncSites', () => ({ lastSync: 0, filter: { name: { in: ['a'] } } }), 'ValidationError'],
  ['wrong operand type', 'syncSites', () => ({ lastSync: 0, filter: { latitude: { eq: 'x' } } }), 'ValidationError'],
  ['between with three bounds', 'syncSites', () => ({ lastSync: 0, filter: { latitude: { between: [1, 2, 3] } } }), 'ValidationError'],
  ['beginsWith on a number', 'syncSites', () => ({ lastSync: 0, filter: { latitude: { beginsWith: '1' } } }), 'ValidationError'],
  ['filtering on _version', 'syncSites', () => ({ lastSync: 0, filter: { _version: { eq: 1 } } }), 'ValidationError'],
  ['filter nested 50 deep', 'syncSites', () => ({ lastSync: 0, filter: nested(50) }), 'ValidationError'],
  ['filter with 101 conditions', 'syncSites', () => ({ lastSync: 0, filter: { and: Array.from({ length: 101 }, () => ({ name: { eq: 'x' } })) } }), 'ValidationError'],
  ['filter not an object', 'syncSites', () => ({ lastSync: 0, filter: "name = 'x'" }), 'ValidationError'],
  ['empty and', 'syncSites', () => ({ lastSync: 0, filter: { and: [] } }), 'ValidationError'],
  // tokens
  ['tampered token', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: tamper(siteToken) }), 'InvalidNextToken'],
  ['truncated token', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: siteToken.slice(0, -4) }), 'InvalidNextToken'],
  ['garbage token', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: 'abc' }), 'InvalidNextToken'],
  ['token of another model', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: customerToken }), 'InvalidNextToken'],
  ['token of another filter', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: siteToken, filter: { name: { eq: 'x' } } }), 'InvalidNextToken'],
  ['token of another lastSync', 'syncSites', () => ({ lastSync: 5, limit: 1, nextToken: siteToken }), 'ValidationError'],
  ['token not a string', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: 42 }), 'InvalidNextToken'],
  ['huge token', 'syncSites', () => ({ lastSync: 0, limit: 1, nextToken: 'a'.repeat(10_000) }), 'InvalidNextToken'],
  // get
  ['get with an invalid id', 'getSite', () => ({ id: "1' or '1'='1" }), 'ValidationError'],
  ['get without an id', 'getSite', () => ({}), 'ValidationError'],
];

test.each(cases)('%s: %s answers %s and changes nothing', async (_name, field, args, errorType) => {
  const before = await versionedTablesSnapshot(db.sql);

  const result = await invoke(site, field, args(), apiKey);

  expectSafeError(result, errorType);
  expect(await versionedTablesSnapshot(db.sql)).toBe(before);
});

test('SQL in a value is stored as text, not run', async () => {
  const name = "x'); drop table sites; --";
  const created = await ok(site, 'createSite', { input: { ...(await sampleInput(models.Site)), name } }, apiKey);
  expect(created).toMatchObject({ name });
  const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from sites where name = ${name}`;
  expect(row!.n).toBe(1);
});

test('a limit above 1000 is clamped, not refused', async () => {
  // More than 1000 sites, so that a limit not clamped would show.
  const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Bulk') returning id`;
  await db.sql`insert into sites (customer_id, name) select ${customer!.id}, 'bulk ' || g from generate_series(1, 1001) g`;
  const page = await ok<SyncPage>(site, 'syncSites', { lastSync: 0, limit: 1_000_000 }, apiKey);
  expect(page.items).toHaveLength(1000);
  expect(page.nextToken).not.toBeNull();
});

test('an unexpected failure answers InternalError without details', async () => {
  const broken = await invoke(site, 'searchSites', {}, apiKey); // a field this handler was never wired to
  expect(broken).toEqual({ data: null, errorType: 'InternalError', errorMessage: 'internal error' });
});
