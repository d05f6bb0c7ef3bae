import { closeSharedConnection } from '@datastore-pg/db';
import { useTestDatabase, type TestDatabase } from '@datastore-pg/testing';
import { WebSocket } from 'ws';
import { newDevCredentials, signUserToken, startLocalAppSync, type LocalAppSync } from '../src';

/** A local AppSync on its own test database, for one test file. */
export function useLocalAppSync(): { readonly server: LocalAppSync; credentials: ReturnType<typeof newDevCredentials>; readonly db: TestDatabase; forwarderErrors: unknown[] } {
  let server: LocalAppSync | undefined;
  const forwarderErrors: unknown[] = [];
  // Before the database's hooks: Jest runs afterAll hooks in declaration order, and the forwarder must
  // stop while its database is still there.
  afterAll(async () => {
    await server?.close();
    await closeSharedConnection();
  });
  const db = useTestDatabase();
  const credentials = newDevCredentials();
  beforeAll(async () => {
    process.env.DATABASE_URL = db.url;
    server = await startLocalAppSync({ credentials, keepAliveMs: 200, live: { databaseUrl: db.url, intervalMs: 50, onError: (error) => forwarderErrors.push(error) } });
  });
  return {
    get server() {
      return server!;
    },
    credentials,
    db,
    forwarderErrors,
  };
}

export type Headers = Record<string, string>;

export async function graphql(url: string, headers: Headers, query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });
  return { status: response.status, body: (await response.json()) as { data?: Record<string, any>; errors?: Record<string, any>[] } };
}

export function userHeaders(secret: string, username: string, groups: string[] = []): Headers {
  return { Authorization: signUserToken(secret, { username, groups }) };
}

/** A realtime client speaking Amplify v6's handshake: subprotocols graphql-ws and header-<base64url>. */
export async function realtimeClient(url: string, headers: Headers, options: { ca?: string } = {}) {
  const header = Buffer.from(JSON.stringify({ host: new URL(url).host, ...headers })).toString('base64url');
  const socket = new WebSocket(url, ['graphql-ws', `header-${header}`], options);
  const messages: Record<string, any>[] = [];
  const waiters: { test: (m: Record<string, any>) => boolean; resolve: (m: Record<string, any>) => void }[] = [];
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as Record<string, any>;
    messages.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.test(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const next = (test: (m: Record<string, any>) => boolean, timeoutMs = 3000) => {
    const seen = messages.find(test);
    if (seen) {
      messages.splice(messages.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise<Record<string, any>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no such message in time')), timeoutMs);
      waiters.push({ test, resolve: (m) => { clearTimeout(timer); messages.splice(messages.indexOf(m), 1); resolve(m); } });
    });
  };
  return {
    socket,
    messages,
    next,
    send: (message: unknown) => socket.send(JSON.stringify(message)),
    async subscribe(id: string, query: string, variables: Record<string, unknown> = {}, authorization: Headers = headers) {
      socket.send(JSON.stringify({ id, type: 'start', payload: { data: JSON.stringify({ query, variables }), extensions: { authorization } } }));
      return next((m) => m.id === id && (m.type === 'start_ack' || m.type === 'error'));
    },
    close: () => socket.close(),
  };
}
