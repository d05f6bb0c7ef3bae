// The local endpoint as a client sees it: AppSync's auth, errors, scalars and realtime protocol, with the
// deployed resolvers and the real handlers behind it.
import { randomUUID } from 'node:crypto';
import { graphql, realtimeClient, useLocalAppSync, userHeaders } from './helpers';

const local = useLocalAppSync();
const apiKey = () => ({ 'x-api-key': local.credentials.apiKey });
const customerFields = 'id name email phone createdAt updatedAt _version _deleted _lastChangedAt';

describe('HTTP', () => {
  test('API key: create and sync, with AWSTimestamp values beyond 32 bits', async () => {
    const id = randomUUID();
    const created = await graphql(local.server.url, apiKey(), `mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { ${customerFields} } }`, { input: { id, name: 'Acme' } });
    expect(created.body).toEqual({ data: { createCustomer: expect.objectContaining({ id, name: 'Acme', _version: 1, _deleted: false }) } });

    const synced = await graphql(local.server.url, apiKey(), `query ($lastSync: AWSTimestamp) { syncCustomers(lastSync: $lastSync, limit: 1000) { items { id } nextToken startedAt } }`, { lastSync: 0 });
    expect(synced.body.data!.syncCustomers.startedAt).toBeGreaterThan(2 ** 32);
    expect(synced.body.data!.syncCustomers.items).toContainEqual({ id });
  });

  test('a conflict reaches the client as AppSync shapes it: errorType ConflictUnhandled, the server item as data', async () => {
    const id = randomUUID();
    const create = `mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }`;
    const update = `mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) { ${customerFields} } }`;
    await graphql(local.server.url, apiKey(), create, { input: { id, name: 'Acme' } });
    const v2 = (await graphql(local.server.url, apiKey(), update, { input: { id, _version: 1, name: 'Acme Ltd' } })).body.data!.updateCustomer;

    const stale = await graphql(local.server.url, apiKey(), update, { input: { id, _version: 1, name: 'Acme Inc' } });

    expect(stale.body).toEqual({
      data: { updateCustomer: null },
      errors: [{ path: ['updateCustomer'], data: v2, errorType: 'ConflictUnhandled', errorInfo: null, locations: expect.any(Array), message: expect.any(String) }],
    });
  });

  test('unauthenticated requests get 401; a model\'s auth modes are enforced per field', async () => {
    expect((await graphql(local.server.url, {}, '{ getCustomer(id: "x") { id } }')).status).toBe(401);
    expect((await graphql(local.server.url, { 'x-api-key': 'da2-wrong' }, '{ getCustomer(id: "x") { id } }')).status).toBe(401);
    expect((await graphql(local.server.url, { Authorization: 'not.a.jwt' }, '{ getCustomer(id: "x") { id } }')).status).toBe(401);

    const denied = await graphql(local.server.url, apiKey(), 'query { syncWorkOrders(lastSync: 0) { items { id } } }');
    expect(denied.body.errors).toEqual([expect.objectContaining({ errorType: 'Unauthorized', message: 'Not Authorized to access syncWorkOrders on type Query' })]);

    const allowed = await graphql(local.server.url, userHeaders(local.credentials.jwtSecret, 'tech-1'), 'query { syncWorkOrders(lastSync: 0) { items { id } } }');
    expect(allowed.body).toEqual({ data: { syncWorkOrders: { items: [] } } });
  });

  test('AppSync scalars are validated before any resolver runs', async () => {
    const bad = await graphql(local.server.url, apiKey(), 'mutation { createCustomer(input: { name: "x", email: "not-an-email" }) { id } }');
    expect(bad.body.errors?.[0]).toMatchObject({ errorType: 'ValidationError' });
    const unknownField = await graphql(local.server.url, apiKey(), '{ syncCustomer(lastSync: 0) { items { id } } }');
    expect(unknownField.body.errors?.[0]).toMatchObject({ errorType: 'ValidationError', message: expect.stringContaining('syncCustomer') });
  });
});

describe('realtime', () => {
  const onCreateCustomer = `subscription ($filter: ModelSubscriptionCustomerFilterInput) { onCreateCustomer(filter: $filter) { id name _version } }`;
  const onCreateWorkOrder = `subscription ($owner: String, $filter: ModelSubscriptionWorkOrderFilterInput) { onCreateWorkOrder(owner: $owner, filter: $filter) { id title owner } }`;

  test('handshake: connection_ack with connectionTimeoutMs, then keep-alives', async () => {
    const client = await realtimeClient(local.server.realtimeUrl, apiKey());
    client.send({ type: 'connection_init' });
    expect(await client.next((m) => m.type === 'connection_ack')).toEqual({ type: 'connection_ack', payload: { connectionTimeoutMs: 300000 } });
    await client.next((m) => m.type === 'ka');
    await client.next((m) => m.type === 'ka'); // the periodic one
    client.close();
  });

  test('the older handshake, auth in ?header=<base64>&payload=e30=, works too', async () => {
    const header = Buffer.from(JSON.stringify({ host: 'local', ...apiKey() })).toString('base64');
    const { WebSocket } = await import('ws');
    const socket = new WebSocket(`${local.server.realtimeUrl}?header=${encodeURIComponent(header)}&payload=e30=`, ['graphql-ws']);
    const ack = await new Promise<Record<string, unknown>>((resolve, reject) => {
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
      socket.on('message', (raw) => resolve(JSON.parse(String(raw))));
      socket.on('error', reject);
    });
    expect(ack).toMatchObject({ type: 'connection_ack' });
    socket.close();
  });

  test('a bad key is told so before the socket closes', async () => {
    const client = await realtimeClient(local.server.realtimeUrl, { 'x-api-key': 'da2-wrong' });
    expect(await client.next((m) => m.type === 'connection_error')).toMatchObject({ payload: { errors: [{ errorType: 'UnauthorizedException', errorCode: 401 }] } });
  });

  test('mutations fan out to matching subscriptions, with each subscription\'s selection and filter', async () => {
    const client = await realtimeClient(local.server.realtimeUrl, apiKey());
    client.send({ type: 'connection_init' });
    await client.next((m) => m.type === 'connection_ack');
    expect(await client.subscribe('all', onCreateCustomer)).toEqual({ id: 'all', type: 'start_ack' });
    expect(await client.subscribe('north', onCreateCustomer, { filter: { name: { beginsWith: 'North' } } })).toEqual({ id: 'north', type: 'start_ack' });

    const id = randomUUID();
    await graphql(local.server.url, apiKey(), 'mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }', { input: { id, name: 'South Co' } });

    expect(await client.next((m) => m.id === 'all' && m.type === 'data')).toEqual({ id: 'all', type: 'data', payload: { data: { onCreateCustomer: { id, name: 'South Co', _version: 1 } } } });
    await expect(client.next((m) => m.id === 'north' && m.type === 'data', 300)).rejects.toThrow('no such message');

    client.send({ id: 'all', type: 'stop' });
    expect(await client.next((m) => m.id === 'all' && m.type === 'complete')).toEqual({ id: 'all', type: 'complete' });
    client.close();
  });

  test('a subscription filter the resolver cannot use answers an error and the endpoint keeps serving', async () => {
    const client = await realtimeClient(local.server.realtimeUrl, apiKey());
    client.send({ type: 'connection_init' });
    await client.next((m) => m.type === 'connection_ack');
    expect(await client.subscribe('bad', onCreateCustomer, { filter: { name: null } })).toMatchObject({ id: 'bad', type: 'error' });
    expect(await client.subscribe('good', onCreateCustomer)).toEqual({ id: 'good', type: 'start_ack' });
    client.close();
  });

  test('owner subscriptions: the owner argument must be the caller; each technician hears only their own', async () => {
    const secret = local.credentials.jwtSecret;
    const alice = await realtimeClient(local.server.realtimeUrl, userHeaders(secret, 'alice'));
    alice.send({ type: 'connection_init' });
    await alice.next((m) => m.type === 'connection_ack');
    expect(await alice.subscribe('spy', onCreateWorkOrder, { owner: 'bob' })).toMatchObject({ id: 'spy', type: 'error', payload: { errors: [{ errorType: 'Unauthorized' }] } });
    expect(await alice.subscribe('mine', onCreateWorkOrder, { owner: 'alice' })).toEqual({ id: 'mine', type: 'start_ack' });
    const dispatcher = await realtimeClient(local.server.realtimeUrl, userHeaders(secret, 'dispatch', ['Dispatchers']));
    dispatcher.send({ type: 'connection_init' });
    await dispatcher.next((m) => m.type === 'connection_ack');
    expect(await dispatcher.subscribe('all', onCreateWorkOrder, {})).toEqual({ id: 'all', type: 'start_ack' });

    const siteId = await newSite(secret);
    const create = 'mutation ($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { id owner } }';
    const input = (title: string) => ({ id: randomUUID(), siteID: siteId, title, status: 'OPEN', priority: 'NORMAL' });
    const bobs = (await graphql(local.server.url, userHeaders(secret, 'bob'), create, { input: input('bob\'s') })).body.data!.createWorkOrder;
    const alices = (await graphql(local.server.url, userHeaders(secret, 'alice'), create, { input: input('alice\'s') })).body.data!.createWorkOrder;

    expect(await alice.next((m) => m.id === 'mine' && m.type === 'data')).toMatchObject({ payload: { data: { onCreateWorkOrder: { id: alices.id, owner: 'alice' } } } });
    await expect(alice.next((m) => m.id === 'mine' && m.type === 'data', 300)).rejects.toThrow();
    const seen = [await dispatcher.next((m) => m.id === 'all' && m.type === 'data'), await dispatcher.next((m) => m.id === 'all' && m.type === 'data')];
    expect(seen.map((m) => m.payload.data.onCreateWorkOrder.id).sort()).toEqual([bobs.id, alices.id].sort());
    alice.close();
    dispatcher.close();
  });
});

async function newSite(secret: string): Promise<string> {
  const headers = userHeaders(secret, 'dispatch', ['Dispatchers']);
  const customer = await graphql(local.server.url, headers, 'mutation ($input: CreateCustomerInput!) { createCustomer(input: $input) { id } }', { input: { name: 'Acme' } });
  const site = await graphql(local.server.url, headers, 'mutation ($input: CreateSiteInput!) { createSite(input: $input) { id } }', { input: { customerID: customer.body.data!.createCustomer.id, name: 'Plant' } });
  return site.body.data!.createSite.id;
}
