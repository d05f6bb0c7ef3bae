// The forwarder: every change to a versioned table, from any writer (the API, an ERP's SQL, psql, a hard
// DELETE become tombstone), published to the model's subscribers.
//
// Each pass reads, per model, the changes since the model's position exactly as a sync does
// (versioning's sync, scope "every row"): a window that ends at the sync watermark, so a change that
// commits late lands in the next window instead of behind this one; the latest version of each item
// changed in it (a burst of writes to one item is one message); the delta journal while it holds the
// window, the base table otherwise. The window's items are published in order, and only then does the
// position move to the window's end. So, for one item, a version is never published after a newer one
// (DataStore applies subscription items without comparing _version, design.md §6), and a forwarder
// that dies mid-window publishes that window again on restart (at least once; a repeated version is
// harmless) but skips nothing.
import type { Sql } from '@datastore-pg/db';
import type { ModelMeta } from '@datastore-pg/schema/models';
import { loadModelRuntime, sync, type Item, type ModelRuntime } from '@datastore-pg/versioning';

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

export class Forwarder {
  private readonly runtimes = new Map<string, Promise<ModelRuntime>>();

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

  /** One pass over every model: publishes what changed since its position, then moves the position. */
  async pass(): Promise<PassReport> {
    const published: Record<string, number> = {};
    for (const model of this.options.models) published[model.name] = await this.forward(model);
    return { published };
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
      while (!options.shouldStop()) {
        const started = Date.now();
        // If the lock's connection died, another forwarder may hold the lock by now, and two publishing
        // side by side could reorder an item's versions: stop.
        const [held] = await sql<{ held: boolean }[]>`
          select exists (select from pg_locks where locktype = 'advisory' and pid = ${lock.pid} and granted) as held`;
        if (!held!.held) throw new Error('the forwarder lost the connection that held its lock');
        try {
          const report = await this.pass(); // not inside onPass?.(...): that skips its argument when onPass is absent
          options.onPass?.(report);
        } catch (error) {
          options.onError?.(error); // the next pass starts again from the stored positions
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

  private async forward(model: ModelMeta): Promise<number> {
    const runtime = await this.runtime(model);
    const sql = this.options.connection();
    const [position] = await sql<{ published_through: number }[]>`
      select published_through from versioning.forwarder_positions where base_table = to_regclass(${model.table})`;
    if (!position) {
      await this.initialize();
      return 0;
    }
    let count = 0;
    let nextToken: string | null = null;
    let windowEnd = position.published_through;
    do {
      const page = await sync(runtime, ALL_ROWS, { lastSync: position.published_through, limit: this.options.pageSize ?? 500, nextToken });
      if (page.items.length > 0) await this.options.publisher.publish(model, page.items);
      count += page.items.length;
      windowEnd = page.startedAt;
      nextToken = page.nextToken;
    } while (nextToken !== null);
    if (windowEnd > position.published_through) {
      await sql`update versioning.forwarder_positions set published_through = ${windowEnd}, updated_at = now()
                 where base_table = to_regclass(${model.table})`;
    }
    return count;
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
