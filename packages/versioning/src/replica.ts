// Full and base sync pages from a read replica (README "Full syncs from a read replica"), with no change
// missed.
//
// A sync's window is fixed on the writer (sync.ts firstPage, design.md §4): a standby can compute no
// watermark, for it sees neither the writer's sessions nor its open transactions. Every transaction that
// committed before the watermark was taken has its commit record below the writer's WAL insert position
// read right after it, in the same statement; that position travels in the signed cursor. A standby that
// has replayed past it shows every such transaction, so what it returns of the window is what the writer
// would. A page is read on the replica only then, checked and read in one transaction at READ COMMITTED
// on one connection: RDS Proxy keeps a transaction on one backend (between transactions it may move the
// connection to another reader), and the page's statement takes its snapshot after the check has seen
// the replay position. The check cannot share the page's statement: a statement's snapshot is taken
// before its functions run, so it may predate the replay position they report. A replica behind the
// position is given REPLICA_WAIT_MS, then the page is read on the writer: never an error, never a page
// from a replica that is behind.
import { isConnectionLost, transaction, type Sql } from '@datastore-pg/db';
import type postgres from 'postgres';
import { logger, type RequestOutcome } from './observability';
import type { ModelRuntime } from './runtime';
import type { SyncCursor } from './token';

/**
 * How long a page waits for the replica to replay past its sync's WAL position before it is read on the
 * writer instead. Replicas in the same region replay within milliseconds (a page nearly never waits):
 * a replica still behind after a second is lagging, and the device should not wait for it.
 */
export const REPLICA_WAIT_MS = 1000;
/**
 * After the replica failed, was behind for a whole wait, or turned out to be no standby, pages leave it
 * alone this long (a lagging one is still tried, without waiting): a replica that is down would otherwise
 * cost every page a connection attempt, and one that lags a second of waiting.
 */
export const REPLICA_REST_MS = 30_000;
// Between checks of a replica that is behind: short at first (it is usually milliseconds away).
const FIRST_POLL_MS = 5;
const MAX_POLL_MS = 100;

/**
 * Where a full or base page that may be read on the replica was read (the request's log line says it):
 * `replica`; or on the writer, because the replica was still behind after the wait (`behind`), is no
 * standby (`not-standby`), failed (`failed`), or is left alone after one of those or is not configured
 * in this container (`resting`).
 */
export type ReplicaUse = 'replica' | 'behind' | 'not-standby' | 'failed' | 'resting';

export interface ReplicaOptions {
  /** The replica's connection; undefined when none is configured (every read then stays on the writer). */
  connection: () => Sql | undefined;
  /** Called when the replica's connection was lost, so the next use opens a new one. */
  onConnectionLost?: () => void;
  waitMs?: number;
  restMs?: number;
}

export class Replica {
  private readonly waitMs: number;
  private readonly restMs: number;
  /** Until then pages go straight to the writer: the replica failed, or is no standby. */
  private skipUntil = 0;
  /** Until then pages try the replica once, without waiting: it was behind for a whole wait. */
  private hurryUntil = 0;
  private disabledBecause: string | undefined;

  constructor(private readonly options: ReplicaOptions) {
    this.waitMs = options.waitMs ?? REPLICA_WAIT_MS;
    this.restMs = options.restMs ?? REPLICA_REST_MS;
  }

  /** Whether a sync's first page should take the writer's WAL position, for its pages to be read here. */
  get configured(): boolean {
    return this.disabledBecause === undefined && this.options.connection() !== undefined;
  }

  /** For good (the container's life): the writer cannot report its WAL position, so no page may be read here. */
  disable(reason: string, error: unknown): void {
    if (this.disabledBecause !== undefined) return;
    this.disabledBecause = reason;
    logger.warn('read replica disabled: every sync page is read on the writer', { reason, ...errorFields(error) });
  }

  /**
   * Reads a page on the replica once it has replayed past `lsn`, the sync's WAL position on the writer:
   * the page's rows, or why the caller must read it on the writer instead.
   */
  async read<T>(lsn: string, page: (sql: Sql) => Promise<T>): Promise<({ use: 'replica'; rows: T } | { use: Exclude<ReplicaUse, 'replica'> }) & { waitedMs: number }> {
    const sql = this.disabledBecause === undefined ? this.options.connection() : undefined;
    const started = Date.now();
    if (!sql || started < this.skipUntil) return { use: 'resting', waitedMs: 0 };
    const deadline = started + (started < this.hurryUntil ? 0 : this.waitMs);
    // From the first look that found the replica behind, to the page's answer.
    let behindSince: number | undefined;
    const waited = () => (behindSince === undefined ? 0 : Date.now() - behindSince);
    try {
      for (let pollMs = FIRST_POLL_MS; ; pollMs = Math.min(pollMs * 2, MAX_POLL_MS)) {
        const read = await transaction(sql, async (tx) => {
          const [state] = await tx<{ standby: boolean; replayed: boolean | null }[]>`
            select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn() >= ${lsn}::pg_lsn as replayed`;
          // Not a standby (an Aurora reader endpoint of a cluster without readers leads to the writer, a
          // promoted replica has no replay position to compare): nothing says it holds the window.
          if (!state!.standby) return 'not-standby' as const;
          if (!state!.replayed) return undefined;
          return { rows: await page(tx) };
        }, { readOnly: true });
        if (read === 'not-standby') {
          this.rest('skip', 'the read replica is not a standby');
          return { use: 'not-standby', waitedMs: waited() };
        }
        if (read) {
          this.hurryUntil = 0;
          return { use: 'replica', rows: read.rows, waitedMs: waited() };
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          if (Date.now() >= this.hurryUntil) this.rest('hurry', `the read replica is more than ${this.waitMs} ms behind`);
          return { use: 'behind', waitedMs: waited() };
        }
        behindSince ??= Date.now();
        await new Promise((done) => setTimeout(done, Math.min(pollMs, left)));
      }
    } catch (error) {
      if (isConnectionLost(error)) this.options.onConnectionLost?.();
      // A value of the request the page's SQL refuses (class 22 data exception, 23, 42) is the request's
      // fault, not the replica's: the writer answers it, with the same error.
      if (!/^(22|23|42)/.test(String((error as { code?: unknown }).code))) this.rest('skip', 'the read replica failed', error);
      return { use: 'failed', waitedMs: waited() };
    }
  }

  private rest(how: 'skip' | 'hurry', reason: string, error?: unknown): void {
    const until = Date.now() + this.restMs;
    if (how === 'skip') this.skipUntil = until;
    else this.hurryUntil = until;
    logger.warn(`${reason}: sync pages are read on the writer for a while`, { restMs: this.restMs, ...errorFields(error) });
  }
}

/**
 * The rows of a sync's window statement (sync.ts firstPage), each with `lsn`, the WAL position a replica
 * must have replayed to answer the sync's pages, when the runtime has a replica. The position is read
 * after the window (the materialized CTE is evaluated first): a transaction that commits between the
 * two is below it, while a position read before the watermark could miss one the watermark no longer
 * waits for. The insert position, not pg_current_wal_lsn(): a commit made with synchronous_commit off
 * is visible before it is written out. A writer that cannot report it (Aurora) disables the replica and
 * answers the window alone.
 */
export async function withWalPosition<Row extends object>(runtime: ModelRuntime, window: postgres.PendingQuery<Row[]>): Promise<(Row & { lsn?: string })[]> {
  const replica = runtime.replica?.configured ? runtime.replica : undefined;
  if (!replica) return window;
  const { sql } = runtime;
  try {
    const rows = await sql<(Row & { wal_insert_lsn: string; wal_block_size: number; wal_segment_size: number })[]>`
      with w as materialized (${window})
      select w.*, pg_current_wal_insert_lsn()::text as wal_insert_lsn,
             current_setting('wal_block_size')::int as wal_block_size,
             pg_size_bytes(current_setting('wal_segment_size')) as wal_segment_size
        from w`;
    return rows.map(({ wal_insert_lsn: lsn, wal_block_size: block, wal_segment_size: segment, ...row }) => ({ ...(row as unknown as Row), lsn: replayTarget(lsn, block, segment) }));
  } catch (error) {
    if (!cannotReportWal(error)) throw error;
    replica.disable('the writer cannot report its WAL position', error);
    return window;
  }
}

/**
 * Reads a sync page where it may be read: a full or base page whose cursor carries a WAL position on the
 * replica once it has replayed that far, any other page (a delta page reads the journal; a token without
 * a position) on the writer. `outcome.replica` tells where, and why not the replica; `replicaWaitMs`
 * how long the page waited for it.
 */
export async function readWhereReplayed<T>(runtime: ModelRuntime, cursor: SyncCursor, outcome: RequestOutcome, read: (runtime: ModelRuntime) => Promise<T>): Promise<T> {
  if (cursor.mode === 'delta' || cursor.lsn === undefined || !runtime.replica) return read(runtime);
  const onReplica = await runtime.replica.read(cursor.lsn, (sql) => read({ ...runtime, sql }));
  outcome.replica = onReplica.use;
  outcome.replicaWaitMs = onReplica.waitedMs;
  return onReplica.use === 'replica' ? onReplica.rows : read(runtime);
}

/**
 * Whether the writer refused to report its WAL position, so that no replica can be used: Aurora
 * PostgreSQL answers pg_current_wal_* with feature_not_supported (0A000), a server in recovery with
 * 55000, and a server that withholds the function from the user with 42501 or 42883.
 */
export function cannotReportWal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('0A') || ['55000', '42501', '42883'].includes(code));
}

// Sizes of a WAL page header (access/xlog_internal.h, SizeOfXLogShortPHD) and of the longer one that
// starts each segment (SizeOfXLogLongPHD), on the 64-bit servers RDS and Aurora run.
const SHORT_PAGE_HEADER = 24n;
const LONG_PAGE_HEADER = 40n;

/**
 * The position a replica has to replay to, from the writer's WAL insert position. When the last record
 * ended exactly at the end of a page, the insert position points past the next page's header, where the
 * next record will go; a replica's replay position stops at the end of the last record, before that
 * header, and stays there until more WAL is written (seen here: an idle writer would send every page to
 * the writer after a wasted wait). The header holds nothing to replay, so the target is the page's start.
 */
export function replayTarget(insertLsn: string, walBlockSize: number, walSegmentSize: number): string {
  const [high, low] = insertLsn.split('/');
  const position = (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
  const header = position % BigInt(walSegmentSize) === LONG_PAGE_HEADER ? LONG_PAGE_HEADER
    : position % BigInt(walBlockSize) === SHORT_PAGE_HEADER ? SHORT_PAGE_HEADER : 0n;
  const target = position - header;
  return `${(target >> 32n).toString(16).toUpperCase()}/${(target & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** SQLSTATE and name only: a database's message may quote values. */
function errorFields(error: unknown): Record<string, unknown> {
  if (error === undefined) return {};
  const { code, name } = error as { code?: unknown; name?: unknown };
  return { sqlstate: code, error: name };
}
