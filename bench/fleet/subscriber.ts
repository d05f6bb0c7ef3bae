// A device's live subscriptions on AppSync's realtime protocol, as DataStore opens them (design.md §6):
// onCreate/onUpdate/onDelete of every model it syncs, with the owner argument on owner-rule models,
// every scalar and enum field selected; signed in with a Cognito ID token (subscriptions carry the ID
// token, HTTP requests the access token, §2).
import { WebSocket } from 'ws';
import { signUserToken, type DevCredentials } from '@datastore-pg/local-appsync';
import { models } from '@datastore-pg/schema/models';
import { SYNCED } from './device';

const OWNER_RULE = new Set(['WorkOrder', 'WorkLog']);

export interface Subscriber {
  username: string;
  /** `${model}:${id}` -> the highest _version received. */
  received: Map<string, number>;
  messages: number;
  errors: string[];
  close(): void;
}

export async function subscribe(realtimeUrl: string, credentials: DevCredentials, username: string): Promise<Subscriber> {
  const headers = { Authorization: signUserToken(credentials.jwtSecret, { username, tokenUse: 'id' }) };
  const header = Buffer.from(JSON.stringify({ host: new URL(realtimeUrl).host, ...headers })).toString('base64url');
  const socket = new WebSocket(realtimeUrl, ['graphql-ws', `header-${header}`]);
  const subscriber: Subscriber = { username, received: new Map(), messages: 0, errors: [], close: () => socket.close() };
  const waiting = new Map<string, (message: Record<string, any>) => void>();
  socket.on('message', (raw) => {
    const message = JSON.parse(String(raw)) as Record<string, any>;
    if (message.type === 'data') {
      subscriber.messages++;
      if (message.payload?.errors) subscriber.errors.push(JSON.stringify(message.payload.errors));
      const item = Object.values(message.payload?.data ?? {})[0] as { id?: string; _version?: number } | undefined;
      // The subscription's id is its field (onUpdateWorkOrder): the model is what follows the operation.
      const model = String(message.id).replace(/^on(Create|Update|Delete)/, '');
      if (item?.id !== undefined && item._version !== undefined) {
        const key = `${model}:${item.id}`;
        subscriber.received.set(key, Math.max(item._version, subscriber.received.get(key) ?? 0));
      }
      return;
    }
    waiting.get(message.type === 'connection_ack' ? 'ack' : message.id)?.(message);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const answer = (key: string) => new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${username}: the endpoint did not answer ${key}`)), 10_000);
    waiting.set(key, (message) => { clearTimeout(timer); waiting.delete(key); resolve(message); });
  });
  const ack = answer('ack');
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await ack;
  for (const name of SYNCED) {
    const model = models[name];
    const selection = [...model.fields.map((f) => f.name), '_version', '_lastChangedAt', '_deleted'].join(' ');
    for (const operation of ['Create', 'Update', 'Delete']) {
      const field = `on${operation}${name}`;
      const query = OWNER_RULE.has(name)
        ? `subscription ($owner: String!) { ${field}(owner: $owner) { ${selection} } }`
        : `subscription { ${field} { ${selection} } }`;
      const started = answer(field);
      socket.send(JSON.stringify({ id: field, type: 'start', payload: { data: JSON.stringify({ query, variables: { owner: username } }), extensions: { authorization: headers } } }));
      const reply = await started;
      if (reply.type !== 'start_ack') throw new Error(`${username}: subscribing to ${field} answered ${JSON.stringify(reply)}`);
    }
  }
  return subscriber;
}
