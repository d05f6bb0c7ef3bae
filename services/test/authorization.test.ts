// Owner rules (WorkOrder: owner + Dispatchers group) and the other rules (Customer: private + public).
import { randomUUID } from 'node:crypto';
import { models } from '@datastore-pg/schema/models';
import { apiKey, dispatcher, iam, invoke, ok, syncAll, user } from './appsync';
import { useHandlerDatabase } from './database';
import { createItem, sampleInput } from './fixtures';
import { handlers } from './handlers';

useHandlerDatabase();
const handler = handlers.WorkOrder!;
const alice = user('alice');
const bob = user('bob');
type Item = Record<string, unknown> & { id: string; _version: number };

const unauthorized = { data: null, errorType: 'Unauthorized', errorMessage: expect.any(String) };

test('a technician\'s create is stamped with their username, whatever owner they send', async () => {
  const order = await createItem(models.WorkOrder, alice);
  expect(order.owner).toBe('alice');

  const forged = await invoke(handler, 'createWorkOrder', { input: { ...(await sampleInput(models.WorkOrder)), owner: 'bob' } }, alice);
  expect(forged).toEqual(unauthorized);
});

test('two technicians never see each other\'s work orders, in sync or get', async () => {
  const mine = (await createItem(models.WorkOrder, alice)) as Item;
  const theirs = (await createItem(models.WorkOrder, bob)) as Item;

  const aliceSees = (await syncAll(handler, models.WorkOrder, { lastSync: 0 }, alice)).items;
  expect(aliceSees.map((i) => i.id)).toContain(mine.id);
  expect(aliceSees.every((i) => i.owner === 'alice')).toBe(true);
  const bobSees = (await syncAll(handler, models.WorkOrder, { lastSync: 0 }, bob)).items;
  expect(bobSees.map((i) => i.id)).toContain(theirs.id);
  expect(bobSees.every((i) => i.owner === 'bob')).toBe(true);

  expect(await invoke(handler, 'getWorkOrder', { id: theirs.id }, alice)).toEqual(unauthorized);
});

test('a technician can neither change, reassign nor delete someone else\'s work order', async () => {
  const theirs = (await createItem(models.WorkOrder, bob)) as Item;
  const mine = (await createItem(models.WorkOrder, alice)) as Item;

  expect(await invoke(handler, 'updateWorkOrder', { input: { id: theirs.id, _version: 1, title: 'mine now' } }, alice)).toEqual(unauthorized);
  expect(await invoke(handler, 'deleteWorkOrder', { input: { id: theirs.id, _version: 1 } }, alice)).toEqual(unauthorized);
  expect(await invoke(handler, 'updateWorkOrder', { input: { id: mine.id, _version: 1, owner: 'bob' } }, alice)).toEqual(unauthorized);
  expect(await ok(handler, 'getWorkOrder', { id: theirs.id }, bob)).toMatchObject({ _version: 1, owner: 'bob' });
});

test('a re-created id owned by someone else is not revealed through the conflict', async () => {
  const theirs = (await createItem(models.WorkOrder, bob)) as Item;
  const again = await invoke(handler, 'createWorkOrder', { input: { ...(await sampleInput(models.WorkOrder)), id: theirs.id } }, alice);
  expect(again).toEqual(unauthorized);
});

test('a dispatcher sees every work order and assigns them', async () => {
  const order = (await createItem(models.WorkOrder, dispatcher, { owner: 'alice' })) as Item;
  expect(order.owner).toBe('alice');

  const all = (await syncAll(handler, models.WorkOrder, { lastSync: 0 }, dispatcher)).items;
  expect(new Set(all.map((i) => i.owner))).toEqual(new Set(['alice', 'bob']));
  expect(await ok(handler, 'updateWorkOrder', { input: { id: order.id, _version: 1, owner: 'bob' } }, dispatcher)).toMatchObject({ owner: 'bob' });
  expect(await ok(handler, 'getWorkOrder', { id: order.id }, bob)).toMatchObject({ owner: 'bob' });
});

test('callers no rule admits answer Unauthorized', async () => {
  expect(await invoke(handler, 'syncWorkOrders', { lastSync: 0 }, apiKey)).toEqual(unauthorized);
  expect(await invoke(handler, 'getWorkOrder', { id: randomUUID() }, iam)).toEqual(unauthorized);
  expect(await invoke(handlers.Customer!, 'syncCustomers', { lastSync: 0 }, iam)).toEqual(unauthorized);
  const noUsername = { sub: 'x', issuer: 'https://cognito-idp', claims: { sub: 'x' }, username: '' }; // owner rules need one
  expect(await invoke(handler, 'syncWorkOrders', { lastSync: 0 }, noUsername)).toEqual(unauthorized);
  expect(await invoke(handler, 'syncWorkOrders', { lastSync: 0 }, { claims: { iss: 'oidc' } })).toEqual(unauthorized); // OIDC: no rule
});

test('public and private rules admit the API key and any signed-in user', async () => {
  const customer = await createItem(models.Customer, apiKey);
  expect(await ok(handlers.Customer!, 'getCustomer', { id: customer.id }, alice)).toMatchObject({ id: customer.id });
});
