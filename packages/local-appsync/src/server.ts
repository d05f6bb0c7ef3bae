// The HTTP side: POST /graphql as AppSync answers it (auth first: 401 UnauthorizedException), CORS for
// browsers, the realtime WebSocket on /graphql/realtime, optional TLS so phones on the LAN can use wss://.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parse } from 'graphql';
import { createLocalApi, toAppSyncResponse, type LocalApi } from './api';
import { authenticate, type DevCredentials } from './auth';
import { startLocalForwarder, type LiveOptions } from './live';
import { createRealtime, type Realtime } from './realtime';

const MAX_BODY_BYTES = 1024 * 1024; // AppSync's request size limit

export interface LocalAppSyncOptions {
  credentials: DevCredentials;
  port?: number;
  host?: string;
  tls?: { key: string; cert: string };
  keepAliveMs?: number;
  root?: string;
  /** Forward every writer's changes to subscribers (the stack's forwarder, in-process). */
  live?: LiveOptions;
}

export interface LocalAppSync {
  url: string;
  realtimeUrl: string;
  api: LocalApi;
  close(): Promise<void>;
}

export async function startLocalAppSync(options: LocalAppSyncOptions): Promise<LocalAppSync> {
  // The handlers run in this process: their CloudWatch metrics (EMF lines) would only clutter the
  // output here, and requests run side by side, where Lambda runs one per container.
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  const api = createLocalApi(options.root);
  // First: a forwarder that cannot start (no database) fails the start before anything listens.
  const forwarder = options.live ? await startLocalForwarder(api, options.live) : undefined;
  const realtime: Realtime = createRealtime(api, options.credentials, { keepAliveMs: options.keepAliveMs });
  const handle = (request: IncomingMessage, response: ServerResponse) => {
    void serveHttp(api, options.credentials, request, response);
  };
  const server: Server = options.tls ? createHttpsServer(options.tls, handle) : createHttpServer(handle);
  server.on('upgrade', (request, socket, head) => {
    if (new URL(request.url ?? '/', 'http://local').pathname === '/graphql/realtime') realtime.handleUpgrade(request, socket, head);
    else socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const host = options.host && options.host !== '0.0.0.0' ? options.host : '127.0.0.1';
  const scheme = options.tls ? 'https' : 'http';
  return {
    url: `${scheme}://${host}:${port}/graphql`,
    realtimeUrl: `${options.tls ? 'wss' : 'ws'}://${host}:${port}/graphql/realtime`,
    api,
    async close() {
      await forwarder?.stop();
      realtime.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await api.close();
    },
  };
}

async function serveHttp(api: LocalApi, credentials: DevCredentials, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown) => {
    response.writeHead(status, {
      'content-type': 'application/json',
      'access-control-allow-origin': '*',
      'access-control-allow-headers': 'content-type, x-api-key, authorization, x-amz-date, x-amz-security-token, x-amz-user-agent',
      'access-control-allow-methods': 'POST, OPTIONS',
    });
    response.end(body === undefined ? undefined : JSON.stringify(body));
  };
  const path = new URL(request.url ?? '/', 'http://local').pathname;
  if (request.method === 'OPTIONS') return reply(204, undefined);
  if (path !== '/graphql' || request.method !== 'POST') return reply(404, { errors: [{ errorType: 'NotFound', message: 'POST /graphql' }] });

  let caller;
  try {
    caller = authenticate(request.headers, credentials, request.socket.remoteAddress);
  } catch {
    return reply(401, { errors: [{ errorType: 'UnauthorizedException', message: 'You are not authorized to make this call.' }] });
  }
  let body: { query?: string; variables?: Record<string, unknown>; operationName?: string };
  try {
    body = JSON.parse(await readBody(request)) as typeof body;
  } catch {
    return reply(400, { errors: [{ errorType: 'MalformedHttpRequestException', message: 'The request body is not JSON, or larger than 1 MB.' }] });
  }
  let document;
  try {
    document = parse(body.query ?? '');
  } catch (error) {
    return reply(200, { data: null, errors: [{ errorType: 'ValidationError', message: (error as Error).message }] });
  }
  const result = await api.run(document, body.variables ?? undefined, body.operationName ?? undefined, { caller, headers: request.headers as Record<string, unknown> });
  reply(200, toAppSyncResponse(result));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('too large'));
        request.destroy();
      } else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
