// npm run status on a real database: a healthy one, then each state an operator must see (a held
// transaction, a stopped purge, a forwarder behind), shown in words, in JSON, and by the exit code.
import { connect } from '@datastore-pg/db';
import { useTestDatabase } from '@datastore-pg/testing';
import { runStatus } from '../src/status-cli';
import { collectStatus, DEFAULT_THRESHOLDS, renderStatus } from '../src/status';

const db = useTestDatabase();

async function status(argv: string[] = [], thresholds = DEFAULT_THRESHOLDS): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runStatus(argv, { DATABASE_URL: db.url }, { log: (line) => lines.push(line), readParameter: async () => { throw new Error('no SSM here'); }, sign: async () => 'token' }, thresholds);
  return { code, output: lines.join('\n') };
}

test('a healthy database: every model with its rows, tombstones and journal, no problem, exit code 0', async () => {
  await db.sql`insert into customers (name) values ('Status Co'), ('Gone Co')`;
  await db.sql`delete from customers where name = 'Gone Co'`;

  const { code, output } = await status();
  const json = JSON.parse((await status(['--json'])).output) as { models: { table: string; rows: number; tombstones: number; journalRows: number }[]; problems: string[] };

  expect(code).toBe(0);
  expect(output).toMatch(/^customers\s+2\s+1\s+3\s/m); // two rows, one a tombstone; three journaled changes
  expect(output).toContain('no problems');
  expect(json.models.find((m) => m.table === 'customers')).toMatchObject({ rows: 2, tombstones: 1, journalRows: 3 });
  expect(json.models.map((m) => m.table)).toEqual(['assets', 'customers', 'parts', 'sites', 'work_logs', 'work_orders'].sort());
  expect(json.problems).toEqual([]);
});

test('the graveyard: purged tombstones per model, which every full sync sends', async () => {
  await db.sql`update versioning.models set base_table_ttl = '1 millisecond' where base_table = 'sites'::regclass`;
  try {
    const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Graveyard Co') returning id`;
    await db.sql`insert into sites (customer_id, name) select ${customer!.id}, 'closed ' || g from generate_series(1, 3) g`;
    await db.sql`delete from sites where name like 'closed %'`;
    await new Promise((done) => setTimeout(done, 5));
    await db.sql`select versioning.purge_tombstones('sites', 100)`;

    const json = JSON.parse((await status(['--json'])).output) as { models: { table: string; graveyardRows: number }[] };

    expect(json.models.find((m) => m.table === 'sites')).toMatchObject({ graveyardRows: 3 });
    expect((await status()).output).toMatch(/^model table .* graveyard /m);
  } finally {
    await db.sql`update versioning.models set base_table_ttl = '30 days' where base_table = 'sites'::regclass`;
  }
});

test('a transaction held open: the watermark lag and who holds it (no query text), exit code 1', async () => {
  const held = db.connect(1);
  const session = await held.reserve();
  try {
    await session`set application_name = 'erp nightly import'`;
    await session`begin`;
    await session`update customers set name = 'Held' where name = 'Status Co'`;
    await new Promise((done) => setTimeout(done, 1500));

    const { code, output } = await status([], { ...DEFAULT_THRESHOLDS, maxWatermarkLagMs: 1000 });

    expect(code).toBe(1);
    expect(output).toMatch(/the sync watermark is \d\.\d s behind now, held by pid \d+ \(erp nightly import, user \w+, idle in transaction, open \d\.\d s\)/);
    expect(output).not.toContain('update customers');
    await session`rollback`;
  } finally {
    session.release();
  }
});

test('a purge that stopped: journal rows older than two delta TTLs', async () => {
  await db.sql`insert into parts (sku, description, quantity_on_hand) values ('SKU-STATUS', 'Gasket', 3)`;
  await db.sql`update versioning.models set delta_sync_table_ttl = interval '100 milliseconds' where base_table = 'parts'::regclass`;
  await new Promise((done) => setTimeout(done, 300));
  try {
    const report = await collectStatus(db.sql);
    expect(report.problems).toEqual([expect.stringMatching(/^parts: the oldest journal row is [\d.]+ m?s old, over 2 delta TTLs \(100 ms\): the purge is not running/)]);
    expect(renderStatus(report)).toContain('1 problem(s)');
  } finally {
    await db.sql`update versioning.models set delta_sync_table_ttl = interval '30 minutes' where base_table = 'parts'::regclass`;
  }
});

test('a forwarder behind, and conflicts logged in the last day, are shown', async () => {
  await db.sql`insert into versioning.forwarder_positions (base_table, published_through, resume_token)
               values ('sites'::regclass, (extract(epoch from now()) * 1000)::bigint - 600000, 'cursor')`;
  await db.sql`insert into versioning.conflicts (base_table, item_id, field, column_name, reason, kept, base_version, server_version)
               values ('sites'::regclass, 'site-1', 'name', 'name', 'conflict', 'incoming', 1, 2),
                      ('sites'::regclass, 'site-2', 'name', 'name', 'conflict', 'server', 1, 3)`;
  try {
    const report = await collectStatus(db.sql);
    expect(report.forwarder).toEqual([{ table: 'sites', lagMs: expect.any(Number), resuming: true }]);
    expect(report.problems).toContainEqual(expect.stringMatching(/^sites: the forwarder is 1\d min behind \(in the middle of a large window\)/));
    expect(report.conflictsLast24h).toEqual([{ table: 'sites', count: 2 }]);
    expect(renderStatus(report)).toContain('conflicts logged in the last 24 h: sites 2');
  } finally {
    await db.sql`delete from versioning.forwarder_positions`;
  }
});

test('pg_cron\'s runs, where it runs the purge in this database, are read; elsewhere the report says so', async () => {
  const report = await collectStatus(db.sql);
  const [cron] = await db.sql<{ here: boolean }[]>`select to_regclass('cron.job_run_details') is not null as here`;
  expect(report.purge === null).toBe(!cron!.here);
  if (!report.purge) expect(renderStatus(report)).toContain('purge: not run by pg_cron in this database');
});

test('a database that was never migrated is told so', async () => {
  const unmigrated = connect(db.url.replace(/\/[^/?]+(\?.*)?$/, '/postgres$1'), { max: 1 }); // the server's own database
  try {
    await expect(collectStatus(unmigrated)).rejects.toThrow('this database has no versioned tables: run `npm run migrate` on it first');
  } finally {
    await unmigrated.end();
  }
});

test('an unreachable database is an error, not a clean report', async () => {
  const lines: string[] = [];
  await expect(runStatus([], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' }, { log: (l) => lines.push(l), readParameter: async () => '', sign: async () => '' })).rejects.toThrow();
  expect(lines).toEqual([]);
});

test('a journal whose default partition holds rows (no range covers them): its ranges and the rows shown, a problem', async () => {
  // A change stamped a month ahead (a clock far off) lands outside every range the purge created.
  await db.sql`insert into versioning_delta.sites (id, _version, _deleted, _last_changed_at, item)
               values ('far-ahead', 1, false, versioning.now_ms() + 30 * 86400000::bigint, '{}')`;
  try {
    const report = await collectStatus(db.sql);
    const sites = report.models.find((m) => m.table === 'sites')!;

    expect(sites.journalPartitions).toEqual({ ranges: expect.any(Number), aheadMs: expect.any(Number), defaultRows: 1 });
    expect(sites.journalPartitions.ranges).toBeGreaterThanOrEqual(2);
    expect(sites.journalPartitions.aheadMs).toBeGreaterThanOrEqual(6 * 3_600_000 - 60_000);
    expect(report.problems).toEqual([expect.stringMatching(/^sites: the journal's time ranges reach [\d.]+ h past now and its default partition holds 1 row\(s\): the purge, which creates the ranges ahead, has not run for hours/)]);
    expect(renderStatus(report)).toMatch(/^sites\s.*\d+, to \+[\d.]+ h, 1 in default$/m);
  } finally {
    await db.sql`delete from versioning_delta.sites where id = 'far-ahead'`;
  }
});
