// npm run simulate -- [--devices 50] [--steps 5000] [--page-size 20] [--seed N] [--naive]
// The large run of the convergence simulation, on DATABASE_URL (a scratch database: it writes) or on an
// embedded PostgreSQL of its own. --naive swaps in a cursor of "now" to show what the watermark prevents.
import { parseArgs } from 'node:util';
import { connect } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '@datastore-pg/testing/embedded';
import { simulate, summary } from './simulate';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '50' },
      steps: { type: 'string', default: '5000' },
      'page-size': { type: 'string', default: '20' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      naive: { type: 'boolean', default: false },
    },
  });
  // --naive replaces the watermark function for good: only ever on a throwaway embedded server.
  if (values.naive && process.env.DATABASE_URL) throw new Error('--naive breaks the database it runs on: unset DATABASE_URL to run it on an embedded PostgreSQL');
  let embedded: RunningPostgres | undefined;
  const url = process.env.DATABASE_URL || (embedded = await startEmbeddedPostgres({ name: 'simulation-postgres' })).url;
  const sql = connect(url, { max: 8 });
  try {
    await migrate(sql, migrations);
    if (values.naive) {
      await sql`create or replace function versioning.sync_watermark() returns bigint language sql as $$ select floor(extract(epoch from clock_timestamp()) * 1000)::bigint $$`;
    }
    const started = Date.now();
    const report = await simulate({ sql, seed: Number(values.seed), devices: Number(values.devices), steps: Number(values.steps), pageSize: Number(values['page-size']) });
    console.log(`${summary(report)}${values.naive ? ' (naive cursor)' : ''}\n${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const line of report.mismatches.slice(0, 10)) console.log(`  ${line}`);
    if (!values.naive && report.missed + report.lost + report.duplicated > 0) process.exitCode = 1;
  } finally {
    await sql.end();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
