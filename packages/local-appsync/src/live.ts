// Live changes on the local endpoint: the stack's forwarder, in-process. It publishes through this
// endpoint's own publish mutations as an IAM caller, so the same SDL, publish resolver, auth check and
// subscription filters decide who receives each change, as on AppSync.
import { parse, type DocumentNode } from 'graphql';
import { connect, type Sql } from '@datastore-pg/db';
import { Forwarder, graphqlPublisher, type GraphQLTransport, type PassReport } from '@datastore-pg/forwarder';
import { models } from '@datastore-pg/schema/models';
import { toAppSyncResponse, type LocalApi } from './api';
import { iamCaller } from './auth';

export interface LiveOptions {
  /** The database whose journals are forwarded. */
  databaseUrl: string;
  /** How often the journals are read (the stack's Lambda: 250 ms). */
  intervalMs?: number;
  onPass?: (report: PassReport) => void;
  onError?: (error: unknown) => void;
}

export interface LocalForwarder {
  /** Stops after the pass under way, releases the lock and closes the forwarder's connections. */
  stop(): Promise<void>;
}

const RETRY_MS = 1000;

/** The publish mutations run against the local API, as the forwarder Lambda runs them against AppSync. */
export function localTransport(api: LocalApi): GraphQLTransport {
  const documents = new Map<string, DocumentNode>();
  const caller = iamCaller();
  return async ({ query, variables }) => {
    let document = documents.get(query);
    if (!document) documents.set(query, (document = parse(query)));
    return toAppSyncResponse(await api.run(document, variables, undefined, { caller, headers: {} })) as Awaited<ReturnType<GraphQLTransport>>;
  };
}

/**
 * Keeps a forwarder running until stop(): when another forwarder holds the database's lock (a second
 * dev server on the same database) it waits its turn; when its connection is lost it starts again.
 */
export async function startLocalForwarder(api: LocalApi, options: LiveOptions): Promise<LocalForwarder> {
  const applicationName = 'datastore-pg forwarder';
  const sql: Sql = connect(options.databaseUrl, { max: 2, applicationName });
  const forwarder = new Forwarder({
    connection: () => sql,
    lockConnection: () => connect(options.databaseUrl, { max: 1, applicationName, fetchTypes: false }),
    models: Object.values(models),
    publisher: graphqlPublisher(localTransport(api), {
      onErrors: (errored) => options.onError?.(new Error(`the API answered ${errored.model} ${errored.id} v${errored.version} with errors: ${errored.errors}`)),
    }),
  });
  // Positions first, so that every change after the endpoint is up reaches its subscribers.
  await forwarder.initialize().catch(async (error: unknown) => {
    await sql.end({ timeout: 1 });
    throw error;
  });
  let stopped = false;
  const running = forwarder.keepRunning({
    intervalMs: options.intervalMs ?? 250,
    waitForLockMs: RETRY_MS,
    retryMs: RETRY_MS,
    shouldStop: () => stopped,
    onPass: options.onPass,
    onError: (error) => { if (!stopped) options.onError?.(error); },
  });
  return {
    async stop() {
      stopped = true;
      await running;
      await sql.end({ timeout: 1 });
    },
  };
}
