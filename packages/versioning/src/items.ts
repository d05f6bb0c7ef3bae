// Rows and items: a row is keyed by column (site_id, _last_changed_at), an item by GraphQL field
// (siteID, _lastChangedAt). This is the one place that maps between them.
import type { FieldMeta } from '@datastore-pg/schema/models';
import { columnOf, type ModelRuntime } from './runtime';
import { joinFragments, type Fragment } from './sql-values';
import { outputValue } from './values';

export type Row = Record<string, unknown>;
export type Item = Record<string, unknown> & { _version: number; _deleted: boolean; _lastChangedAt: number };

const METADATA_COLUMNS = ['_version', '_deleted', '_last_changed_at'] as const;

/** The select list for an item, over alias t: its columns, and whether each belongsTo target is deleted. */
export function itemColumns(runtime: ModelRuntime): Fragment {
  const { sql } = runtime;
  const columns = [
    ...runtime.model.fields.map((f) => (isTimestamptz(runtime, f) ? sql`${isoUtc(sql, f.column)} as ${sql(f.column)}` : sql`t.${sql(f.column)}`)),
    ...METADATA_COLUMNS.map((c) => sql`t.${sql(c)}`),
  ];
  const targets = belongsTo(runtime).map(({ relation, column }) =>
    sql`(select r._deleted from ${sql(relation.target!.table)} r where r.${sql(relation.target!.idColumn)} = t.${sql(column)}) as ${sql(relationColumn(relation.name))}`);
  return joinFragments(sql, [...columns, ...targets], sql`,`);
}

export function toItem(runtime: ModelRuntime, row: Row): Item {
  const item: Record<string, unknown> = {};
  for (const field of runtime.model.fields) item[field.name] = outputValue(field, row[field.column]);
  // DataStore reads { id _deleted } of each belongsTo; a target that is gone counts as deleted.
  for (const { relation, column } of belongsTo(runtime)) {
    const id = row[column];
    item[relation.name] = id === null || id === undefined ? null : { id: String(id), _deleted: row[relationColumn(relation.name)] !== false };
  }
  return { ...item, _version: Number(row._version), _deleted: Boolean(row._deleted), _lastChangedAt: Number(row._last_changed_at) };
}

/**
 * A timestamptz column comes back already in AppSync's AWSDateTime form (UTC, milliseconds, Z): cheaper
 * than a Date per value in the driver and toISOString per value here, on every row of every sync.
 */
function isTimestamptz(runtime: ModelRuntime, field: FieldMeta): boolean {
  return field.type.kind === 'scalar' && field.type.name === 'AWSDateTime' && !field.list && columnOf(runtime, field).type === 'timestamptz';
}

const isoUtc = (sql: ModelRuntime['sql'], column: string) =>
  sql`to_char(t.${sql(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

function belongsTo(runtime: ModelRuntime) {
  return runtime.model.relations
    .filter((r) => r.kind === 'belongsTo' && r.target)
    .map((relation) => ({ relation, column: runtime.fields.get(relation.references[0]!)!.column }));
}

const relationColumn = (name: string) => `_relation_${name}_deleted`;
