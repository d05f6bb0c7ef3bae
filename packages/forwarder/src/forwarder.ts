// The forwarder: every change to a versioned table, from any writer (the API, an ERP's SQL, psql, a hard
// DELETE become tombstone), published to the model's subscribers.
//
// Each pass reads, per model, the changes since the model's position exactly as a sync does
// (versioning's sync, scope "every row"): a window that ends at the sync watermark, so a change that
// commits late lands in the next window instead of behind this one; the latest version of each item
// changed in it (a burst of writes to one item is one message); the delta journal while it holds the
// window, the base table otherwise. A window's pages are published in order, the cursor of the next page
// is stored after each (a window larger than one run resumes there), and only when the last page is out
// does the position move to the window's end. So, for one item, a version is never published after a
// newer one (DataStore applies subscription items without comparing _version, design.md §6), and a
// forwarder that dies mid-page publishes that page again on restart (at least once; a repeated version
// is harmless) but skips nothing. While run() holds the lock, every position write also checks, in the
// same statement, that the lock is still this forwarder's: one that lost it cannot move a position.
import type { Sql } from '@datastore-pg/db';
import type { ModelMeta } from '@datastore-pg/schema/models';
import { DataStoreError, ErrorCode, loadModelRuntime, sync, type Item, type ModelRuntime } from '@datastore-pg/versioning';

/** Where published items go: the local endpoint's realtime fan-out, or AppSync through its publish mutations. */
export interface Publisher {
  /** Publishes one window's items of a model, in order; throws if any was not published. */
  publish(model: ModelMeta, items: readonly Item[]): Promise<void>;
}

export interface ForwarderOptions {
  connection: () => Sql;
  /** Opens a pool of one connection for run()'s single-flight lock (run() closes it); pass() needs none. */
  lockConnection?: () => Sql;
  models: readonly ModelMeta[];
  publisher: Publisher;
  /** Items read per page of a window (a sync's limit). */
  pageSize?: number;
}

export interface PassReport {
  /** Items published in this pass, by model. */
  published: Record<string, number>;
  /** Models whose forwarding failed in this pass (each goes on from its stored position next pass). */
  failed: Record<string, unknown>;
}

/** Thrown when a position write finds the lock held by another session: this forwarder must stop. */
export class LockLostError extends Error {
  override name = 'LockLostError';
}

export interface RunOptions {
  intervalMs: number;
  shouldStop: () => boolean;
  /** How long to wait for another forwarder to let go of the lock; 0 (the default) gives up at once. */
  waitForLockMs?: number;
  onPass?: (report: PassReport) => void;
  /** A pass that failed (the next starts again from the stored positions). */
  onError?: (error: unknown) => void;
}

/** An advisory lock key of its own: one forwarder per database publishes at a time. */
const FORWARDER_LOCK = 7_470_100_321;

const ALL_ROWS = { scope: 'all' } as const;

/** How often a forwarder with nothing to publish stores its position (what `npm run status` reads as its lag). */
const IDLE_POSITION_EVERY_MS = 5000;
/** How often a running forwarder records the sync watermark (versioning.sample_watermark, migration 000014). */
const WATERMARK_SAMPLE_MS = 10_000;

export class Forwarder {
  private readonly runtimes = new Map<string, Promise<ModelRuntime>>();
  /** The backend holding the lock while run() passes: position writes check it is still held. */
  private lockPid: number | undefined;

  constructor(private readonly options: ForwarderOptions) {}

  /**
   * Gives every model without a position one: now. A forwarder seen for the first time starts there
   * (devices have synced what came before); the first pass does it too, this only does it sooner.
   */
  async initialize(): Promise<void> {
    const sql = this.options.connection();
    for (const model of this.options.models) {
      await sql`insert into versioning.forwarder_positions (base_table, published_through)
                values (to_regclass(${model.table}), versioning.sync_watermark()) on conflict do nothing`;
    }
  }

  /**
   * One pass over every model: publishes what changed since its position, then moves the position. A
   * model that fails does not hold the others back. Stops between pages once shouldStop() says so.
   */
  async pass(shouldStop: () => boolean = () => false): Promise<PassReport> {
    const report: PassReport = { published: {}, failed: {} };
    for (const model of this.options.models) {
      try {
        report.published[model.name] = await this.forward(model, shouldStop);
      } catch (error) {
        if (error instanceof LockLostError) throw error;
        report.failed[model.name] = error;
      }
    }
    return report;
  }

  /**
   * Passes every intervalMs until shouldStop() says so, holding an advisory lock so that one forwarder
   * per database publishes at a time (two side by side could reorder an item's versions). Waits up to
   * waitForLockMs for a forwarder still running to let go (the scheduled Lambda's hand-over), then
   * returns false without passing. Rejects when the connection holding the lock is lost.
   */
  async run(options: RunOptions): Promise<boolean> {
    if (!this.options.lockConnection) throw new Error('Forwarder.run needs a lockConnection');
    const sql = this.options.connection();
    // The lock lives with its session, on a connection of its own that nothing else uses and that is
    // closed when the run ends (which releases the lock whatever happened). Not a reserved connection of
    // the pool: postgres.js throws from a timer, out of reach of any catch, when a query is sent down a
    // reserved connection whose socket is gone; a pool reconnects instead.
    const lockSql = this.options.lockConnection();
    const giveUpAt = Date.now() + (options.waitForLockMs ?? 0);
    const tryLock = async () => (await lockSql<{ locked: boolean; pid: number }[]>`
      select pg_try_advisory_lock(${FORWARDER_LOCK}) as locked, pg_backend_pid() as pid`)[0]!;
    try {
      let lock = await tryLock();
      while (!lock.locked) {
        if (Date.now() >= giveUpAt || options.shouldStop()) return false;
        await sleep(options.intervalMs);
        lock = await tryLock();
      }
      let sampledAt = 0;
      while (!options.shouldStop()) {
        const started = Date.now();
        if (started - sampledAt >= WATERMARK_SAMPLE_MS) {
          // The watermark of this moment, for the delta queries of the AppSync SDK's Delta Sync
          // (migration 000014): dense samples let them start no earlier than they must.
          await sql`select versioning.sample_watermark()`;
          sampledAt = started;
        }
        // If the lock's connection died, another forwarder may hold the lock by now, and two publishing
        // side by side could reorder an item's versions: stop.
        const [held] = await sql<{ held: boolean }[]>`select ${lockHeld(sql, lock.pid)} as held`;
        if (!held!.held) throw new LockLostError('the forwarder lost the connection that held its lock');
        this.lockPid = lock.pid;
        try {
          const report = await this.pass(options.shouldStop); // not inside onPass?.(...): that skips its argument when onPass is absent
          options.onPass?.(report);
          for (const error of Object.values(report.failed)) options.onError?.(error); // those models go on from their positions
        } catch (error) {
          if (error instanceof LockLostError) throw error;
          options.onError?.(error);
        } finally {
          this.lockPid = undefined;
        }
        const rest = options.intervalMs - (Date.now() - started);
        if (rest > 0 && !options.shouldStop()) await sleep(rest);
      }
      // Released now rather than when the connection closes: the next forwarder waiting takes over sooner.
      await lockSql`select pg_advisory_unlock(${FORWARDER_LOCK})`;
      return true;
    } finally {
      await lockSql.end({ timeout: 0 }).catch(() => undefined);
    }
  }

  /**
   * run() again and again until shouldStop(): a run whose connection was lost is reported to onError
   * and followed by another after retryMs; one that found another forwarder holding the lock for
   * waitForLockMs is followed by another at once. Resolves whether any run held the lock.
   */
  async keepRunning(options: RunOptions & { retryMs: number }): Promise<boolean> {
    let forwarded = false;
    while (!options.shouldStop()) {
      try {
        if (await this.run(options)) forwarded = true;
      } catch (error) {
        options.onError?.(error);
        for (let slept = 0; slept < options.retryMs && !options.shouldStop(); slept += STOP_CHECK_MS) await sleep(STOP_CHECK_MS);
      }
    }
    return forwarded;
  }

  private async forward(model: ModelMeta, shouldStop: () => boolean): Promise<number> {
    const runtime = await this.runtime(model);
    const sql = this.options.connection();
    const [position] = await sql<{ published_through: number; resume_token: string | null; stored_ms_ago: number }[]>`
      select published_through, resume_token, (extract(epoch from clock_timestamp() - updated_at) * 1000)::bigint as stored_ms_ago
        from versioning.forwarder_positions where base_table = to_regclass(${model.table})`;
    if (!position) {
      await this.initialize();
      return 0;
    }
    const lastSync = position.published_through;
    let nextToken = position.resume_token;
    let count = 0;
    for (;;) {
      let page;
      try {
        page = await sync(runtime, ALL_ROWS, { lastSync, limit: this.options.pageSize ?? 500, nextToken });
      } catch (error) {
        // A stored cursor outlives its use (a delta cursor expires with the delta TTL): the window is
        // published again from its start (at least once), rather than never again.
        if (!(error instanceof DataStoreError && error.code === ErrorCode.InvalidNextToken && nextToken === position.resume_token && nextToken !== null)) throw error;
        nextToken = null;
        continue;
      }
      if (page.items.length > 0) await this.options.publisher.publish(model, page.items);
      count += page.items.length;
      if (page.nextToken === null) {
        // The window is out: the position moves to its end. A pass that published nothing stores it only
        // every IDLE_POSITION_EVERY_MS (the next pass reads the same empty stretch again, from an index):
        // an idle forwarder would otherwise write every model's row four times a second, for ever.
        const idle = count === 0 && position.resume_token === null;
        if (page.startedAt > lastSync && (!idle || position.stored_ms_ago >= IDLE_POSITION_EVERY_MS)) await this.movePosition(model, lastSync, page.startedAt, null);
        return count;
      }
      nextToken = page.nextToken;
      await this.movePosition(model, lastSync, lastSync, nextToken);
      if (shouldStop()) return count;
    }
  }

  /** Moves a position, if it is still the one this pass started from and the lock (when run() holds it) is still this forwarder's. */
  private async movePosition(model: ModelMeta, from: number, to: number, resumeToken: string | null): Promise<void> {
    const sql = this.options.connection();
    const moved = await sql`
      update versioning.forwarder_positions set published_through = ${to}, resume_token = ${resumeToken}, updated_at = now()
       where base_table = to_regclass(${model.table}) and published_through = ${from}
         and ${this.lockPid === undefined ? sql`true` : lockHeld(sql, this.lockPid)}`;
    if (moved.count === 0) throw new LockLostError(`${model.name}: the position moved under this forwarder, or its lock was lost`);
  }

  private runtime(model: ModelMeta): Promise<ModelRuntime> {
    let runtime = this.runtimes.get(model.name);
    if (!runtime) {
      runtime = loadModelRuntime(this.options.connection, model);
      runtime.catch(() => this.runtimes.delete(model.name));
      this.runtimes.set(model.name, runtime);
    }
    return runtime;
  }
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
/** How often a wait between runs looks at shouldStop(). */
const STOP_CHECK_MS = 50;

/** Whether that backend still holds the forwarder's lock (a bigint key: classid high, objid low word, objsubid 1). */
function lockHeld(sql: Sql, pid: number) {
  return sql`exists (select from pg_locks where locktype = 'advisory' and pid = ${pid} and granted and objsubid = 1
                      and (classid::bigint << 32) + objid::bigint = ${FORWARDER_LOCK})`;
}
