import { connect, type Sql } from './connect';
import { targetFromEnv } from './iam';

let shared: Sql | undefined;

/**
 * The container's one connection, opened on first use. A Lambda container serves one request at a
 * time, so one connection is all it needs (RDS Proxy pools across containers); an idle one is closed
 * after 5 minutes so a frozen container does not hold a proxy slot.
 */
export function sharedConnection(): Sql {
  // DB_POOL_MAX: the dev server runs every handler in one process, serving requests side by side.
  shared ??= connect(targetFromEnv(), { max: Number(process.env.DB_POOL_MAX ?? 1), idleTimeout: 300, applicationName: 'datastore-pg handler' });
  return shared;
}

/** Closes the shared connection (tests, a dev server shutting down). */
export async function closeSharedConnection(): Promise<void> {
  const closing = shared;
  shared = undefined;
  await closing?.end();
}
