// Live changes through the local endpoint: a change by plain SQL reaches a subscriber; only an IAM
// caller may publish (API keys and users are refused, before anything reaches a subscriber); the
// forwarder Lambda's own transport (SigV4 over HTTP) publishes through the endpoint as it does through
// AppSync.
import { randomUUID } from 'node:crypto';
import { appSyncTransport } from '@datastore-pg/forwarder/appsync-transport';
import { publishRequest } from '@datastore-pg/schema/live';
import { models } from '@datastore-pg/schema/models';
import { graphql, realtimeClient, useLocalAppSync, userHeaders } from './helpers';

const local = useLocalAppSync();
const apiKey = () => ({ 'x-api-key': local.credentials.apiKey });
const onCustomer = (op: 'Create' | 'Update' | 'Delete') => `subscription { on${op}Customer { id name _version _deleted } }`;

async function subscriber(...ops: ('Create' | 'Update' | 'Delete')[]) {
  const client = await realtimeClient(local.server.realtimeUrl, apiKey());
  client.send({ type: 'connection_init' });
  await client.next((m) => m.type === 'connection_ack');
  for (const op of ops) expect(await client.subscribe(op, onCustomer(op))).toEqual({ id: op, type: 'start_ack' });
  return client;
}

const item = (fields: Record<string, unknown> = {}) => ({
  id: randomUUID(), name: 'Published', email: null, phone: null, createdAt: '2026-12-02T08:00:00.000Z', updatedAt: '2026-12-02T08:00:00.000Z',
  _version: 1, _deleted: false, _lastChangedAt: 1796198400000, ...fields,
});

test('an insert, an update and a hard delete by plain SQL reach a subscriber, on onCreate, onUpdate and onDelete', async () => {
  const client = await subscriber('Create', 'Update', 'Delete');
  const [customer] = await local.db.sql<{ id: string }[]>`insert into customers (name) values ('By SQL') returning id`;
  expect(await client.next((m) => m.id === 'Create' && m.type === 'data')).toMatchObject({ payload: { data: { onCreateCustomer: { id: customer!.id, name: 'By SQL', _version: 1 } } } });

  await local.db.sql`update customers set name = 'By SQL, renamed' where id = ${customer!.id}`;
  expect(await client.next((m) => m.id === 'Update' && m.type === 'data')).toMatchObject({ payload: { data: { onUpdateCustomer: { id: customer!.id, name: 'By SQL, renamed', _version: 2 } } } });

  await local.db.sql`delete from customers where id = ${customer!.id}`;
  expect(await client.next((m) => m.id === 'Delete' && m.type === 'data')).toMatchObject({ payload: { data: { onDeleteCustomer: { id: customer!.id, _version: 3, _deleted: true } } } });
  client.close();
});

test('a change the API answers with errors (an invalid AWSEmail written by SQL) is reported, and later changes still flow', async () => {
  const client = await subscriber('Create');
  const [bad] = await local.db.sql<{ id: string }[]>`insert into customers (name, email) values ('Bad mail', 'not an email') returning id`;
  const [good] = await local.db.sql<{ id: string }[]>`insert into customers (name, email) values ('Good mail', 'ops@example.com') returning id`;

  expect(await client.next((m) => m.id === 'Create' && m.type === 'data' && m.payload.data.onCreateCustomer.id === good!.id)).toBeTruthy();
  expect(local.forwarderErrors.map(String)).toContainEqual(expect.stringContaining(`the API answered Customer ${bad!.id} v1 with errors: Lambda:Unhandled: Invalid AWSEmail value`));
  client.close();
});

test('a device mutation reaches other subscribers through the forwarder too (one ordered path)', async () => {
  const published: { id: string; _version: number }[] = [];
  local.server.api.onMutation((field, result) => field === 'publishUpdateCustomer' && published.push(result as { id: string; _version: number }));
  const client = await subscriber('Update');
  const [customer] = await local.db.sql<{ id: string }[]>`insert into customers (name) values ('Acme') returning id`;
  const update = 'mutation ($input: UpdateCustomerInput!) { updateCustomer(input: $input) { id _version } }';
  for (const [version, name] of [[1, 'Acme 2'], [2, 'Acme 3'], [3, 'Acme 4']] as const) {
    expect((await graphql(local.server.url, apiKey(), update, { input: { id: customer!.id, _version: version, name } })).body.errors).toBeUndefined();
  }

  // A burst is coalesced to the latest version per pass; whatever arrives, versions only go up.
  const seen: number[] = [];
  while (seen.at(-1) !== 4) seen.push((await client.next((m) => m.id === 'Update' && m.type === 'data')).payload.data.onUpdateCustomer._version);
  expect(seen).toEqual([...seen].sort((a, b) => a - b));
  // Every delivery came from the forwarder's publish mutation, none from the device's updateCustomer.
  expect(published.filter((p) => p.id === customer!.id).map((p) => p._version)).toEqual(seen);
  client.close();
});

test('the publish mutations refuse API keys and signed-in users, and reach no subscriber', async () => {
  const client = await subscriber('Create');
  const { query, variables } = publishRequest(models.Customer, item({ name: 'Forged' }));

  const byKey = await graphql(local.server.url, apiKey(), query, variables);
  const byUser = await graphql(local.server.url, userHeaders(local.credentials.jwtSecret, 'dispatch', ['Dispatchers']), query, variables);

  for (const answer of [byKey, byUser]) {
    expect(answer.body).toEqual({ data: { publishCreateCustomer: null }, errors: [expect.objectContaining({ errorType: 'Unauthorized', message: 'Not Authorized to access publishCreateCustomer on type Mutation' })] });
  }
  await expect(client.next((m) => m.type === 'data', 500)).rejects.toThrow('no such message');
  client.close();
});

test('of IAM callers, only the forwarder role\'s sessions may publish', async () => {
  const { parse } = await import('graphql');
  const { query, variables } = publishRequest(models.Customer, item({ name: 'From an admin role' }));
  const admin = { mode: 'AWS_IAM' as const, identity: { accountId: '000000000000', userArn: 'arn:aws:sts::000000000000:assumed-role/Admin/alice', cognitoIdentityId: null } };
  const identityPool = { mode: 'AWS_IAM' as const, identity: { accountId: '000000000000', userArn: 'arn:aws:sts::000000000000:assumed-role/datastore-pg-local-forwarder/app', cognitoIdentityId: 'eu-west-1:1234' } };

  for (const caller of [admin, identityPool]) {
    const answer = await local.server.api.run(parse(query), variables, undefined, { caller, headers: {} });
    expect(answer.errors?.map((e) => e.message)).toEqual(['Not Authorized to access publishCreateCustomer on type Mutation']);
  }
});

test('the forwarder Lambda\'s transport signs with SigV4 and publishes through the endpoint', async () => {
  const client = await subscriber('Create');
  const signedHeaders: string[] = [];
  const transport = appSyncTransport({
    url: local.server.url,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session' },
  });
  const published = item({ name: 'Signed' });
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    signedHeaders.push(String((init?.headers as Record<string, string>).authorization));
    return original(input, init);
  };
  try {
    const { query, variables } = publishRequest(models.Customer, published);
    expect(await transport({ query, variables })).toEqual({ data: { publishCreateCustomer: expect.objectContaining({ id: published.id, name: 'Signed' }) } });
  } finally {
    globalThis.fetch = original;
  }

  expect(signedHeaders).toEqual([expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/appsync\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*x-amz-date[a-z0-9;-]*, Signature=[0-9a-f]{64}$/)]);
  expect(await client.next((m) => m.id === 'Create' && m.type === 'data')).toMatchObject({ payload: { data: { onCreateCustomer: { id: published.id, name: 'Signed' } } } });
  client.close();
});

test('a publish of something that is not an item is refused with a typed error', async () => {
  const transport = appSyncTransport({ url: local.server.url, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });
  const answer = await transport({ query: 'mutation ($item: AWSJSON!) { publishCreateCustomer(item: $item) { id } }', variables: { item: '[1, 2]' } });
  expect(answer).toEqual({ data: { publishCreateCustomer: null }, errors: [expect.objectContaining({ errorType: 'BadRequest', message: 'item must be a JSON object with an id and a _version' })] });
});
