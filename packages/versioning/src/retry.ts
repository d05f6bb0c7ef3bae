// Transient database failures are retried here, inside the handler, because the client will not:
// aws-amplify v6 DataStore retries only network failures (its HTTP layer) and hands any GraphQL error,
// Unavailable included, to errorHandler and dequeues the mutation; the next sync then overwrites the
// device's edit (design.md §6).
import { countFromEnv, isConnectionLost } from '@datastore-pg/db';
import { isTransient } from './errors';

/**
 * How long a request keeps retrying, from its first attempt: no retry starts later. The last attempt
 * may then run one statement (DB_STATEMENT_TIMEOUT_MS, 8 s): 18 + 8 s, plus room for a reconnect,
 * stays under the Lambda timeout (28 s in serverless.yml), which stays under AppSync's 30 s resolver
 * limit, so the client gets Unavailable rather than a timed-out Lambda.
 */
export const DEFAULT_RETRY_BUDGET_MS = 18_000;
// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"):
// requests that failed together (a deadlock's two sides, every container after a failover) do not
// come back together. The first waits are short: a deadlock or a killed backend clears at once.
const FIRST_DELAY_MS = 50;
const MAX_DELAY_MS = 1_000;

/** DB_RETRY_BUDGET_MS (milliseconds, 0 turns retries off), or the default; a clear error otherwise. */
export function retryBudgetFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  return countFromEnv('DB_RETRY_BUDGET_MS', 'milliseconds', DEFAULT_RETRY_BUDGET_MS, 0, env);
}

export interface RetryPolicy {
  budgetMs: number;
  /** Called after an attempt whose connection was lost, so the next one opens a new connection. */
  onConnectionLost: () => void;
  /** Called before each wait (a log line: a request that succeeded on a retry is otherwise invisible). */
  onRetry: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs attempt until it succeeds, fails with an error that is not transient, or the next wait would
 * end past the budget; then the last error is thrown.
 */
export async function withRetry<T>(attempt: () => Promise<T>, policy: RetryPolicy): Promise<T> {
  const started = performance.now();
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      if (isConnectionLost(error)) policy.onConnectionLost();
      if (!isTransient(error)) throw error;
      const delayMs = Math.random() * Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (attempts - 1));
      if (performance.now() - started + delayMs > policy.budgetMs) throw error;
      policy.onRetry(error, attempts, delayMs);
      await new Promise((done) => setTimeout(done, delayMs));
    }
  }
}
