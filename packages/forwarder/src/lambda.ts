// The forwarder as the stack runs it: a Lambda that EventBridge starts every minute. Each invocation
// forwards for a little over its minute, a pass every PASS_EVERY_MS, so that the next one, which waits
// for the single-flight lock, takes over as soon as it lets go: changes reach devices within about a
// second, and never two forwarders at once. Reaches the database as the handlers do (RDS Proxy, IAM
// token, the runtime user) and AppSync with SigV4 as its own role, which may call only the publish
// mutations.
import { connect, countFromEnv, targetFromEnv, type Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { log } from '@datastore-pg/versioning';
import { appSyncTransport } from './appsync-transport';
import { Forwarder } from './forwarder';
import { graphqlPublisher } from './publisher';

const PASS_EVERY_MS = 250;
/** One schedule period plus the overlap in which the next invocation waits for the lock. */
const RUN_MS = 65_000;
/** Left of the Lambda's timeout when it stops: the pass under way finishes, the lock is released. */
const SAFETY_MS = 10_000;

export interface ForwarderContext {
  getRemainingTimeInMillis(): number;
}

let sql: Sql | undefined;
let forwarder: Forwarder | undefined;

function containerForwarder(): Forwarder {
  const appSyncUrl = process.env.APPSYNC_URL;
  const region = process.env.AWS_REGION;
  if (!appSyncUrl || !region) throw new Error('the forwarder needs APPSYNC_URL and AWS_REGION');
  const options = { applicationName: 'datastore-pg forwarder', statementTimeoutMs: countFromEnv('DB_STATEMENT_TIMEOUT_MS', 'milliseconds', 8000, 1) };
  // Kept by the container between invocations; the lock's connection is opened by each run and closed
  // at its end (through RDS Proxy it is pinned: session state).
  sql ??= connect(targetFromEnv(), { ...options, max: 2, idleTimeout: 300 });
  const connection = sql;
  forwarder ??= new Forwarder({
    connection: () => connection,
    lockConnection: () => connect(targetFromEnv(), { ...options, max: 1 }),
    models: Object.values(models),
    publisher: graphqlPublisher(appSyncTransport({ url: appSyncUrl, region }), {
      onErrors: (errored) => log('error', 'AppSync answered a published change with errors', { ...errored }),
    }),
  });
  return forwarder;
}

export async function handler(_event: unknown, context: ForwarderContext): Promise<{ forwarded: boolean; published: number; passes: number; failedPasses: number }> {
  const runFor = Math.min(RUN_MS, context.getRemainingTimeInMillis() - SAFETY_MS);
  const stopAt = Date.now() + runFor;
  let published = 0;
  let passes = 0;
  let failedPasses = 0;
  const forwarded = await containerForwarder().run({
    intervalMs: PASS_EVERY_MS,
    waitForLockMs: runFor,
    shouldStop: () => Date.now() >= stopAt,
    onPass: (report) => {
      passes += 1;
      const count = Object.values(report.published).reduce((sum, n) => sum + n, 0);
      published += count;
      if (count > 0) log('debug', 'forwarded', { published: report.published });
    },
    onError: (error) => {
      failedPasses += 1;
      log('error', 'forwarder pass failed', { error: error instanceof Error ? error.message : String(error) });
    },
  });
  log('info', forwarded ? 'forwarder ran' : 'forwarder found another running', { published, passes, failedPasses });
  return { forwarded, published, passes, failedPasses };
}
