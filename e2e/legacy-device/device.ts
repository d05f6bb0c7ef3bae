// One device running the older AppSync SDK (the `aws-appsync` npm client, 4.1.10) and its Delta Sync:
// client.sync(buildSync(...)) with list<Plural> as the base query, list<Plural>Delta as the delta query
// and onDelta<Model> as the subscription (AWS's tutorial, seeds/001). Driven like e2e/device/device.ts:
// JSON commands on stdin, answers and events on stdout; config in LEGACY_DEVICE_CONFIG (JSON).
//
// The SDK keeps its cache and its lastSync in a redux-offline store (client.sync refuses to run with
// disableOffline). That store is persisted to a file, as on a phone's disk, so a device process started
// again on the same file is the app opened again: it runs the delta query, not the base query.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ApolloLink } from 'apollo-link';
import { AUTH_TYPE, AWSAppSyncClient, buildSync, createAppSyncLink } from 'aws-appsync';
import { hashForOptions } from 'aws-appsync/lib/deltaSync';
import { CONTROL_EVENTS_KEY } from 'aws-appsync-subscription-link';
import { getOperationAST, parse, type DocumentNode, type FieldNode } from 'graphql';
import { WebSocket as NodeWebSocket } from 'ws';
import { emit, runDevice, serveCommands, type Commands } from '../device-ipc';

export interface LegacyDeviceConfig {
  endpoint: string;
  /** A technician's ID token (sent as AMAZON_COGNITO_USER_POOLS' jwtToken), else the API key. */
  auth: { apiKey: string } | { jwtToken: string };
  /** The redux-offline store's file: the same file across restarts. */
  storageFile: string;
  model: { name: string; plural: string; fields: string[] };
  /** onDelta<Model>'s owner argument, which an owner rule requires of a technician. */
  owner?: string;
}

const config = JSON.parse(process.env.LEGACY_DEVICE_CONFIG ?? '{}') as LegacyDeviceConfig;

// The network, with a switch. Every list query that reaches the server is logged ('request': its
// lastSync as sent, and when it left and came back); every onDelta message that arrives, too.
let online = true;
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as { query?: string; variables?: Record<string, unknown> }) : undefined;
  const operation = body?.query?.match(/\b(list\w+)\b/)?.[1];
  if (!online) throw new TypeError('fetch failed: network unreachable (device offline)');
  const sentAt = Date.now();
  const response = await realFetch(input, init);
  if (operation) {
    const answer = (await response.clone().json()) as { data?: Record<string, unknown[] | null>; errors?: { errorType?: string; message?: string }[] };
    const items = answer.data?.[operation];
    emit({ event: 'request', operation, lastSync: body?.variables?.lastSync, items: Array.isArray(items) ? items.length : null, errors: answer.errors, sentAt, receivedAt: Date.now() });
  }
  return response;
};
const sockets = new Set<NodeWebSocket>();
(globalThis as { WebSocket?: unknown }).WebSocket = class DeviceWebSocket extends NodeWebSocket {
  constructor(url: string, protocols?: string | string[]) {
    super(online ? url : 'ws://127.0.0.1:9/offline', protocols);
    sockets.add(this);
    this.on('close', () => sockets.delete(this));
    this.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as { type?: string; payload?: { data?: Record<string, { id?: string; aws_ds?: string | null; _version?: number } | null> } };
      if (message.type !== 'data') return;
      for (const [field, item] of Object.entries(message.payload?.data ?? {})) emit({ event: 'subscriptionData', field, id: item?.id, aws_ds: item?.aws_ds, _version: item?._version });
    });
  }
};
// redux-offline learns the network's state only from a browser's window (its defaults/detectNetwork.js:
// navigator.onLine, then 'online'/'offline' events), and until it hears "online" it runs nothing, the
// Delta Sync included. The SDK's Delta Sync re-queues itself on "offline" and runs its delta query on
// "online" (aws-appsync lib/deltaSync.js). Node has no window: this is the part of one the SDK reads.
const browserWindow = Object.assign(new EventTarget(), { navigator: { onLine: true } });
(globalThis as { window?: unknown }).window = browserWindow;

/** redux-persist 4's storage interface (callbacks), over one JSON file rewritten whole on each change. */
function fileStorage(path: string) {
  const entries = (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {}) as Record<string, string>;
  const save = () => {
    writeFileSync(`${path}.tmp`, JSON.stringify(entries));
    renameSync(`${path}.tmp`, path); // a process killed mid-write leaves the previous file, as a phone's storage would
  };
  type Callback<T> = (error: Error | null, value?: T) => void;
  const later = <T>(callback: Callback<T> | undefined, value?: T) => setImmediate(() => callback?.(null, value));
  return {
    getAllKeys: (callback: Callback<string[]>) => later(callback, Object.keys(entries)),
    getItem: (key: string, callback: Callback<string | null>) => later(callback, entries[key] ?? null),
    setItem: (key: string, value: string, callback?: Callback<void>) => {
      entries[key] = value;
      save();
      later(callback);
    },
    removeItem: (key: string, callback?: Callback<void>) => {
      delete entries[key];
      save();
      later(callback);
    },
  };
}

function documents() {
  const { name, plural, fields } = config.model;
  const selection = fields.join(' ');
  return {
    baseQuery: parse(`query List${plural} { list${plural} { ${selection} } }`),
    deltaQuery: parse(`query List${plural}Delta($lastSync: AWSTimestamp) { list${plural}Delta(lastSync: $lastSync) { ${selection} } }`),
    subscriptionQuery: parse(config.owner !== undefined
      ? `subscription OnDelta${name}($owner: String) { onDelta${name}(owner: $owner) { ${selection} } }`
      : `subscription OnDelta${name} { onDelta${name} { ${selection} } }`),
  };
}

/**
 * The SDK's Delta Sync waits for its subscription's CONNECTED control message before it runs the base or
 * delta query (lib/deltaSync.js), and never gets it from the realtime link it ships with
 * (aws-appsync-subscription-link 2.4.3, realtime-subscription-handshake-link.js), against AWS as here:
 * awslabs/aws-mobile-appsync-sdk-js#573, open since 2020. Two mismatches, both mended by this link in
 * front of the SDK's own (the same package's older MQTT path does both, in index.js and
 * subscription-handshake-link.js):
 *  - the SDK asks for control messages in the subscription's variables, the link reads the wish from the
 *    operation's context (`controlMessages`): moved there, and no longer sent to the server;
 *  - the link hands CONNECTED on with `data` taken from AppSync's start_ack, which has no payload, and
 *    Apollo's cache throws writing undefined: given the MQTT path's `{ <field>: null }` instead.
 */
const deltaSyncControlEvents = new ApolloLink((operation, forward) => {
  const { [CONTROL_EVENTS_KEY]: controlEvents, ...variables } = operation.variables;
  if (controlEvents === undefined) return forward!(operation);
  operation.variables = variables;
  operation.setContext({ controlMessages: { [CONTROL_EVENTS_KEY]: controlEvents } });
  const fields = getOperationAST(operation.query, null)!.selectionSet.selections.map((s) => (s as FieldNode).name.value);
  return forward!(operation).map((result) => (result.data === undefined && result.extensions?.controlMsgType
    ? { ...result, data: Object.fromEntries(fields.map((field) => [field, null])) }
    : result));
});

async function main(): Promise<void> {
  const url = config.endpoint;
  const auth = 'jwtToken' in config.auth
    ? { type: AUTH_TYPE.AMAZON_COGNITO_USER_POOLS as const, jwtToken: config.auth.jwtToken }
    : { type: AUTH_TYPE.API_KEY as const, apiKey: config.auth.apiKey };
  const client = new AWSAppSyncClient(
    { url, region: 'local', auth, offlineConfig: { storage: fileStorage(config.storageFile) } },
    { link: ApolloLink.from([deltaSyncControlEvents, createAppSyncLink({ url, region: 'local', auth, complexObjectsCredentials: () => null })]) },
  );
  await client.hydrated();
  const { baseQuery, deltaQuery, subscriptionQuery } = documents();
  const variables = config.owner !== undefined ? { owner: config.owner } : {};
  // buildSync's declared types ask for update functions, which it writes itself (lib/deltaSync.js).
  const syncOptions = buildSync(config.model.name, {
    baseQuery: { query: baseQuery, variables: {} },
    deltaQuery: { query: deltaQuery, variables: {} },
    subscriptionQuery: { query: subscriptionQuery, variables },
  } as never);
  // The SDK's private redux store: its queue of effects, and lastSync per sync options under
  // 'appsync-metadata' (aws-appsync lib/cache/offline-cache.js, lib/deltaSync.js).
  const store = (client as unknown as { _store: { getState(): any; subscribe(listener: () => void): () => void } })._store;
  const hash = hashForOptions(syncOptions);
  const lastSyncs = () => {
    const stored = store.getState()['appsync-metadata'].deltaSync.metadata[hash] as { lastSyncTimestamp?: number; baseLastSyncTimestamp?: number | null } | undefined;
    return { lastSyncTimestamp: stored?.lastSyncTimestamp ?? null, baseLastSyncTimestamp: stored?.baseLastSyncTimestamp ?? null };
  };
  let running: { unsubscribe(): void } | undefined;

  /** Until the SDK has run a base or delta query (it stored a new lastSync) and has nothing left queued. */
  const synced = (before: ReturnType<typeof lastSyncs>, timeoutMs = 20_000) => new Promise<void>((resolve, reject) => {
    const check = () => {
      const now = lastSyncs();
      const moved = now.lastSyncTimestamp !== before.lastSyncTimestamp || now.baseLastSyncTimestamp !== before.baseLastSyncTimestamp;
      if (moved && store.getState().offline.outbox.length === 0) {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    };
    const timer = setTimeout(() => { unsubscribe(); reject(new Error(`no sync within ${timeoutMs} ms`)); }, timeoutMs);
    const unsubscribe = store.subscribe(check);
    check();
  });
  const readList = () => {
    const data = client.readQuery<Record<string, unknown[]>>({ query: baseQuery as DocumentNode });
    return JSON.parse(JSON.stringify(data?.[`list${config.model.plural}`] ?? []));
  };
  let lastChange = Date.now();
  store.subscribe(() => { lastChange = Date.now(); });

  const commands: Commands = {
    /** Starts the Delta Sync; answers once its base or delta query has been applied to the cache. */
    start: async () => {
      const before = lastSyncs();
      running = client.sync(syncOptions);
      await synced(before);
      return lastSyncs();
    },
    list: async () => readList(),
    /**
     * Ends the sync (its subscription) and waits until the store has reached the file: the app closes.
     * redux-persist writes the changed keys on a zero-delay timer after each change (createPersistor.js),
     * so 300 ms without a change leaves nothing unwritten.
     */
    stop: async () => {
      running?.unsubscribe();
      running = undefined;
      while (Date.now() - lastChange < 300) await new Promise((done) => setTimeout(done, 50));
      return lastSyncs();
    },
    /** Off: requests fail, the socket drops, and the SDK hears "offline". On: it hears "online" and syncs. */
    network: async ({ online: on }: { online: boolean }) => {
      const before = lastSyncs();
      online = on;
      browserWindow.navigator.onLine = on;
      if (!on) for (const socket of sockets) socket.terminate();
      browserWindow.dispatchEvent(new Event(on ? 'online' : 'offline'));
      if (on) await synced(before);
      return lastSyncs();
    },
  };

  serveCommands(commands);
}

runDevice(main);
