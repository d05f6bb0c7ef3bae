// The merge history (versioning_merge.<table>, migrations/000006_merge.sql) and the conflict log, as the
// handlers read and write them. The journal trigger writes one history row per version, for every
// writer; an API write tells it who wrote and from which base through the transaction-local setting
// datastore_pg.write, set in the same statement as the write (writeInfo).
import type { Sql } from '@datastore-pg/db';
import type { FieldMeta } from '@datastore-pg/schema/models';
import type postgres from 'postgres';
import { itemColumns, toItem, type Item, type Row } from './items';
import type { HistoryEntry, LoggedValue } from './merge';
import type { ModelRuntime } from './runtime';
import type { Fragment } from './sql-values';

export interface WriteInfo {
  /** The item's id as the database spells it (the trigger compares it with the row it journals). */
  id: string;
  writer: string;
  /** The version the write was based on: 0 for a create. */
  base: number;
  /** The fields the caller sent, as sent (not id, not _version). */
  sent: Record<string, unknown>;
}

/**
 * A one-row FROM item that sets datastore_pg.write for the rest of the transaction: joined to the row
 * being written, it is evaluated before that row's triggers fire, and costs no extra round trip. In a
 * statement outside a transaction block, "the rest of the transaction" is that statement.
 */
export function writeInfo(runtime: ModelRuntime, info: WriteInfo): Fragment {
  return runtime.sql`(select set_config('datastore_pg.write', ${JSON.stringify(info)}, true)) as write_info`;
}

/**
 * The versions after baseVersion up to the server's, oldest first, or null when the history no longer
 * holds all of them (purged past the merge horizon, or older than the table's versioning).
 */
export async function readHistory(tx: Sql, runtime: ModelRuntime, id: string, baseVersion: number, serverVersion: number): Promise<HistoryEntry[] | null> {
  const [row] = await tx<{ history: unknown }[]>`select ${historySince(runtime, tx`${id}::text`, baseVersion)} as history`;
  return completeHistory(row!.history, baseVersion, serverVersion);
}

/** A scalar subquery: the history of the item whose id (as text) is itemId after baseVersion, as JSON. */
export function historySince(runtime: ModelRuntime, itemId: Fragment, baseVersion: number): Fragment {
  const { sql } = runtime;
  return sql`(select coalesce(json_agg(json_build_object(
                'version', h._version, 'changed', array(select jsonb_object_keys(h.changed)),
                'writer', h.writer, 'baseVersion', h.base_version, 'sent', h.sent) order by h._version), '[]')
                from ${sql(runtime.mergeTable)} h where h.id = ${itemId} and h._version > ${baseVersion})`;
}

/** The history read by historySince, or null when it misses a version between the base and the server's. */
export function completeHistory(history: unknown, baseVersion: number, serverVersion: number): HistoryEntry[] | null {
  const entries = (history as HistoryEntry[]).filter((e) => e.version <= serverVersion);
  return entries.length === serverVersion - baseVersion ? entries : null;
}

/**
 * The item as it was at baseVersion: the current row with each column that changed since set back to
 * its value before the first change after the base. Read as an item (the same select list as any
 * other), so its values compare with the server's and the client's.
 */
export async function readBase(tx: Sql, runtime: ModelRuntime, id: string, baseVersion: number): Promise<Item> {
  const table = tx(runtime.model.table);
  const history = tx(runtime.mergeTable);
  const [row] = await tx<Row[]>`
    select ${itemColumns(runtime)}
      from jsonb_populate_record(null::${table},
             (select to_jsonb(s) from ${table} s where s.${tx(runtime.idField.column)} = ${id})
             || coalesce((select jsonb_object_agg(first.key, first.value)
                            from (select distinct on (e.key) e.key, e.value
                                    from ${history} h cross join lateral jsonb_each(h.changed) e
                                   where h.id = ${id} and h._version > ${baseVersion}
                                   order by e.key, h._version) first), '{}')) t`;
  return { ...toItem(runtime, row!), _version: baseVersion };
}

export interface ConflictVersions {
  base: number;
  server: number;
  /** The version the merge wrote; null when it wrote nothing. */
  written: number | null;
}

/**
 * Records what a merge overwrote or refused (versioning.conflicts), so it can be found and restored.
 * Returns how many entries were new (a refusal sent again is logged once).
 */
export async function logConflicts(tx: Sql, runtime: ModelRuntime, id: string, writer: string, versions: ConflictVersions, values: readonly LoggedValue[]): Promise<number> {
  if (values.length === 0) return 0;
  return (await tx`${conflictsInsert(runtime, id, writer, versions, values)}`).count;
}

/** The INSERT of logConflicts, to run on its own or as a data-modifying WITH of the write itself. */
export function conflictsInsert(runtime: ModelRuntime, id: string, writer: string, versions: ConflictVersions, values: readonly LoggedValue[]): Fragment {
  const { sql } = runtime;
  const rows = values.map((v) => ({
    field: v.field.name,
    column_name: v.field.column,
    reason: v.reason,
    kept: v.kept,
    lost_value: columnJson(v.field, v.lost),
    kept_value: columnJson(v.field, v.keptValue),
    server_writer: v.serverWriter,
  }));
  return sql`
    insert into versioning.conflicts (base_table, item_id, field, column_name, reason, kept, lost_value, kept_value,
                                      base_version, server_version, new_version, writer, server_writer)
    select ${runtime.model.table}::regclass, ${id}, r.field, r.column_name, r.reason, r.kept, r.lost_value, r.kept_value,
           ${versions.base}, ${versions.server}, ${versions.written}, ${writer}, r.server_writer
      from jsonb_to_recordset(${sql.json(rows as unknown as postgres.JSONValue)}) as r(
             field text, column_name name, reason text, kept text, lost_value jsonb, kept_value jsonb, server_writer text)
    on conflict (base_table, item_id, field, writer, server_version) where new_version is null do nothing`;
}

/** A field's value as its column holds it, so versioning.restore_conflict can write it back. */
function columnJson(field: FieldMeta, value: unknown): unknown {
  if (value === undefined) return null;
  if (field.type.kind === 'scalar' && field.type.name === 'AWSJSON' && typeof value === 'string') return JSON.parse(value) as unknown;
  return value;
}
