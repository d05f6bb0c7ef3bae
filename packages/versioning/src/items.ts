// Rows and items: a row is keyed by column (site_id, _last_changed_at), an item by GraphQL field
// (siteID, _lastChangedAt). This is the one place that maps between them.
import type { FieldMeta } from '@datastore-pg/schema/models';
import { columnOf, type ModelRuntime } from './runtime';
import { joinFragments, type Fragment } from './sql-values';
import { outputConverter } from './values';

export type Row = Record<string, unknown>;
export type Item = Record<string, unknown> & { _version: number; _deleted: boolean; _lastChangedAt: number };

const METADATA_COLUMNS = ['_version', '_deleted', '_last_changed_at'] as const;

/**
 * The select list for an item, over alias t: its columns, and whether each belongsTo target is deleted.
 * Built once per model and connection (every sync page and write uses it; postgres.js fragments only
 * describe SQL, so one can be reused).
 */
export function itemColumns(runtime: ModelRuntime): Fragment {
  const { sql } = runtime;
  const cached = selectLists.get(runtime);
  if (cached?.sql === sql) return cached.fragment;
  const fragment = selectList(runtime);
  selectLists.set(runtime, { sql, fragment });
  return fragment;
}

const selectLists = new WeakMap<ModelRuntime, { sql: ModelRuntime['sql']; fragment: Fragment }>();

function selectList(runtime: ModelRuntime): Fragment {
  const { sql } = runtime;
  const column = (f: FieldMeta) => {
    if (isTimestamptz(runtime, f)) return sql`${isoUtc(sql, f.column)} as ${sql(f.column)}`;
    // The driver parses arrays of the types it knows; an enum's array type it does not, and would
    // return the text '{RED,BLUE}'.
    if (f.type.kind === 'enum' && columnOf(runtime, f).isArray) return sql`t.${sql(f.column)}::text[] as ${sql(f.column)}`;
    return sql`t.${sql(f.column)}`;
  };
  const columns = [
    ...runtime.model.fields.map(column),
    ...METADATA_COLUMNS.map((c) => sql`t.${sql(c)}`),
  ];
  const targets = belongsTo(runtime).map(({ relation, column }) =>
    sql`(select r._deleted from ${sql(relation.target!.table)} r where r.${sql(relation.target!.idColumn)} = t.${sql(column)}) as ${sql(relationColumn(relation.name))}`);
  return joinFragments(sql, [...columns, ...targets], sql`,`);
}

export function toItem(runtime: ModelRuntime, row: Row): Item {
  let mapper = mappers.get(runtime);
  if (!mapper) mappers.set(runtime, (mapper = rowMapper(runtime)));
  return mapper(row);
}

type RowMapper = (row: Row) => Item;
const mappers = new WeakMap<ModelRuntime, RowMapper>();

/** The model's row-to-item function: what each field needs is worked out once, not per row. */
function rowMapper(runtime: ModelRuntime): RowMapper {
  const fields = runtime.model.fields.map((field) => ({ name: field.name, column: field.column, convert: outputConverter(field) }));
  const relations = belongsTo(runtime).map(({ relation, column }) => ({ name: relation.name, column, deletedColumn: relationColumn(relation.name) }));
  return (row) => {
    const item: Record<string, unknown> = {};
    for (const { name, column, convert } of fields) {
      const value = row[column];
      item[name] = value === null || value === undefined ? null : convert ? convert(value) : value;
    }
    // DataStore reads { id _deleted } of each belongsTo; a target that is gone counts as deleted.
    for (const { name, column, deletedColumn } of relations) {
      const id = row[column];
      item[name] = id === null || id === undefined ? null : { id: String(id), _deleted: row[deletedColumn] !== false };
    }
    item._version = Number(row._version);
    item._deleted = row._deleted === true;
    item._lastChangedAt = Number(row._last_changed_at);
    return item as Item;
  };
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
