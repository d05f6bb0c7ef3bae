import { connect, databaseUrlFromEnv, type Sql } from './connect';

let shared: Sql | undefined;

/**
 * The container's one connection, opened on first use. A Lambda container serves one request at a
 * time, so one connection is all it needs (RDS Proxy pools across containers).
 */
export function sharedConnection(): Sql {
  shared ??= connect(databaseUrlFromEnv(), { max: 1, applicationName: 'datastore-pg handler' });
  return shared;
}

/** Closes the shared connection (tests, a dev server shutting down). */
export async function closeSharedConnection(): Promise<void> {
  const closing = shared;
  shared = undefined;
  await closing?.end();
}
