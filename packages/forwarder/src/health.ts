// What holds sync back, sampled from the database by the forwarder (the one process that runs all the
// time) and printed as CloudWatch metrics (EMF), for the stack's dashboard and alarms: how far the
// forwarder and the sync watermark are behind now, and the purge's failures and last success. The
// status command (npm run status) shows the same figures, and more, on demand.
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { Sql } from '@datastore-pg/db';
import { Metric } from '@datastore-pg/versioning';

export interface Health {
  /** The oldest forwarder position behind now; null before the forwarder's first run here. */
  forwarderLagMs: number | null;
  /** The sync watermark behind now: a long-open transaction holds it back. */
  watermarkLagMs: number;
  /** Failed purge runs in the last hour; null where pg_cron does not purge this database. */
  purgeFailuresLastHour: number | null;
  /** Since the purge last succeeded; null where pg_cron does not purge this database, or it never has. */
  purgeAgeMs: number | null;
}

export async function readHealth(sql: Sql): Promise<Health> {
  const [row] = await sql<{ now: string; watermark: string; position: string | null; failures: number | null; last_success: string | null }[]>`
    select (extract(epoch from clock_timestamp()) * 1000)::bigint as now,
           versioning.sync_watermark() as watermark,
           (select min(published_through) from versioning.forwarder_positions) as position,
           h.failures_last_hour as failures,
           (extract(epoch from h.last_success) * 1000)::bigint as last_success
      from versioning.purge_health() h`;
  const now = Number(row!.now);
  const behind = (ms: string | null) => (ms === null ? null : Math.max(0, now - Number(ms)));
  return {
    forwarderLagMs: behind(row!.position),
    watermarkLagMs: behind(row!.watermark)!,
    purgeFailuresLastHour: row!.failures,
    purgeAgeMs: behind(row!.last_success),
  };
}

/** Adds the sample to the metrics (printed at their next flush); a figure that does not exist here is left out. */
export function recordHealth(metrics: Metrics, health: Health): void {
  metrics.addMetric(Metric.WatermarkLag, MetricUnit.Milliseconds, health.watermarkLagMs);
  if (health.forwarderLagMs !== null) metrics.addMetric(Metric.ForwarderLag, MetricUnit.Milliseconds, health.forwarderLagMs);
  if (health.purgeFailuresLastHour !== null) metrics.addMetric(Metric.PurgeFailures, MetricUnit.Count, health.purgeFailuresLastHour);
  if (health.purgeAgeMs !== null) metrics.addMetric(Metric.PurgeAge, MetricUnit.Milliseconds, health.purgeAgeMs);
}
