// One model's resolver: the AppSync direct Lambda event in, { data } out. Errors are thrown as
// DataStoreError and turned into the envelope by the errorEnvelope middleware, once transient database
// failures have been retried (retry.ts).
import { discardSharedConnection, discardSharedReaderConnection, sharedConnection, sharedReaderConnection, type Sql } from '@datastore-pg/db';
import type { ModelMeta } from '@datastore-pg/schema/models';
import { accessOf, callerOf, writerOf } from './auth';
import type { ResolveConflict } from './conflict';
import { DataStoreError, ErrorCode } from './errors';
import type { AppSyncEvent } from './event';
import { create, get, remove, update } from './mutations';
import { legacyDelta, legacyList } from './legacy';
import { logger, type RequestOutcome } from './observability';
import { Replica, type ReplicaOptions } from './replica';
import { retryBudgetFromEnv, withRetry } from './retry';
import { loadModelRuntime, type ModelRuntime } from './runtime';
import { sync } from './sync';

export interface ModelHooks {
  /** Required for, and only for, models declared @conflict(handler: CUSTOM). */
  resolveConflict?: ResolveConflict;
}

export interface ResolverOptions {
  /** The database; by default the container's shared connection (DATABASE_URL). */
  connection?: () => Sql;
  /** Called when the connection was lost; by default the shared connection is discarded and reopened. */
  onConnectionLost?: () => void;
  /**
   * The read replica for full and base sync pages (replica.ts); by default the container's shared reader
   * connection when the environment names one (DATABASE_READER_URL, DB_READER_HOST), and none when
   * `connection` is given. null: none.
   */
  reader?: ReplicaOptions | null;
}

/** Answers one event; what the request did (sync mode, items, merges) is written to `outcome` as it goes. */
export type Resolver = (event: AppSyncEvent, outcome?: RequestOutcome) => Promise<{ data: unknown }>;

export function modelResolver(model: ModelMeta, hooks: ModelHooks = {}, options: ResolverOptions = {}): Resolver {
  if ((model.conflictHandler === 'CUSTOM') !== Boolean(hooks.resolveConflict)) {
    throw new Error(model.conflictHandler === 'CUSTOM'
      ? `${model.name} is declared @conflict(handler: CUSTOM): its handler must pass a resolveConflict hook`
      : `${model.name} passes a resolveConflict hook but is not declared @conflict(handler: CUSTOM)`);
  }
  const connection = options.connection ?? sharedConnection;
  const onConnectionLost = options.onConnectionLost ?? (options.connection ? () => undefined : discardSharedConnection);
  const reader = options.reader !== undefined ? options.reader
    : options.connection ? null : { connection: sharedReaderConnection, onConnectionLost: discardSharedReaderConnection };
  const replica = reader ? new Replica(reader) : undefined;
  // Loaded on the first request (not at import, so a cold start without a database still answers
  // with a clear error), then kept for the container's life; a failed load is retried.
  let runtime: Promise<ModelRuntime> | undefined;
  const loadRuntime = () => {
    runtime ??= loadModelRuntime(connection, model, { replica }).catch((error: unknown) => {
      runtime = undefined;
      throw error;
    });
    return runtime;
  };

  const resolve = async (event: AppSyncEvent, outcome: RequestOutcome): Promise<{ data: unknown }> => {
    // Who is asking first: an unauthorized request costs no database work, even on a cold start.
    const caller = callerOf(event.identity);
    const access = accessOf(model, caller);
    const rt = await loadRuntime();
    const args = event.arguments ?? {};
    const ctx = { runtime: rt, caller, writer: writerOf(caller), access, resolveConflict: hooks.resolveConflict, outcome };
    switch (event.info.fieldName) {
      case `sync${model.pluralName}`:
        return { data: await sync(rt, access, args, outcome) };
      case `list${model.pluralName}`:
        return { data: await legacyList(rt, access, outcome) };
      case `list${model.pluralName}Delta`:
        return { data: await legacyDelta(rt, access, args, outcome) };
      case `get${model.name}`:
        return { data: await get(rt, access, args) };
      case `create${model.name}`:
        return { data: await create(ctx, args) };
      case `update${model.name}`:
        return { data: await update(ctx, args) };
      case `delete${model.name}`:
        return { data: await remove(ctx, args) };
      default:
        throw new DataStoreError(ErrorCode.InternalError, 'internal error', {
          cause: new Error(`${model.name}'s resolver was wired to field ${event.info.parentTypeName}.${event.info.fieldName}`),
        });
    }
  };
  // Read once, when the container starts: a bad value fails its init, not every request.
  const budgetMs = retryBudgetFromEnv();
  return (event, outcome = {}) => withRetry(() => resolve(event, startAttempt(outcome)), {
    budgetMs,
    onConnectionLost,
    onRetry: (error, attempt, delayMs) => logger.warn('retrying after a transient database failure', {
      field: event.info.fieldName,
      sqlstate: (error as { code?: unknown }).code,
      attempt,
      delayMs: Math.round(delayMs),
    }),
  });
}

/** A retried request reports what its last attempt did, not a sum of attempts. */
function startAttempt(outcome: RequestOutcome): RequestOutcome {
  for (const key of Object.keys(outcome) as (keyof RequestOutcome)[]) delete outcome[key];
  return outcome;
}
