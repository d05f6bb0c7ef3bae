// What a handler learns from the database once per container (cold start), not per request: the
// columns behind the model's fields, checked against the schema, and the key that signs sync tokens.
import type { Sql } from '@datastore-pg/db';
import type { FieldMeta, ModelMeta } from '@datastore-pg/schema/models';
import type { Replica } from './replica';
import { inputValue, type ColumnInfo } from './values';

export interface ModelRuntime {
  model: ModelMeta;
  /** The connection of the moment: after a lost connection, the next request gets a new one. */
  readonly sql: Sql;
  /** The read replica that may answer full and base sync pages, if the stage has one (replica.ts). */
  replica?: Replica;
  /** The field holding the DataStore id. */
  idField: FieldMeta;
  /** Every field by GraphQL name. */
  fields: ReadonlyMap<string, FieldMeta>;
  columns: ReadonlyMap<string, ColumnInfo>;
  /** The table's journal (schema.name), from versioning.models. */
  deltaTable: string;
  /** The table's merge history (schema.name): what each version changed, and who wrote it. */
  mergeTable: string;
  /** The table's graveyard (schema.name): tombstones purge has removed, still returned by full and base syncs. */
  graveyardTable: string;
  tokenKey: string;
}

export class SchemaMismatchError extends Error {
  override name = 'SchemaMismatchError';
}

export async function loadModelRuntime(connection: () => Sql, model: ModelMeta, options: { replica?: Replica } = {}): Promise<ModelRuntime> {
  const sql = connection();
  const columns = await sql<{ column: string; type: string; is_array: boolean; sql_type: string }[]>`
    select a.attname as column,
           coalesce(elem.typname, t.typname) as type,
           elem.oid is not null as is_array,
           format_type(a.atttypid, a.atttypmod) as sql_type
      from pg_attribute a
      join pg_type t on t.oid = a.atttypid
      left join pg_type elem on elem.oid = t.typelem and t.typcategory = 'A'
     where a.attrelid = to_regclass(${model.table}) and a.attnum > 0 and not a.attisdropped`;
  if (columns.length === 0) throw new SchemaMismatchError(`${model.name}: table ${model.table} does not exist`);
  const columnInfo = new Map(columns.map((c) => [c.column, { type: c.type, isArray: c.is_array, sqlType: c.sql_type }]));
  for (const field of model.fields) {
    if (!columnInfo.has(field.column)) throw new SchemaMismatchError(`${model.name}.${field.name}: table ${model.table} has no column ${field.column}`);
    // A @default is checked against the field's type when the schema is parsed; what only the column
    // decides (an ID default in a uuid column) is checked here, not by every create that needs it.
    if (field.default !== undefined) {
      try {
        inputValue(field, columnInfo.get(field.column)!, field.default);
      } catch {
        throw new SchemaMismatchError(`${model.name}.${field.name}: @default(value: ${JSON.stringify(String(field.default))}) does not fit column ${field.column} (${columnInfo.get(field.column)!.sqlType})`);
      }
    }
  }

  const [settings] = await sql<{ id_column: string; delta_table: string; merge_table: string | null; graveyard_table: string | null; token_key: string }[]>`
    select m.id_column, n.nspname || '.' || c.relname as delta_table, case when versioning.merge_table(m.base_table) is not null then 'versioning_merge.' || c.relname end as merge_table,
           case when versioning.graveyard_table(m.base_table) is not null then 'versioning_graveyard.' || c.relname end as graveyard_table,
           (select s.sync_token_key from versioning.settings s) as token_key
      from versioning.models m
      join pg_class c on c.oid = m.delta_table
      join pg_namespace n on n.oid = c.relnamespace
     where m.base_table = to_regclass(${model.table})`;
  if (!settings) throw new SchemaMismatchError(`${model.name}: table ${model.table} is not versioned (select versioning.enable('${model.table}'))`);
  if (!settings.merge_table) throw new SchemaMismatchError(`${model.name}: table ${model.table} has no merge history (run the migrations)`);
  if (!settings.graveyard_table) throw new SchemaMismatchError(`${model.name}: table ${model.table} has no graveyard (run the migrations)`);
  const idField = model.fields.find((f) => f.name === 'id')!;
  if (idField.column !== settings.id_column) {
    throw new SchemaMismatchError(`${model.name}.id maps to column ${idField.column}, but ${model.table} is versioned with id column ${settings.id_column}`);
  }
  return {
    model,
    get sql() {
      return connection();
    },
    replica: options.replica,
    idField,
    fields: new Map(model.fields.map((f) => [f.name, f])),
    columns: columnInfo,
    deltaTable: settings.delta_table,
    mergeTable: settings.merge_table,
    graveyardTable: settings.graveyard_table,
    tokenKey: settings.token_key,
  };
}

export function columnOf(runtime: ModelRuntime, field: FieldMeta): ColumnInfo {
  return runtime.columns.get(field.column)!;
}
