// What holds sync back, read from the database: per model its rows, tombstones, journal and merge
// history; how far the sync watermark lags and which transaction holds it; the purge's last runs (where
// pg_cron runs it here); how far the forwarder is behind; conflicts logged in the last day. Each figure
// past its threshold is a problem, named in words an operator can act on.
import type { Sql } from '@datastore-pg/db';

export interface StatusThresholds {
  /** The watermark behind now: devices re-receive changes, live changes wait (default 60 s). */
  maxWatermarkLagMs: number;
  /** The forwarder's position behind now (default 10 s). */
  maxForwarderLagMs: number;
  /** The oldest journal row, in delta TTLs: past 2, the purge has stopped (default 2). */
  maxJournalAgeTtls: number;
}

export const DEFAULT_THRESHOLDS: StatusThresholds = { maxWatermarkLagMs: 60_000, maxForwarderLagMs: 10_000, maxJournalAgeTtls: 2 };

export interface ModelStatus {
  table: string;
  rows: number;
  tombstones: number;
  journalRows: number;
  /** Age of the oldest journal row, or null when the journal is empty. */
  oldestJournalAgeMs: number | null;
  deltaTtlMs: number;
  mergeRows: number | null;
  /** Purged tombstones in the graveyard (000013): every full sync of a device sends them all. */
  graveyardRows: number | null;
  /** The journal's time ranges (000012), how far the newest reaches past now, and rows in its default partition. */
  journalPartitions: { ranges: number; aheadMs: number | null; defaultRows: number };
}

export interface TransactionHolder {
  pid: number;
  application: string;
  user: string | null;
  state: string | null;
  ageMs: number;
}

export interface Status {
  models: ModelStatus[];
  watermark: { lagMs: number; heldBy: TransactionHolder | null };
  /** null when pg_cron does not run here (npm run dev purges on a timer; RDS needs the parameter group). */
  purge: { lastRuns: { startedAt: string; status: string; message: string | null }[]; failuresLastHour: number } | null;
  forwarder: { table: string; lagMs: number; resuming: boolean }[];
  conflictsLast24h: { table: string; count: number }[];
  problems: string[];
}

export async function collectStatus(sql: Sql, thresholds: StatusThresholds = DEFAULT_THRESHOLDS): Promise<Status> {
  const problems: string[] = [];
  const [migrated] = await sql<{ yes: boolean }[]>`select to_regclass('versioning.models') is not null as yes`;
  if (!migrated!.yes) throw new Error('this database has no versioned tables: run `npm run migrate` on it first');
  const [clock] = await sql<{ now: number; watermark: number }[]>`
    select (extract(epoch from clock_timestamp()) * 1000)::bigint as now, versioning.sync_watermark() as watermark`;
  const now = clock!.now;

  const models: ModelStatus[] = [];
  const versioned = await sql<{ base: string; delta: string; merge: string | null; graveyard: string | null; delta_ttl_ms: number }[]>`
    select base_table::text as base, delta_table::text as delta, versioning.merge_table(base_table)::text as merge,
           versioning.graveyard_table(base_table)::text as graveyard,
           (extract(epoch from delta_sync_table_ttl) * 1000)::bigint as delta_ttl_ms
      from versioning.models order by 1`;
  for (const m of versioned) {
    // Names from the catalog (regclass output, quoted where needed), never from input.
    const [base] = await sql.unsafe<{ rows: number; tombstones: number }[]>(`select count(*)::int as rows, count(*) filter (where _deleted)::int as tombstones from ${m.base}`);
    const [delta] = await sql.unsafe<{ rows: number; oldest: number | null }[]>(`select count(*)::int as rows, min(_last_changed_at) as oldest from ${m.delta}`);
    const merge = m.merge ? (await sql.unsafe<{ rows: number }[]>(`select count(*)::int as rows from ${m.merge}`))[0]!.rows : null;
    const graveyard = m.graveyard ? (await sql.unsafe<{ rows: number }[]>(`select count(*)::int as rows from ${m.graveyard}`))[0]!.rows : null;
    const oldestJournalAgeMs = delta!.oldest === null ? null : now - delta!.oldest;
    const journalPartitions = await partitionsOf(sql, m.delta, now);
    models.push({ table: m.base, rows: base!.rows, tombstones: base!.tombstones, journalRows: delta!.rows, oldestJournalAgeMs, deltaTtlMs: m.delta_ttl_ms, mergeRows: merge, graveyardRows: graveyard, journalPartitions });
    // Purge creates the ranges ahead (6 h and more): rows outside every range land in the default
    // partition, and a journal whose ranges end within the hour soon writes only there.
    if (journalPartitions.defaultRows > 0 || (journalPartitions.aheadMs ?? 0) < 3_600_000) {
      problems.push(`${m.base}: the journal's time ranges reach ${journalPartitions.aheadMs === null ? 'nowhere' : `${duration(Math.max(0, journalPartitions.aheadMs))} past now`} and its default partition holds ${journalPartitions.defaultRows} row(s): the purge, which creates the ranges ahead, has not run for hours (call versioning.purge(), check its schedule)`);
    }
    if (oldestJournalAgeMs !== null && oldestJournalAgeMs > thresholds.maxJournalAgeTtls * m.delta_ttl_ms) {
      problems.push(`${m.base}: the oldest journal row is ${duration(oldestJournalAgeMs)} old, over ${thresholds.maxJournalAgeTtls} delta TTLs (${duration(m.delta_ttl_ms)}): the purge is not running (call versioning.purge(), check its schedule)`);
    }
  }

  // No query text: it may hold the very values an operator must not see.
  const [holder] = await sql<{ pid: number; application: string; user: string | null; state: string | null; age_ms: number }[]>`
    select pid, application_name as application, usename as user, state, (extract(epoch from clock_timestamp() - xact_start) * 1000)::bigint as age_ms
      from pg_stat_activity
     where datid = (select oid from pg_database where datname = current_database())
       and pid <> pg_backend_pid() and xact_start is not null and backend_type <> 'autovacuum worker'
     order by xact_start limit 1`;
  const lagMs = Math.max(0, now - clock!.watermark); // both read in one statement, the clock a moment apart
  const heldBy = holder && holder.age_ms >= 1000 ? { pid: holder.pid, application: holder.application, user: holder.user, state: holder.state, ageMs: holder.age_ms } : null;
  if (lagMs > thresholds.maxWatermarkLagMs) {
    problems.push(`the sync watermark is ${duration(lagMs)} behind now${heldBy ? `, held by pid ${heldBy.pid} (${heldBy.application || 'no application name'}, user ${heldBy.user ?? '?'}, ${heldBy.state ?? '?'}, open ${duration(heldBy.ageMs)})` : ''}: devices re-receive changes and live changes wait until it ends (pg_terminate_backend(pid) if it is stuck)`);
  }

  const purge = await purgeRuns(sql);
  if (purge && purge.failuresLastHour > 0) problems.push(`the purge failed ${purge.failuresLastHour} time(s) in the last hour: ${purge.lastRuns.find((r) => r.status === 'failed')?.message ?? ''}`);

  const forwarder = (await sql<{ table: string; lag_ms: number; resuming: boolean }[]>`
    select base_table::text as table, ${now}::bigint - published_through as lag_ms, resume_token is not null as resuming
      from versioning.forwarder_positions order by 1`).map((f) => ({ table: f.table, lagMs: f.lag_ms, resuming: f.resuming }));
  for (const f of forwarder) {
    if (f.lagMs > thresholds.maxForwarderLagMs) problems.push(`${f.table}: the forwarder is ${duration(f.lagMs)} behind${f.resuming ? ' (in the middle of a large window)' : ''}: online devices get changes late (is it running? is the watermark held?)`);
  }

  const conflictsLast24h = await sql<{ table: string; count: number }[]>`
    select base_table::text as table, count(*)::int as count from versioning.conflicts
     where logged_at > now() - interval '24 hours' group by 1 order by 1`;

  return { models, watermark: { lagMs, heldBy }, purge, forwarder, conflictsLast24h: [...conflictsLast24h], problems };
}

async function partitionsOf(sql: Sql, journal: string, now: number): Promise<ModelStatus['journalPartitions']> {
  const [ranges] = await sql<{ ranges: number; upper: number | null; default_partition: string | null }[]>`
    select count(*) filter (where not is_default)::int as ranges, max(upper_bound) as upper,
           max(partition::text) filter (where is_default) as default_partition
      from versioning.journal_partitions(${journal}::regclass)`;
  // The name comes from the catalog (regclass output), never from input.
  const defaultRows = ranges!.default_partition
    ? (await sql.unsafe<{ rows: number }[]>(`select count(*)::int as rows from ${ranges!.default_partition}`))[0]!.rows : 0;
  return { ranges: ranges!.ranges, aheadMs: ranges!.upper === null ? null : Number(ranges!.upper) - now, defaultRows };
}

/** pg_cron's record of the purge, where pg_cron runs in this database. */
async function purgeRuns(sql: Sql): Promise<Status['purge']> {
  const [cron] = await sql<{ here: boolean }[]>`select to_regclass('cron.job_run_details') is not null as here`;
  if (!cron!.here) return null;
  const runs = await sql<{ started_at: string; status: string; message: string | null; failed_recently: boolean }[]>`
    select r.start_time::text as started_at, r.status, r.return_message as message,
           r.status = 'failed' and r.start_time > now() - interval '1 hour' as failed_recently
      from cron.job_run_details r join cron.job j using (jobid)
     where j.command like '%versioning.purge%'
     order by r.start_time desc limit 60`;
  return {
    lastRuns: runs.slice(0, 5).map((r) => ({ startedAt: r.started_at, status: r.status, message: r.message })),
    failuresLastHour: runs.filter((r) => r.failed_recently).length,
  };
}

/** The status as a readable report. */
export function renderStatus(status: Status): string {
  const lines: string[] = [];
  const table = (head: string[], rows: (string | number)[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
    for (const row of [head, ...rows]) lines.push(row.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!))).join('  '));
  };
  table(['model table', 'rows', 'tombstones', 'journal', 'oldest change', 'merge history', 'graveyard', 'journal ranges'],
    status.models.map((m) => [m.table, m.rows, m.tombstones, m.journalRows, m.oldestJournalAgeMs === null ? '-' : duration(m.oldestJournalAgeMs), m.mergeRows ?? '-', m.graveyardRows ?? '-',
      `${m.journalPartitions.ranges}, to +${m.journalPartitions.aheadMs === null ? '-' : duration(Math.max(0, m.journalPartitions.aheadMs))}${m.journalPartitions.defaultRows ? `, ${m.journalPartitions.defaultRows} in default` : ''}`]));
  lines.push('');
  const held = status.watermark.heldBy;
  lines.push(`watermark: ${duration(status.watermark.lagMs)} behind now${held ? `; oldest open transaction: pid ${held.pid} (${held.application || 'no application name'}, user ${held.user ?? '?'}, ${held.state ?? '?'}), open ${duration(held.ageMs)}` : ''}`);
  lines.push(status.purge
    ? `purge (pg_cron): ${status.purge.failuresLastHour} failure(s) in the last hour; last runs: ${status.purge.lastRuns.map((r) => `${r.startedAt} ${r.status}`).join(', ') || 'none yet'}`
    : 'purge: not run by pg_cron in this database (npm run dev purges every minute; on RDS see README "Deploying")');
  lines.push(status.forwarder.length > 0
    ? `forwarder: ${status.forwarder.map((f) => `${f.table} ${duration(f.lagMs)} behind${f.resuming ? ' (mid-window)' : ''}`).join(', ')}`
    : 'forwarder: has not run against this database');
  lines.push(`conflicts logged in the last 24 h: ${status.conflictsLast24h.map((c) => `${c.table} ${c.count}`).join(', ') || 'none'}`);
  lines.push('');
  lines.push(status.problems.length > 0 ? `${status.problems.length} problem(s):\n${status.problems.map((p) => `- ${p}`).join('\n')}` : 'no problems');
  return lines.join('\n');
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
