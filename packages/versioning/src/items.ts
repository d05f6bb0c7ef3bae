// Rows and items. The select list names every column after its GraphQL field (site_id as "siteID",
// _last_changed_at as "_lastChangedAt"), so the driver's row already is the item: a sync of a million
// rows allocates no second object per row. Only what SQL cannot hand over in AppSync's form is fixed up
// in place: AWSJSON values, numbers in numeric columns, and each belongsTo target as { id, _deleted }.
// This is the one place that maps between columns and fields.
import type { FieldMeta } from '@datastore-pg/schema/models';
import type { Access } from './auth';
import { columnOf, type ModelRuntime } from './runtime';
import { joinFragments, type Fragment } from './sql-values';
import { outputConverter, TIMESTAMP_COLUMNS } from './values';

/** A row selected with itemColumns: keyed by field, before toItem's fix-ups. */
export type Row = Record<string, unknown>;
export type Item = Record<string, unknown> & { _version: number; _deleted: boolean; _lastChangedAt: number };

/**
 * The select list for an item, over alias t: its fields, its metadata, and whether each belongsTo target
 * is deleted (under the relation's name, replaced by { id, _deleted } in toItem). Built once per model
 * and connection: postgres.js fragments only describe SQL, so one can be reused.
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
    if (isTimestamp(runtime, f)) return sql`${awsDateTime(runtime, f)} as ${sql(f.name)}`;
    // The driver parses arrays of the types it knows; an enum's array type it does not, and would
    // return the text '{RED,BLUE}'.
    if (f.type.kind === 'enum' && columnOf(runtime, f).isArray) return sql`t.${sql(f.column)}::text[] as ${sql(f.name)}`;
    return sql`t.${sql(f.column)} as ${sql(f.name)}`;
  };
  const metadata = [sql`t._version as _version`, sql`t._deleted as _deleted`, sql`t._last_changed_at as ${sql('_lastChangedAt')}`];
  const targets = belongsTo(runtime).map(({ relation, column }) =>
    sql`(select r._deleted from ${sql(relation.target!.table)} r where r.${sql(relation.target!.idColumn)} = t.${sql(column)}) as ${sql(relation.name)}`);
  return joinFragments(sql, [...runtime.model.fields.map(column), ...metadata, ...targets], sql`,`);
}

/** The rows the caller may reach, over alias t: all of them, or those whose owner field holds their identity. */
export function ownedBy(runtime: ModelRuntime, access: Access): Fragment {
  const { sql } = runtime;
  return access.scope === 'owner' ? sql`t.${sql(runtime.fields.get(access.ownerField)!.column)} = ${access.owner}` : sql`true`;
}

/** The item of a row selected with itemColumns: the same object, fixed up where needed (so once per row). */
export function toItem(runtime: ModelRuntime, row: Row): Item {
  let fixUp = fixUps.get(runtime);
  if (fixUp === undefined) fixUps.set(runtime, (fixUp = rowFixUp(runtime)));
  fixUp?.(row);
  return row as Item;
}

type RowFixUp = ((row: Row) => void) | null;
const fixUps = new WeakMap<ModelRuntime, RowFixUp>();

/** What a model's rows need before they are items, worked out once; null when they need nothing. */
function rowFixUp(runtime: ModelRuntime): RowFixUp {
  const conversions = runtime.model.fields.flatMap((field) => {
    const convert = outputConverter(field, columnOf(runtime, field));
    return convert ? [{ name: field.name, convert }] : [];
  });
  const relations = belongsTo(runtime).map(({ relation, reference }) => ({ name: relation.name, reference }));
  if (conversions.length === 0 && relations.length === 0) return null;
  return (row) => {
    for (const { name, convert } of conversions) {
      const value = row[name];
      if (value !== null) row[name] = convert(value);
    }
    // DataStore reads { id _deleted } of each belongsTo; a target that is gone counts as deleted.
    for (const { name, reference } of relations) {
      const id = row[reference];
      row[name] = id === null ? null : { id: String(id), _deleted: row[name] !== false };
    }
  };
}

/**
 * A timestamp column comes back already in AppSync's AWSDateTime form (UTC, milliseconds, Z): cheaper
 * than a Date per value in the driver and toISOString per value here, on every row of every sync. A
 * timestamp without time zone is taken as UTC.
 */
function isTimestamp(runtime: ModelRuntime, field: FieldMeta): boolean {
  const column = columnOf(runtime, field);
  const numeric = field.type.kind === 'scalar' && ['Int', 'Float', 'AWSTimestamp'].includes(field.type.name); // a Date, then Number(Date)
  return !column.isArray && TIMESTAMP_COLUMNS.has(column.type) && !numeric;
}

function awsDateTime(runtime: ModelRuntime, field: FieldMeta): Fragment {
  const { sql } = runtime;
  const utc = columnOf(runtime, field).type === 'timestamptz' ? sql`t.${sql(field.column)} at time zone 'UTC'` : sql`t.${sql(field.column)}`;
  return sql`to_char(${utc}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

function belongsTo(runtime: ModelRuntime) {
  return runtime.model.relations
    .filter((r) => r.kind === 'belongsTo' && r.target)
    .map((relation) => {
      const reference = runtime.fields.get(relation.references[0]!)!;
      return { relation, reference: reference.name, column: reference.column };
    });
}
