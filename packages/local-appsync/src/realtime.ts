// AppSync's realtime WebSocket protocol as Amplify v6 speaks it (aws-amplify api-graphql
// AWSWebSocketProvider): subprotocols graphql-ws and header-<base64url JSON of the auth headers> (or the
// older ?header=<base64>&payload=e30= query), connection_init -> connection_ack {connectionTimeoutMs},
// periodic ka, start -> start_ack | error, data, stop -> complete.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { execute, getOperationAST, parse, validate, type DocumentNode, type FieldNode } from 'graphql';
import { WebSocketServer, type WebSocket } from 'ws';
import { matchesSubscriptionFilter, ResolverError, type SubscriptionFilter } from './appsync-utils';
import { authenticate, AuthError, type Caller, type DevCredentials } from './auth';
import type { LocalApi } from './api';

export const CONNECTION_TIMEOUT_MS = 300_000;

interface Subscription {
  id: string;
  socket: WebSocket;
  fieldName: string;
  /** The mutations of its @aws_subscribe directive. */
  mutations: string[];
  document: DocumentNode;
  variables: Record<string, unknown>;
  filter?: SubscriptionFilter;
  caller: Caller;
}

export interface Realtime {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  close(): void;
}

export function createRealtime(api: LocalApi, credentials: DevCredentials, options: { keepAliveMs?: number } = {}): Realtime {
  const subscriptions = new Map<string, Subscription>(); // by socket-unique key
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has('graphql-ws') ? 'graphql-ws' : false) });
  const keys = new WeakMap<WebSocket, number>();
  let nextSocket = 0;
  const keyOf = (socket: WebSocket, id: string) => `${keys.get(socket)}:${id}`;
  const send = (socket: WebSocket, message: unknown) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };

  api.onMutation((mutationField, result) => {
    if (result === null || typeof result !== 'object') return;
    for (const sub of subscriptions.values()) {
      if (!sub.mutations.includes(mutationField) || !matchesSubscriptionFilter(sub.filter, result as Record<string, unknown>)) continue;
      // The subscription's own selection set, over the mutation's result.
      void Promise.resolve(execute({ schema: api.schema, document: sub.document, rootValue: { [sub.fieldName]: result }, variableValues: sub.variables, contextValue: { caller: sub.caller, headers: {} } }))
        .then((executed) => send(sub.socket, { id: sub.id, type: 'data', payload: executed }));
    }
  });

  wss.on('connection', (socket: WebSocket, request: IncomingMessage, connectionCaller: Caller) => {
    keys.set(socket, nextSocket++);
    let keepAlive: NodeJS.Timeout | undefined;
    socket.on('close', () => {
      clearInterval(keepAlive);
      for (const [key, sub] of subscriptions) if (sub.socket === socket) subscriptions.delete(key);
    });
    socket.on('message', (raw) => {
      let message: { id?: string; type?: string; payload?: { data?: string; extensions?: { authorization?: Record<string, unknown> } } };
      try {
        message = JSON.parse(String(raw));
      } catch {
        return send(socket, { type: 'error', payload: { errors: [{ errorType: 'BadRequestException', message: 'message is not JSON' }] } });
      }
      switch (message.type) {
        case 'connection_init':
          send(socket, { type: 'connection_ack', payload: { connectionTimeoutMs: CONNECTION_TIMEOUT_MS } });
          send(socket, { type: 'ka' });
          keepAlive = setInterval(() => send(socket, { type: 'ka' }), options.keepAliveMs ?? 60_000);
          return;
        case 'start':
          return start(socket, message.id ?? '', message.payload, connectionCaller, request);
        case 'stop': {
          subscriptions.delete(keyOf(socket, message.id ?? ''));
          return send(socket, { id: message.id, type: 'complete' });
        }
        default:
          return send(socket, { id: message.id, type: 'error', payload: { errors: [{ errorType: 'UnsupportedOperation', message: `unknown message type ${String(message.type)}` }] } });
      }
    });
  });

  function start(socket: WebSocket, id: string, payload: { data?: string; extensions?: { authorization?: Record<string, unknown> } } | undefined, connectionCaller: Caller, request: IncomingMessage): void {
    const fail = (errorType: string, message: string) => send(socket, { id, type: 'error', payload: { errors: [{ errorType, message }] } });
    let caller = connectionCaller;
    const headers = payload?.extensions?.authorization ?? {};
    try {
      if (Object.keys(headers).some((h) => ['authorization', 'x-api-key'].includes(h.toLowerCase()))) caller = authenticate(headers, credentials, request.socket.remoteAddress);
    } catch {
      return fail('UnauthorizedException', 'You are not authorized to make this call.');
    }
    let document: DocumentNode;
    let variables: Record<string, unknown>;
    try {
      const data = JSON.parse(payload?.data ?? '{}') as { query?: string; variables?: Record<string, unknown> };
      document = parse(data.query ?? '');
      variables = data.variables ?? {};
    } catch (error) {
      return fail('ValidationError', `invalid subscription request: ${(error as Error).message}`);
    }
    const errors = validate(api.schema, document);
    const operation = getOperationAST(document);
    if (errors.length > 0 || operation?.operation !== 'subscription' || operation.selectionSet.selections.length !== 1) {
      return fail('ValidationError', errors[0]?.message ?? 'a subscription request needs exactly one subscription field');
    }
    const fieldNode = operation.selectionSet.selections[0] as FieldNode;
    const fieldName = fieldNode.name.value;
    const field = api.schema.getSubscriptionType()!.getFields()[fieldName]!;
    try {
      const args = argumentValues(fieldNode, variables);
      const { filter } = api.subscribe(fieldName, args, { caller, headers });
      const subscribe = field.astNode?.directives?.find((d) => d.name.value === 'aws_subscribe');
      const mutationsArg = subscribe?.arguments?.find((a) => a.name.value === 'mutations')?.value;
      const mutations = mutationsArg?.kind === 'ListValue' ? mutationsArg.values.map((v) => (v as { value: string }).value) : [];
      subscriptions.set(keyOf(socket, id), { id, socket, fieldName, mutations, document, variables, filter, caller });
      send(socket, { id, type: 'start_ack' });
    } catch (error) {
      if (error instanceof ResolverError) return fail(error.errorType ?? 'Unknown', error.message);
      // A client's malformed arguments must not take the endpoint down (this runs in a socket listener,
      // where a throw is an uncaught exception): the client gets an error, as from AppSync.
      return fail('BadRequestException', 'the subscription request could not be handled');
    }
  }

  return {
    handleUpgrade(request, socket, head) {
      let caller: Caller;
      try {
        caller = authenticate(connectionHeaders(request), credentials, request.socket.remoteAddress);
      } catch (error) {
        // AppSync accepts the socket and reports the failure before closing it.
        wss.handleUpgrade(request, socket, head, (ws) => {
          send(ws, { type: 'connection_error', payload: { errors: [{ errorType: 'UnauthorizedException', errorCode: 401, message: error instanceof AuthError ? error.message : 'unauthorized' }] } });
          ws.close(1000);
        });
        return;
      }
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request, caller));
    },
    close() {
      for (const client of wss.clients) client.terminate();
      wss.close();
    },
  };
}

/** The auth headers of a realtime connection: header-<base64url> subprotocol, or ?header=<base64>. */
function connectionHeaders(request: IncomingMessage): Record<string, unknown> {
  const protocols = String(request.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const fromProtocol = protocols.find((p) => p.startsWith('header-'))?.slice('header-'.length);
  const fromQuery = new URL(request.url ?? '/', 'http://local').searchParams.get('header');
  const encoded = fromProtocol ?? fromQuery;
  if (!encoded) return {};
  try {
    return JSON.parse(Buffer.from(encoded, fromProtocol ? 'base64url' : 'base64').toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** The field's arguments with variables substituted (values as JSON). */
function argumentValues(field: FieldNode, variables: Record<string, unknown>): Record<string, unknown> {
  const value = (node: import('graphql').ValueNode): unknown => {
    switch (node.kind) {
      case 'Variable': return variables[node.name.value] ?? null;
      case 'IntValue': case 'FloatValue': return Number(node.value);
      case 'StringValue': case 'EnumValue': return node.value;
      case 'BooleanValue': return node.value;
      case 'NullValue': return null;
      case 'ListValue': return node.values.map(value);
      case 'ObjectValue': return Object.fromEntries(node.fields.map((f) => [f.name.value, value(f.value)]));
    }
  };
  return Object.fromEntries((field.arguments ?? []).map((a) => [a.name.value, value(a.value)]));
}

