// One device: the real aws-amplify v6 DataStore client in its own process (DataStore is a singleton and
// leaves timers behind, design.md §5), driven by JSON commands on stdin and answering on stdout.
// Config comes in DEVICE_CONFIG (JSON): endpoint, apiKey, user tokens, models directory, conflict
// handler, selective-sync expression.
import { Amplify } from 'aws-amplify';
import { Hub } from 'aws-amplify/utils';
import { decodeJWT } from '@aws-amplify/core';
import { DataStore, syncExpression, type PersistentModelConstructor } from '@aws-amplify/datastore';
import { WebSocket as NodeWebSocket } from 'ws';
import { emit, runDevice, serveCommands, type Commands } from '../device-ipc';

export interface DeviceConfig {
  endpoint: string;
  apiKey: string;
  user?: { accessToken: string; idToken: string };
  modelsDir: string;
  /** keep-local-name: on a conflict, take the server's item but keep this device's name. */
  conflict?: 'default' | 'keep-local-name';
  selective?: { model: string; field: string; eq: string };
}

const config = JSON.parse(process.env.DEVICE_CONFIG ?? '{}') as DeviceConfig;

// The network, with switches. Offline: requests fail as they would without signal (logged as
// 'unreachable'). Lost responses: the request reaches the server, which applies it, and the answer never
// comes back, as when the connection drops after the server has written (the client retries network
// errors, design.md §6). Every request that reached the server is logged as a 'request' event; for a
// mutation or get, with what was sent (input) and what the server answered (data, errorType, errorData).
let online = true;
const responsesToLose = new Map<string, number>();
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { query?: string; variables?: Record<string, unknown> }) : undefined;
  const operation = body?.query?.match(/\b(sync\w+|get\w+|create\w+|update\w+|delete\w+)\(/)?.[1];
  const single = operation !== undefined && !operation.startsWith('sync');
  const sent = single ? { input: body?.variables?.input ?? { id: body?.variables?.id } } : {};
  if (!online) {
    if (operation) emit({ event: 'unreachable', operation, ...sent });
    throw new TypeError('fetch failed: network unreachable (device offline)');
  }
  const response = await realFetch(input, init);
  if (operation) {
    const clone = (await response.clone().json()) as { data?: Record<string, { items?: unknown[] } | null>; errors?: { errorType?: string; data?: unknown }[] };
    const toLose = responsesToLose.get(operation) ?? 0;
    if (toLose > 0) responsesToLose.set(operation, toLose - 1);
    emit({
      event: 'request', operation, lastSync: body?.variables?.lastSync, items: clone.data?.[operation]?.items?.length, errorType: clone.errors?.[0]?.errorType,
      ...(single ? { ...sent, data: clone.data?.[operation] ?? null, errorData: clone.errors?.[0]?.data } : {}),
      ...(toLose > 0 ? { lost: true } : {}),
    });
    if (toLose > 0) throw new TypeError('fetch failed: connection reset (the response was lost)');
  }
  return response;
};
// Amplify v6 turns http://host/graphql into wss://host/graphql/realtime; the local endpoint speaks ws://.
class DeviceWebSocket extends NodeWebSocket {
  constructor(url: string | URL, protocols?: string | string[]) {
    super(online ? String(url).replace(/^wss:\/\/(127\.0\.0\.1|localhost)/, 'ws://$1') : 'ws://127.0.0.1:9/offline', protocols);
  }
}
(globalThis as { WebSocket?: unknown }).WebSocket = DeviceWebSocket;

async function main(): Promise<void> {
  const models = (await import(`${config.modelsDir}/index.js`)) as Record<string, PersistentModelConstructor<any>>;
  const tokens = config.user;
  Amplify.configure(
    {
      API: { GraphQL: { endpoint: config.endpoint, region: 'local', defaultAuthMode: tokens ? 'userPool' : 'apiKey', apiKey: config.apiKey } },
      Auth: { Cognito: { userPoolId: 'local_pool', userPoolClientId: 'local-client' } },
    },
    tokens ? { Auth: { tokenProvider: { getTokens: async () => ({ accessToken: decodeJWT(tokens.accessToken), idToken: decodeJWT(tokens.idToken) }) } } } : undefined,
  );
  const { AsyncStorageAdapter } = require('@aws-amplify/datastore/dist/cjs/storage/adapter/AsyncStorageAdapter') as { AsyncStorageAdapter: new () => unknown };
  DataStore.configure({
    storageAdapter: new AsyncStorageAdapter() as never,
    syncPageSize: 2, // small pages: an initial sync of a few rows already takes several
    ...(config.selective ? { syncExpressions: [syncExpression(models[config.selective.model]!, () => (m: any) => m[config.selective!.field].eq(config.selective!.eq))] } : {}),
    ...(config.conflict === 'keep-local-name'
      ? { conflictHandler: async ({ localModel, remoteModel, modelConstructor }: any) => modelConstructor.copyOf(remoteModel, (draft: any) => { draft.name = localModel.name; }) }
      : {}),
  } as never);

  Hub.listen('datastore', ({ payload }) => {
    if (['ready', 'syncQueriesReady', 'outboxStatus', 'networkStatus'].includes(payload.event)) emit({ event: payload.event, data: payload.data ?? null });
  });

  const plain = (item: unknown) => JSON.parse(JSON.stringify(item));
  const model = (name: string) => {
    const m = models[name];
    if (!m) throw new Error(`no model ${name}`);
    return m;
  };
  const commands: Commands = {
    start: () => DataStore.start(),
    stop: () => DataStore.stop(),
    save: async ({ model: name, fields }) => plain(await DataStore.save(new (model(name))(fields))),
    update: async ({ model: name, id, fields }) => {
      const current = await DataStore.query(model(name), id);
      if (!current) throw new Error(`${name} ${id} is not on this device`);
      return plain(await DataStore.save(model(name).copyOf(current, (draft: any) => Object.assign(draft, fields))));
    },
    delete: async ({ model: name, id }) => {
      const current = await DataStore.query(model(name), id);
      if (!current) throw new Error(`${name} ${id} is not on this device`);
      return plain(await DataStore.delete(current));
    },
    query: async ({ model: name }) => plain(await DataStore.query(model(name))),
    get: async ({ model: name, id }) => plain((await DataStore.query(model(name), id)) ?? null),
    network: async ({ online: on }) => {
      online = on;
      return online;
    },
    /** The next count responses to this operation (e.g. updatePart) are lost after the server applied the request. */
    loseResponses: async ({ operation, count }) => {
      responsesToLose.set(operation, count ?? 1);
      return null;
    },
  };

  serveCommands(commands);
}

runDevice(main);
