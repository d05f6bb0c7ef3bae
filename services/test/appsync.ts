// Test helpers that call a handler exactly as AppSync's direct Lambda resolver does.
import { randomBytes, randomUUID } from 'node:crypto';
import type { FieldMeta, ModelMeta } from '@datastore-pg/schema/models';
import type { AppSyncEvent, Envelope } from '@datastore-pg/versioning';

export type Handler = (event: AppSyncEvent, context: object) => Promise<Envelope>;
export type Identity = Record<string, unknown> | null;

export const apiKey: Identity = null;

/** A Cognito user pools identity as AppSync passes it (access token claims). */
export function user(username: string, groups: string[] = []): Identity {
  const sub = randomUUID();
  return {
    sub,
    issuer: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test',
    username,
    groups,
    claims: { sub, 'cognito:username': username, 'cognito:groups': groups, token_use: 'access' },
    sourceIp: ['127.0.0.1'],
    defaultAuthStrategy: 'ALLOW',
  };
}

export const iam: Identity = { accountId: '123456789012', userArn: 'arn:aws:iam::123456789012:user/ci', sourceIp: ['127.0.0.1'] };

export const dispatcher = user('dispatcher', ['Dispatchers']);

export async function invoke(handler: Handler, fieldName: string, args: Record<string, unknown>, identity: Identity): Promise<Envelope> {
  const parentTypeName = /^(sync|get)/.test(fieldName) ? 'Query' : 'Mutation';
  return handler({ arguments: args, identity, info: { fieldName, parentTypeName, selectionSetList: [], variables: {} } }, {});
}

/** The data of a successful call; fails the test with the error otherwise. */
export async function ok<T = Record<string, unknown>>(handler: Handler, fieldName: string, args: Record<string, unknown>, identity: Identity): Promise<T> {
  const result = await invoke(handler, fieldName, args, identity);
  if ('errorType' in result) throw new Error(`${fieldName} failed: ${result.errorType}: ${result.errorMessage}`);
  return result.data as T;
}

export interface SyncPage {
  items: Record<string, unknown>[];
  nextToken: string | null;
  startedAt: number;
}

/** Pages through a sync until nextToken is null, as DataStore does. */
export async function syncAll(handler: Handler, model: ModelMeta, args: { lastSync?: number; filter?: unknown; limit?: number }, identity: Identity) {
  const pages: SyncPage[] = [];
  let nextToken: string | null = null;
  do {
    const page: SyncPage = await ok<SyncPage>(handler, `sync${model.pluralName}`, { filter: null, limit: 1000, lastSync: 0, ...args, nextToken }, identity);
    pages.push(page);
    nextToken = page.nextToken;
  } while (nextToken !== null);
  return { pages, items: pages.flatMap((p) => p.items), startedAt: pages.at(-1)!.startedAt };
}

/** A valid value of a field's type; strings are unique, so unique columns take them. */
export function sampleValue(field: FieldMeta): unknown {
  return field.list ? [sampleScalar(field)] : sampleScalar(field);
}

function sampleScalar(field: FieldMeta): unknown {
  const unique = randomBytes(4).toString('hex');
  if (field.type.kind === 'enum') return field.type.values[0];
  switch (field.type.name) {
    case 'ID': return randomUUID();
    case 'Int': return 7;
    case 'Float': return 12.5;
    case 'Boolean': return true;
    case 'AWSDate': return '2026-03-14';
    case 'AWSTime': return '10:15:00Z';
    case 'AWSDateTime': return '2026-03-14T10:15:00.000Z';
    case 'AWSTimestamp': return 1_773_483_300;
    case 'AWSEmail': return `tech-${unique}@example.com`;
    case 'AWSURL': return `https://example.com/${unique}`;
    case 'AWSPhone': return '+15550100100';
    case 'AWSIPAddress': return '10.0.0.1';
    case 'AWSJSON': return JSON.stringify({ unique });
    case 'String': return `${field.name} ${unique}`;
  }
}
