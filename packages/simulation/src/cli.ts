// npm run simulate -- [--devices 50] [--steps 5000] [--page-size 20] [--seed N] [--naive]
//                     [--merge-devices 12] [--merge-steps 5000] [--lost-answers 0.15]
// The large run of the convergence simulation, on DATABASE_URL (a scratch database: it writes) or on an
// embedded PostgreSQL of its own: the Customers part, then the MERGE part (Parts). --naive swaps in a
// cursor of "now" to show what the watermark prevents (Customers part only). --help prints the options.
import { parseArgs } from 'node:util';
import { connect } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '@datastore-pg/testing/embedded';
import { simulate, summary } from './simulate';

const HELP = `npm run simulate -- [options]

The convergence simulation, on DATABASE_URL (a scratch database: it writes) or on an embedded PostgreSQL.

Customers (OPTIMISTIC_CONCURRENCY): devices, SQL writers, late commits, offline spells, purges; every
replica must equal the server.
  --devices N         devices (default 50)
  --steps N           steps (default 5000; 0: a trivial run)
  --page-size N       sync page size, both parts (default 20)
  --naive             a sync cursor of "now" instead of the watermark: must miss changes (embedded
                      PostgreSQL only; runs the Customers part only)

Parts (MERGE, quantityOnHand @counter): devices that are distinct users, with DataStore's outbox, and
SQL writers edit and count the same parts; no device edit may be lost unless it is in
versioning.conflicts, and every count must land exactly once.
  --merge-devices N   devices (default 12)
  --merge-steps N     steps (default 5000; 0 leaves the part out)
  --lost-answers P    chance that a write's answer is lost and the write sent again (default 0.15)

  --seed N            the seed (default: from the clock); a run is the same for the same seed and options
  --help              this text

Exits 1 when the server got something wrong (what DataStore's own rules cost is reported, not failed).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '50' },
      steps: { type: 'string', default: '5000' },
      'page-size': { type: 'string', default: '20' },
      seed: { type: 'string', default: String(Date.now() % 1_000_000) },
      naive: { type: 'boolean', default: false },
      'merge-devices': { type: 'string', default: '12' },
      'merge-steps': { type: 'string', default: '5000' },
      'lost-answers': { type: 'string', default: '0.15' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const number = (name: keyof typeof values, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max} (see --help)`);
    return value;
  };
  const options = {
    seed: number('seed', 0),
    devices: number('devices', 1),
    steps: number('steps', 0),
    pageSize: number('page-size', 1, 1000),
    merge: { devices: number('merge-devices', 1), steps: number('merge-steps', 0), lostAnswers: number('lost-answers', 0, 1) },
  };
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
    const report = await simulate({ sql, ...options, merge: values.naive || options.merge.steps === 0 ? undefined : options.merge });
    console.log(`${summary(report)}${values.naive ? ' (naive cursor)' : ''}\n${((Date.now() - started) / 1000).toFixed(1)} s`);
    for (const line of [...report.mismatches.slice(0, 10), ...(report.merge?.mismatches.slice(0, 10) ?? [])]) console.log(`  ${line}`);
    const serverFailures = report.merge ? Object.values(report.merge.failures).reduce((a, b) => a + b, 0) : 0;
    if (!values.naive && report.missed + report.lost + report.duplicated + serverFailures > 0) process.exitCode = 1;
  } finally {
    await sql.end();
    await embedded?.stop();
  }
}

// Exits explicitly: the embedded server's exit hook (async-exit-hook) ends the process with code 0 on
// beforeExit, whatever process.exitCode says.
main().then(() => process.exit(process.exitCode ?? 0), (error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
