// The health figures the forwarder reports to CloudWatch, read as the runtime role (the forwarder's) on a
// real database: a held transaction shows as watermark lag, a position left behind as forwarder lag, and
// the purge's figures are absent where pg_cron does not purge this database; printed as EMF metrics.
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Sql } from '@datastore-pg/db';
import { useTestDatabase } from '@datastore-pg/testing';
import { readHealth, recordHealth, type Health } from '../src/health';

const db = useTestDatabase();

/** As the forwarder reads it: the runtime role, which may not read pg_cron's tables itself. */
const healthAsRuntime = () => db.sql.begin(async (tx) => {
  await tx`set local role datastore_runtime`;
  return readHealth(tx as unknown as Sql);
}) as Promise<Health>;

test('a quiet database: no lag, no forwarder yet, no purge figures without pg_cron', async () => {
  const health = await healthAsRuntime();
  expect(health).toEqual({ forwarderLagMs: null, watermarkLagMs: expect.any(Number), purgeFailuresLastHour: null, purgeAgeMs: null });
  expect(health.watermarkLagMs).toBeLessThan(1000);
});

test('a transaction held open shows as watermark lag; a position left behind as forwarder lag', async () => {
  await db.sql`insert into versioning.forwarder_positions (base_table, published_through)
               values ('customers'::regclass, versioning.now_ms() - 60000), ('sites'::regclass, versioning.now_ms())`;
  const held = await db.sql.reserve();
  try {
    await held`begin`;
    await held`update customers set name = name`;
    await new Promise((done) => setTimeout(done, 1200));

    const health = await healthAsRuntime();

    expect(health.watermarkLagMs).toBeGreaterThanOrEqual(1100);
    expect(health.forwarderLagMs).toBeGreaterThanOrEqual(60_000); // the oldest position counts
    expect(health.forwarderLagMs).toBeLessThan(70_000);
  } finally {
    await held`rollback`;
    held.release();
    await db.sql`delete from versioning.forwarder_positions`;
  }
});

test('printed as EMF metrics of the service; figures that do not exist here are left out', () => {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const disabled = process.env.POWERTOOLS_METRICS_DISABLED;
  process.env.POWERTOOLS_METRICS_DISABLED = 'false';
  const metrics = new Metrics({ namespace: 'datastore-pg', serviceName: 'datastore-pg-test' });
  process.env.POWERTOOLS_METRICS_DISABLED = disabled;
  process.stdout.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    recordHealth(metrics, { forwarderLagMs: 1500, watermarkLagMs: 200, purgeFailuresLastHour: null, purgeAgeMs: null });
    recordHealth(metrics, { forwarderLagMs: null, watermarkLagMs: 300, purgeFailuresLastHour: 2, purgeAgeMs: 120_000 });
    metrics.publishStoredMetrics();
  } finally {
    process.stdout.write = write;
  }

  const [emf] = lines.map((l) => JSON.parse(l) as Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] } });
  expect(lines).toHaveLength(1);
  expect(emf!._aws.CloudWatchMetrics[0]).toEqual({
    Namespace: 'datastore-pg',
    Dimensions: [['service']],
    Metrics: [
      { Name: 'WatermarkLag', Unit: 'Milliseconds' }, { Name: 'ForwarderLag', Unit: 'Milliseconds' },
      { Name: 'PurgeFailures', Unit: 'Count' }, { Name: 'PurgeAge', Unit: 'Milliseconds' },
    ],
  });
  // Two samples of a figure in one flush are both kept (CloudWatch takes their maximum for the alarms).
  expect(emf).toMatchObject({ service: 'datastore-pg-test', WatermarkLag: [200, 300], ForwarderLag: 1500, PurgeFailures: 2, PurgeAge: 120_000 });
});
