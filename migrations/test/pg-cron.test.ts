// The purge schedule: with pg_cron loaded (CI provisions such a server) the migration creates the job;
// without it (embedded Postgres) the migration skips the step with a notice and purge stays callable;
// `npm run status` reads pg_cron's record of its runs.
import { connect } from '@datastore-pg/db';
import { collectStatus } from '@datastore-pg/deploy/src/status';
import { migrate, migrations } from '@datastore-pg/migrate';
import { createTestDatabase, ENV, requireEnv, urlForDatabase, withAdmin } from '@datastore-pg/testing';

async function cronDatabase(): Promise<string | null> {
  return withAdmin(requireEnv(ENV.serverUrl), async (sql) => {
    const [row] = await sql<{ name: string | null }[]>`select current_setting('cron.database_name', true) as name`;
    return row!.name;
  });
}

async function migrateCollectingNotices(url: string): Promise<string[]> {
  const notices: string[] = [];
  const sql = connect(url, { max: 1, onNotice: (message) => notices.push(message) });
  try {
    await migrate(sql, migrations);
    await sql`call versioning.purge()`;
  } finally {
    await sql.end();
  }
  return notices;
}

test('the migration schedules the purge with pg_cron where it is loaded, and says why not elsewhere', async () => {
  const cronDb = await cronDatabase();
  if (cronDb === null) {
    // No pg_cron: the migration must still succeed, explain itself, and leave purge callable.
    const db = await createTestDatabase({ empty: true });
    try {
      const notices = await migrateCollectingNotices(db.url);
      expect(notices).toContainEqual(expect.stringMatching(/pg_cron is not loaded: purge not scheduled/));
    } finally {
      await db.drop();
    }
    return;
  }

  // 1. a fresh copy of the database pg_cron serves  2. migrate it (twice: re-running must not
  // duplicate the job)  3. the job exists, runs every minute, and its command works.
  const serverUrl = requireEnv(ENV.serverUrl);
  await withAdmin(serverUrl, async (sql) => {
    await sql`drop database if exists ${sql(cronDb)} with (force)`;
    await sql`create database ${sql(cronDb)}`;
  });
  const cronUrl = urlForDatabase(serverUrl, cronDb);
  await migrateCollectingNotices(cronUrl);
  await migrateCollectingNotices(cronUrl);

  const sql = connect(cronUrl, { max: 1 });
  try {
    const jobs = await sql<{ schedule: string; command: string; database: string }[]>`
      select schedule, command, database from cron.job where jobname = 'datastore-pg-purge'`;
    expect(jobs).toEqual([{ schedule: '* * * * *', command: 'call versioning.purge()', database: cronDb }]);
    await sql.unsafe(jobs[0]!.command);
  } finally {
    await sql.end();
  }

  // Any other database on that server is told how to schedule from the cron database instead.
  const other = await createTestDatabase({ empty: true });
  try {
    const notices = await migrateCollectingNotices(other.url);
    expect(notices).toContainEqual(expect.stringContaining(`pg_cron serves database ${cronDb}`));
  } finally {
    await other.drop();
  }
});

test('npm run status reads pg_cron\'s record of the purge: a failed run in the last hour is a problem', async () => {
  const cronDb = await cronDatabase();
  if (cronDb === null) return; // no pg_cron on this server: status says so (packages/deploy/test/status.test.ts)

  // The previous test migrated the database pg_cron serves and scheduled the job; a run that failed is
  // recorded as pg_cron records one (waiting a minute for a real failure would be all this test does).
  const sql = connect(urlForDatabase(requireEnv(ENV.serverUrl), cronDb), { max: 1 });
  try {
    await sql`insert into cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
              select jobid, 0, database, username, command, 'failed', 'ERROR:  canceling statement due to lock timeout', now() - interval '5 minutes', now() - interval '5 minutes'
                from cron.job where jobname = 'datastore-pg-purge'`;

    const status = await collectStatus(sql);

    expect(status.purge).toMatchObject({ failuresLastHour: 1, lastRuns: [expect.objectContaining({ status: 'failed', message: 'ERROR:  canceling statement due to lock timeout' })] });
    expect(status.problems).toContainEqual('the purge failed 1 time(s) in the last hour: ERROR:  canceling statement due to lock timeout');
    // The forwarder reports it to CloudWatch as the runtime role, which pg_cron's row security keeps
    // from the job's own records: purge_health() reads them as the role that scheduled the job.
    const [health] = await sql.begin(async (tx) => {
      await tx`set local role datastore_runtime`;
      return tx<{ failures_last_hour: number }[]>`select failures_last_hour from versioning.purge_health()`;
    });
    expect(health).toEqual({ failures_last_hour: 1 });
  } finally {
    await sql.end();
  }
});
