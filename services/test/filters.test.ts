// Selective sync: every operator of ModelXFilterInput, and/or/not, with paging, as parameterized SQL.
import { randomBytes } from 'node:crypto';
import { models } from '@datastore-pg/schema/models';
import { ok, syncAll, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

useHandlerDatabase();
const tech = user('tech-1');
const prefix = `F-${randomBytes(3).toString('hex')}-`;
const sites: Record<string, string> = {};

beforeAll(async () => {
  const rows = [
    { key: 'alpha', latitude: 10, address: 'Harbour Rd 1' },
    { key: 'bravo', latitude: 20, address: null },
    { key: 'charlie', latitude: 30, address: 'Mill Lane 7' },
    { key: 'delta', latitude: 40, address: 'harbour view' },
  ];
  for (const row of rows) {
    sites[row.key] = (await createItem(models.Site, tech, { name: `${prefix}${row.key}`, latitude: row.latitude, address: row.address })).id as string;
  }
});

/** The keys of this file's sites a filter selects (other tests' rows are excluded by the name prefix). */
async function select(filter: Record<string, unknown>, limit = 1000): Promise<string[]> {
  const { items } = await syncAll(handlers.Site!, models.Site, { lastSync: 0, limit, filter: { and: [{ name: { beginsWith: prefix } }, filter] } }, tech);
  const byId = new Map(Object.entries(sites).map(([key, id]) => [id, key]));
  return items.map((i) => byId.get(i.id as string)!).sort();
}

test.each([
  ['eq', { latitude: { eq: 20 } }, ['bravo']],
  ['ne', { latitude: { ne: 20 } }, ['alpha', 'charlie', 'delta']],
  ['gt', { latitude: { gt: 20 } }, ['charlie', 'delta']],
  ['ge', { latitude: { ge: 20 } }, ['bravo', 'charlie', 'delta']],
  ['lt', { latitude: { lt: 20 } }, ['alpha']],
  ['le', { latitude: { le: 20 } }, ['alpha', 'bravo']],
  ['between', { latitude: { between: [15, 35] } }, ['bravo', 'charlie']],
  ['beginsWith', { address: { beginsWith: 'Harbour' } }, ['alpha']],
  ['contains', { address: { contains: 'arbour' } }, ['alpha', 'delta']],
  ['notContains', { address: { notContains: 'arbour' } }, ['bravo', 'charlie']],
  ['attributeExists true', { address: { attributeExists: true } }, ['alpha', 'charlie', 'delta']],
  ['attributeExists false', { address: { attributeExists: false } }, ['bravo']],
  ['eq null', { address: { eq: null } }, ['bravo']],
  ['and', { and: [{ latitude: { gt: 10 } }, { latitude: { lt: 40 } }] }, ['bravo', 'charlie']],
  ['or', { or: [{ latitude: { eq: 10 } }, { address: { contains: 'Mill' } }] }, ['alpha', 'charlie']],
  ['not', { not: { latitude: { le: 20 } } }, ['charlie', 'delta']],
  ['not over a null', { not: { address: { contains: 'Mill' } } }, ['alpha', 'bravo', 'delta']],
  ['two operators on one field', { latitude: { ge: 20, le: 30 } }, ['bravo', 'charlie']],
  ['_deleted', { _deleted: { eq: true } }, []],
  ['createdAt (server-set, still filterable)', { createdAt: { lt: '2000-01-01T00:00:00Z' } }, []],
  ['nested', { or: [{ and: [{ latitude: { ge: 30 } }, { not: { address: { beginsWith: 'harbour' } } }] }, { latitude: { eq: 10 } }] }, ['alpha', 'charlie']],
])('%s', async (_name, filter, expected) => {
  expect(await select(filter)).toEqual(expected);
});

test('a filtered sync pages like any other', async () => {
  expect(await select({ latitude: { ge: 20 } }, 1)).toEqual(['bravo', 'charlie', 'delta']);
});

test('enum and date-time fields compare as their types', async () => {
  const order = await createItem(models.WorkOrder, tech, { status: 'ON_HOLD', scheduledAt: '2031-05-01T08:00:00.000Z' });
  const { items } = await syncAll(handlers.WorkOrder!, models.WorkOrder, {
    lastSync: 0,
    filter: { and: [{ status: { eq: 'ON_HOLD' } }, { scheduledAt: { gt: '2031-04-30T23:59:59+02:00' } }] },
  }, tech);
  expect(items.map((i) => i.id)).toEqual([order.id]);
});

test('the filter of a delta sync applies to the latest version of each item', async () => {
  const { startedAt } = await syncAll(handlers.Site!, models.Site, { lastSync: 0 }, tech);
  await ok(handlers.Site!, 'updateSite', { input: { id: sites.alpha, _version: 1, latitude: 11 } }, tech);
  await ok(handlers.Site!, 'updateSite', { input: { id: sites.bravo, _version: 1, latitude: 21 } }, tech);

  const { items } = await syncAll(handlers.Site!, models.Site, { lastSync: startedAt, filter: { latitude: { lt: 15 } } }, tech);

  expect(items.map((i) => [i.id, i.latitude])).toEqual([[sites.alpha, 11]]);
});
