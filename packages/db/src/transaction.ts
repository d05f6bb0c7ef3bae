import type { Sql, Tx } from './connect';

/**
 * SQLSTATEs and driver codes that mean the connection itself is gone or never came up (killed,
 * restarted, network, postgres.js's CONNECT_TIMEOUT and CONNECTION_* codes).
 */
const CONNECTION_LOST = /^(08|57P0[123])|^CONNECT(ION)?_|^ECONN|^EPIPE$|^ETIMEDOUT$/;

export function isConnectionLost(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONNECTION_LOST.test(code);
}

export interface TransactionOptions {
  /**
   * READ ONLY at READ COMMITTED, whatever the server's default_transaction_isolation: each statement
   * then takes a snapshot of its own, so a later one sees what an earlier one checked (a replica's
   * replay position, versioning/src/replica.ts).
   */
  readOnly?: boolean;
}

/**
 * Runs fn in a transaction on one reserved connection. Unlike sql.begin, it sends no ROLLBACK down a
 * connection that is already gone: postgres.js would schedule that write on a closed socket and throw
 * from a timer, out of reach of any catch (a crashed Lambda container). The server rolls back a
 * transaction whose connection died. Nor does it release such a connection to the pool: postgres.js
 * (3.4.9) would put the closed connection back among the open ones, and the pool's next statement
 * would be written to its missing socket, with the same crash (seen here with a replica's session
 * killed mid-page). Left alone, the pool reconnects it when it is needed.
 */
export async function transaction<T>(sql: Sql, fn: (tx: Tx) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const tx = await sql.reserve();
  // Sent now, and awaited after fn: fn's first statement follows it on the same connection without
  // waiting for its answer (one round trip fewer). If it fails, so does that statement.
  const begun = (options.readOnly ? tx`begin isolation level read committed read only` : tx`begin`).execute();
  begun.catch(() => undefined); // its failure is reported through fn's, or by the await below
  let lost = false;
  try {
    const result = await fn(tx);
    await begun;
    await tx`commit`;
    return result;
  } catch (error) {
    lost = isConnectionLost(error);
    if (!lost) await tx`rollback`.catch(() => undefined);
    throw error;
  } finally {
    if (!lost) tx.release();
  }
}
