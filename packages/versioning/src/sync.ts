// sync<Model>s(filter, limit, nextToken, lastSync) -> { items, nextToken, startedAt }
//
// A sync reads one window of changes, fixed on its first page: (lastSync, watermark], where the watermark
// (versioning.sync_watermark, design.md §4) lies below every transaction still open, so no change that
// commits late can fall behind a window already returned. Three ways to read it:
//   full   lastSync 0 or absent: every row (tombstones included), keyset on id
//   delta  lastSync recent enough that the delta table still holds every change since: the latest
//          journaled version of each item changed in the window, keyset on (stamp, seq)
//   base   lastSync older than that: base rows changed in the window, keyset on (stamp, id)
// A full or base sync then goes on with the graveyard (migrations/000013_graveyard.sql): the tombstones
// purge has removed from the table since lastSync, returned as deletions so that a device that was away
// longer than the BaseTableTTL loses its ghost rows. Keyset on id; the cursor's graveyard flag says the
// table's rows are done.
import type { Access } from './auth';
import { compileFilter, journalEqualities } from './filter';
import { DataStoreError, ErrorCode, invalid } from './errors';
import { itemColumns, ownedBy, toItem, type Item, type Row } from './items';
import type { ModelRuntime } from './runtime';
import type { RequestOutcome } from './observability';
import { readWhereReplayed, withWalPosition } from './replica';
import { scopeHash, signToken, verifyToken, type SyncCursor, type SyncMode } from './token';
import { joinFragments, journalKey, type Fragment } from './sql-values';

const DEFAULT_SYNC_LIMIT = 100;
const MAX_SYNC_LIMIT = 1000;


export interface SyncArgs {
  filter?: unknown;
  limit?: unknown;
  nextToken?: unknown;
  lastSync?: unknown;
}

export interface SyncResult {
  items: Item[];
  nextToken: string | null;
  startedAt: number;
}

export interface SyncOptions {
  /** Whether a full or base sync goes on with the graveyard's deletions (DataStore's: yes). */
  graveyard?: boolean;
}

export async function sync(runtime: ModelRuntime, access: Access, args: SyncArgs, outcome: RequestOutcome = {}, options: SyncOptions = {}): Promise<SyncResult> {
  const limit = syncLimit(args.limit);
  const lastSync = syncLastSync(args.lastSync);
  const filter = compileFilter(runtime, args.filter);
  const scope = scopeHash([args.filter ?? null, access]);

  const cursor = args.nextToken === null || args.nextToken === undefined
    ? await firstPage(runtime, lastSync, scope)
    : verifyToken(args.nextToken, runtime.tokenKey, { model: runtime.model.name, scope });
  if (cursor.lastSync !== lastSync) throw invalid('lastSync differs from the one this nextToken was issued for');
  if (cursor.mode === 'delta' && !(Date.now() <= (cursor.until ?? 0))) {
    throw new DataStoreError(ErrorCode.InvalidNextToken, 'this sync took too long: its changes may have been purged; restart it without nextToken');
  }

  // A full or base page on the read replica once it has replayed the window, otherwise on the writer (replica.ts).
  const { rows, buried } = await readWhereReplayed(runtime, cursor, outcome, async (rt) => {
    const page = cursor.graveyard ? [] : await readPage(rt, cursor, access, filter, journalEqualities(runtime, args.filter), limit);
    // The table's rows are done when a page comes back short: the rest of it from the graveyard.
    if (cursor.mode === 'delta' || page.length === limit || options.graveyard === false) return { rows: page, buried: 0 };
    const graveyard = await readGraveyard(rt, cursor, access, filter, limit - page.length);
    return { rows: [...page, ...graveyard], buried: graveyard.length };
  });
  const last = rows.at(-1);
  const nextToken = rows.length === limit && last
    ? signToken(buried > 0 || cursor.graveyard ? { ...cursor, graveyard: true, after: [String(last.id)] } : { ...cursor, after: keyOf(cursor.mode, last) }, runtime.tokenKey)
    : null;
  // A delta page's rows carry their journal position, which is the cursor's business, not the client's.
  const items = cursor.mode === 'delta'
    ? rows.map(({ _delta_seq: _seq, ...row }) => toItem(runtime, row))
    : rows.map((row) => toItem(runtime, row));
  outcome.syncMode = cursor.mode;
  outcome.items = items.length;
  outcome.graveyardItems = buried;
  return { items, nextToken, startedAt: cursor.startedAt };
}

function syncLimit(limit: unknown): number {
  if (limit === null || limit === undefined) return DEFAULT_SYNC_LIMIT;
  // GraphQL's Int is 32-bit: anything larger never came through AppSync.
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > 2 ** 31 - 1) throw invalid('limit must be a positive 32-bit integer');
  return Math.min(limit as number, MAX_SYNC_LIMIT);
}

function syncLastSync(lastSync: unknown): number {
  if (lastSync === null || lastSync === undefined) return 0;
  if (!Number.isSafeInteger(lastSync) || (lastSync as number) < 0) throw invalid('lastSync must be a timestamp in milliseconds');
  return lastSync as number;
}

/** Fixes the window: the watermark, and which table can answer it. */
async function firstPage(runtime: ModelRuntime, lastSync: number, scope: string): Promise<SyncCursor> {
  const { sql, model } = runtime;
  // With a read replica, also the WAL position the replica must have replayed to answer the pages.
  const [state] = await withWalPosition(runtime, sql<{ watermark: number; now: number; delta_ttl_ms: number; delta_purged_through: number }[]>`
    select versioning.sync_watermark() as watermark,
           floor(extract(epoch from clock_timestamp()) * 1000)::float8 as now,
           (extract(epoch from m.delta_sync_table_ttl) * 1000)::float8 as delta_ttl_ms,
           m.delta_purged_through
      from versioning.models m where m.base_table = to_regclass(${model.table})`);
  const { watermark, now, delta_ttl_ms: deltaTtlMs, delta_purged_through: purgedThrough } = state!;
  let mode: SyncMode = 'full';
  if (lastSync > 0) {
    // Only within half the TTL: the changes of the window then outlive the decision by at least half
    // the TTL (15 minutes by default), time for every page of the sync before purge may remove them.
    // And only after the newest change purge has removed: a TTL raised since then does not bring
    // back what an earlier, shorter one let purge remove.
    const deltaHorizon = Math.max(now - deltaTtlMs / 2, purgedThrough);
    mode = lastSync >= deltaHorizon ? 'delta' : 'base';
  }
  // A window never goes backwards: a lastSync ahead of the watermark (a long transaction holding it back)
  // yields an empty window and keeps the client's lastSync.
  const cursor: SyncCursor = { model: model.name, mode, lastSync, startedAt: Math.max(watermark, lastSync), scope, after: [] };
  // Purge starts on this window's changes at lastSync + TTL; a sync still paging by then (a slow client)
  // must start over. A quarter of the TTL is kept back for the handler's clock against the database's.
  if (mode === 'delta') cursor.until = lastSync + deltaTtlMs * 0.75;
  // A delta sync reads the journal, on the writer; full and base pages may be read on the replica.
  if (mode !== 'delta' && state!.lsn) cursor.lsn = state!.lsn;
  return cursor;
}

function readPage(runtime: ModelRuntime, cursor: SyncCursor, access: Access, filter: Fragment, journalKeys: Fragment[], limit: number): Promise<Row[]> {
  const { sql, model, idField } = runtime;
  const id = sql`t.${sql(idField.column)}`;
  const owner = ownedBy(runtime, access);
  const [a, b] = cursor.after;
  const window = sql`t._last_changed_at > ${cursor.lastSync} and t._last_changed_at <= ${cursor.startedAt}`;

  switch (cursor.mode) {
    case 'full':
      return sql<Row[]>`
        select ${itemColumns(runtime)} from ${sql(model.table)} t
         where ${owner} and (${filter}) ${a === undefined ? sql`` : sql`and ${id} > ${a}`}
         order by ${id} limit ${limit}`;
    case 'base':
      return sql<Row[]>`
        select ${itemColumns(runtime)} from ${sql(model.table)} t
         where ${window} and ${owner} and (${filter})
               ${a === undefined ? sql`` : sql`and (t._last_changed_at, ${id}) > (${a}, ${b!})`}
         order by t._last_changed_at, ${id} limit ${limit}`;
    case 'delta': {
      // The journal holds every version; a device needs only the latest one in the window. Its row
      // image is turned back into a row of the table, so the same filter and columns apply. A device
      // under an owner rule or a selective-sync filter also reads through the image's own keys, which a
      // journal index (versioning.index_journal) can answer: only its changes, not the whole window's.
      const keys = access.scope === 'owner' ? [...journalKeys, sql`${journalKey(sql, runtime.fields.get(access.ownerField)!.column)} = ${access.owner}`] : journalKeys;
      return sql<Row[]>`
        select ${itemColumns(runtime)}, d.seq as _delta_seq
          from ${sql(runtime.deltaTable)} d
          cross join lateral jsonb_populate_record(null::${sql(model.table)}, d.item) t
         where d._last_changed_at > ${cursor.lastSync} and d._last_changed_at <= ${cursor.startedAt}
           and ${joinFragments(sql, keys, sql`and`, sql`true`)}
           and not exists (select from ${sql(runtime.deltaTable)} newer
                            where newer.id = d.id and newer.seq > d.seq and newer._last_changed_at <= ${cursor.startedAt})
           and ${owner} and (${filter})
           ${a === undefined ? sql`` : sql`and (d._last_changed_at, d.seq) > (${a}, ${b!})`}
         order by d._last_changed_at, d.seq limit ${limit}`;
    }
  }
}

/**
 * The graveyard's entries for a full or base sync: every tombstone purged from the table and deleted
 * after lastSync (all of them for a full sync), in id order after the cursor's, as items of the table
 * (the same columns, owner rule and filter as its rows). Not an id that lives in the table again: the
 * device has that row from this very sync.
 *
 * Read so that a page costs its own entries, whatever the graveyard's size, with any plan: in the id
 * index's order, so it stops at the limit; with no upper bound on the stamp (an entry is at least a
 * BaseTableTTL old, far below the window's end), because a generic plan estimates a two-sided range of
 * parameters at a handful of rows and sorts the whole graveyard on every page instead; and "alive again"
 * as a scalar subquery, not NOT EXISTS, which the planner may turn into a hash anti join that reads the
 * whole table on every page, where a subquery probes its key index once per entry of the page.
 */
function readGraveyard(runtime: ModelRuntime, cursor: SyncCursor, access: Access, filter: Fragment, limit: number): Promise<Row[]> {
  const { sql, model, idField } = runtime;
  const id = sql(idField.column);
  const [after] = cursor.graveyard ? cursor.after : [];
  return sql<Row[]>`
    select ${itemColumns(runtime)}
      from ${sql(runtime.graveyardTable)} g
      cross join lateral jsonb_populate_record(null::${sql(model.table)}, g.item) t
     where ${cursor.lastSync > 0 ? sql`g._last_changed_at > ${cursor.lastSync}` : sql`true`}
       and (select alive.${id} from ${sql(model.table)} alive where alive.${id} = t.${id}) is null
       and ${ownedBy(runtime, access)} and (${filter})
       ${after === undefined ? sql`` : sql`and g.id > ${after}`}
     order by g.id limit ${limit}`;
}

function keyOf(mode: SyncMode, row: Row): (string | number)[] {
  const id = String(row.id);
  const stamp = Number(row._lastChangedAt);
  if (mode === 'full') return [id];
  if (mode === 'base') return [stamp, id];
  return [stamp, Number(row._delta_seq)];
}
