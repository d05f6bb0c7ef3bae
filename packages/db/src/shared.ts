import { connect, type Sql } from './connect';
import { countFromEnv } from './env';
import { readerTargetFromEnv, targetFromEnv } from './iam';

let shared: Sql | undefined;
let sharedReader: Sql | undefined;

/**
 * The container's one connection, opened on first use. A Lambda container serves one request at a
 * time, so one connection is all it needs (RDS Proxy pools across containers); an idle one is closed
 * after 5 minutes so a frozen container does not hold a proxy slot.
 */
export function sharedConnection(): Sql {
  shared ??= connect(targetFromEnv(), handlerOptions('datastore-pg handler'));
  return shared;
}

/**
 * The container's one connection to the read replica (DATABASE_READER_URL, DB_READER_HOST), opened on
 * first use like the writer's; undefined when none is configured.
 */
export function sharedReaderConnection(): Sql | undefined {
  if (sharedReader) return sharedReader;
  const target = readerTargetFromEnv();
  if (target) sharedReader = connect(target, handlerOptions('datastore-pg handler (reader)'));
  return sharedReader;
}

function handlerOptions(applicationName: string) {
  return {
    // DB_POOL_MAX: the dev server runs every handler in one process, serving requests side by side.
    max: countFromEnv('DB_POOL_MAX', 'connections', 1, 1),
    idleTimeout: 300,
    applicationName,
    // Well below the Lambda timeout (28 s), so a stuck statement ends as a retryable error, not a killed
    // container, even when it is the last attempt of the handler's retries (DB_RETRY_BUDGET_MS, 18 s).
    statementTimeoutMs: countFromEnv('DB_STATEMENT_TIMEOUT_MS', 'milliseconds', 8000, 1),
  };
}

/**
 * Drops the shared connection after it was lost (a killed backend, a database restart), so the next
 * request opens a fresh one instead of waiting on a pool whose connection is dead.
 */
export function discardSharedConnection(): void {
  const lost = shared;
  shared = undefined;
  void lost?.end({ timeout: 0 }).catch(() => undefined);
}

/** Drops the shared reader connection after it was lost, as discardSharedConnection does the writer's. */
export function discardSharedReaderConnection(): void {
  const lost = sharedReader;
  sharedReader = undefined;
  void lost?.end({ timeout: 0 }).catch(() => undefined);
}

/** Closes the shared connections, the writer's and the reader's (tests, a dev server shutting down). */
export async function closeSharedConnection(): Promise<void> {
  const closing = [shared, sharedReader];
  shared = undefined;
  sharedReader = undefined;
  await Promise.all(closing.map((sql) => sql?.end()));
}
