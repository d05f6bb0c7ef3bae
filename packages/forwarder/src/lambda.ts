// The forwarder as the stack runs it: a Lambda that EventBridge starts every minute. Each invocation
// forwards until SAFETY_MS before its timeout (90 s: 80 s of forwarding), a pass every PASS_EVERY_MS, so
// the next one, which waits for the single-flight lock, takes over as soon as it lets go, with 20 s of
// overlap for a late start: changes reach devices within about a second, and never from two forwarders
// at once. A run that fails (a lost connection) starts again while time remains. Reaches the database
// as the handlers do (RDS Proxy, IAM token, the runtime user) and AppSync with SigV4 as its own role,
// which may call only the publish mutations. Every HEALTH_EVERY_MS it also prints the database's health
// figures (health.ts) and its own counts as CloudWatch metrics (EMF), for the stack's dashboard and alarms.
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { connect, countFromEnv, targetFromEnv, type Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { logger, Metric, METRICS_NAMESPACE, SERVICE_NAME } from '@datastore-pg/versioning';
import { appSyncTransport } from './appsync-transport';
import { Forwarder } from './forwarder';
import { readHealth, recordHealth } from './health';
import { graphqlPublisher } from './publisher';

const PASS_EVERY_MS = 250;
/** Left of the Lambda's timeout when it stops: the page under way finishes, the lock is released. */
const SAFETY_MS = 10_000;
/** After a failed run, before the next attempt. */
const RETRY_MS = 1000;
/** How often the health figures are sampled and the metrics printed (alarms read 1-minute periods). */
const HEALTH_EVERY_MS = 30_000;

export interface ForwarderContext {
  getRemainingTimeInMillis(): number;
}

let sql: Sql | undefined;
let forwarder: Forwarder | undefined;
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

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
    lockConnection: () => connect(targetFromEnv(), { ...options, max: 1, fetchTypes: false }),
    models: Object.values(models),
    publisher: graphqlPublisher(appSyncTransport({ url: appSyncUrl, region }), {
      concurrency: countFromEnv('FORWARDER_PUBLISH_CONCURRENCY', 'publish requests in flight', 8, 1),
      onErrors: (errored) => logger.error('AppSync answered a published change with errors', { ...errored }),
    }),
  });
  return forwarder;
}

export async function handler(_event: unknown, context: ForwarderContext): Promise<{ forwarded: boolean; published: number; passes: number; failedPasses: number }> {
  const stopAt = Date.now() + context.getRemainingTimeInMillis() - SAFETY_MS;
  const shouldStop = () => Date.now() >= stopAt;
  const forwarderOfContainer = containerForwarder();
  const totals = { published: 0, passes: 0, failedPasses: 0 };
  const unreported = { published: 0, failedPasses: 0 };
  const report = async () => {
    try {
      recordHealth(metrics, await readHealth(sql!));
    } catch (error) {
      logger.warn('could not read the health figures', { error: error instanceof Error ? error.message : String(error) });
    }
    metrics.addMetric(Metric.Published, MetricUnit.Count, unreported.published);
    metrics.addMetric(Metric.ForwarderErrors, MetricUnit.Count, unreported.failedPasses);
    Object.assign(unreported, { published: 0, failedPasses: 0 });
    metrics.publishStoredMetrics();
  };

  // Sampled before the run too: a forwarder that died leaves its lag to be seen by the next.
  await report();
  const sampler = setInterval(() => void report(), HEALTH_EVERY_MS);
  let forwarded: boolean;
  try {
    forwarded = await forwarderOfContainer.keepRunning({
      intervalMs: PASS_EVERY_MS,
      waitForLockMs: stopAt - Date.now(), // the whole run: the last invocation hands over when it stops
      retryMs: RETRY_MS,
      shouldStop,
      onPass: (passReport) => {
        totals.passes += 1;
        const count = Object.values(passReport.published).reduce((sum, n) => sum + n, 0);
        totals.published += count;
        unreported.published += count;
        if (count > 0) logger.debug('forwarded', { published: passReport.published });
      },
      onError: (error) => {
        totals.failedPasses += 1;
        unreported.failedPasses += 1;
        logger.error('forwarder pass failed', { error: error instanceof Error ? error.message : String(error) });
      },
    });
  } finally {
    clearInterval(sampler);
  }
  await report();
  logger.info(forwarded ? 'forwarder ran' : 'forwarder found another running', { ...totals });
  return { forwarded, ...totals };
}
