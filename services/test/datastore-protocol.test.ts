// The requests exactly as the DataStore client sends them (design.md §2, captured from aws-amplify 6.22),
// and the answers it relies on.
import { randomUUID } from 'node:crypto';
import { models } from '@datastore-pg/schema/models';
import { invoke, ok, user, type SyncPage } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem } from './fixtures';
import { handlers } from './handlers';

useHandlerDatabase();
const handler = handlers.Site!;
const tech = user('tech-1');

async function newSite(name = 'Pump station 4') {
  const customer = await createItem(models.Customer, tech);
  return { id: randomUUID(), customerID: customer.id, name, address: '1 River Rd', latitude: 51.5, longitude: -0.12 };
}

test('full sync: lastSync 0, limit 1000 (syncPageSize), no filter', async () => {
  const input = await newSite();
  await ok(handler, 'createSite', { input }, tech);

  const page = await ok<SyncPage>(handler, 'syncSites', { limit: 1000, nextToken: null, lastSync: 0 }, tech);

  expect(page.nextToken).toBeNull();
  expect(Number.isSafeInteger(page.startedAt) && page.startedAt > 2 ** 32).toBe(true); // ms, beyond 32 bits
  const item = page.items.find((i) => i.id === input.id);
  expect(item).toEqual({
    ...input, createdAt: expect.any(String), updatedAt: expect.any(String),
    customer: { id: input.customerID, _deleted: false }, // DataStore selects { id _deleted } of a belongsTo
    _version: 1, _deleted: false, _lastChangedAt: expect.any(Number),
  });
});

test('selective sync: filter {and: [{field: {op: value}}]}', async () => {
  const north = await newSite('North depot');
  const south = await newSite('South depot');
  for (const input of [north, south]) await ok(handler, 'createSite', { input }, tech);

  const page = await ok<SyncPage>(handler, 'syncSites', { filter: { and: [{ name: { eq: 'North depot' } }] }, limit: 1000, nextToken: null, lastSync: 0 }, tech);

  expect(page.items.map((i) => i.id)).toEqual([north.id]);
});

test('create {input: {id, ...fields}} with no _version and no condition', async () => {
  const input = await newSite();
  expect(await invoke(handler, 'createSite', { input }, tech)).toEqual({ data: expect.objectContaining({ ...input, _version: 1 }) });
});

test('update sends only the changed fields with id and _version, condition null', async () => {
  const input = await newSite();
  await ok(handler, 'createSite', { input }, tech);

  const result = await ok(handler, 'updateSite', { input: { id: input.id, _version: 1, address: '2 River Rd' }, condition: null }, tech);

  expect(result).toEqual(expect.objectContaining({ ...input, address: '2 River Rd', _version: 2 }));
});

test('delete {input: {id, _version}}', async () => {
  const input = await newSite();
  await ok(handler, 'createSite', { input }, tech);
  expect(await ok(handler, 'deleteSite', { input: { id: input.id, _version: 1 }, condition: null }, tech)).toMatchObject({ id: input.id, _deleted: true, _version: 2 });
});

test('under optimistic concurrency a conflict answers ConflictUnhandled with the full server item; after DISCARD the client gets it with get', async () => {
  // 1. device A and B both have v1  2. A updates (v2)  3. B's update, based on v1, conflicts
  // 4. B's conflict handler discards its change and calls getCustomer(id), receiving v2.
  const customers = handlers.Customer!;
  const customer = await createItem(models.Customer, tech);
  const v2 = await ok(customers, 'updateCustomer', { input: { id: customer.id, _version: 1, name: 'Renamed by A' }, condition: null }, tech);

  const conflict = await invoke(customers, 'updateCustomer', { input: { id: customer.id, _version: 1, name: 'Renamed by B' }, condition: null }, user('tech-2'));
  expect(conflict).toEqual({ data: v2, errorType: 'ConflictUnhandled', errorMessage: expect.any(String) });

  expect(await ok(customers, 'getCustomer', { id: customer.id }, tech)).toEqual(v2);
});

test('get of an unknown id answers null', async () => {
  expect(await invoke(handler, 'getSite', { id: randomUUID() }, tech)).toEqual({ data: null });
});
