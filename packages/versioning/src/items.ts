// Rows and items: a row is keyed by column (site_id, _last_changed_at), an item by GraphQL field
// (siteID, _lastChangedAt). This is the one place that maps between them.
import type { ModelRuntime } from './runtime';
import { joinFragments, type Fragment } from './sql-values';
import { outputValue } from './values';

export type Row = Record<string, unknown>;
export type Item = Record<string, unknown> & { _version: number; _deleted: boolean; _lastChangedAt: number };

const METADATA_COLUMNS = ['_version', '_deleted', '_last_changed_at'] as const;

/** The select list for an item, over alias t. */
export function itemColumns(runtime: ModelRuntime): Fragment {
  const { sql } = runtime;
  const columns = [...runtime.model.fields.map((f) => f.column), ...METADATA_COLUMNS];
  return joinFragments(sql, columns.map((c) => sql`t.${sql(c)}`), sql`,`);
}

export function toItem(runtime: ModelRuntime, row: Row): Item {
  const item: Record<string, unknown> = {};
  for (const field of runtime.model.fields) item[field.name] = outputValue(field, row[field.column]);
  return { ...item, _version: Number(row._version), _deleted: Boolean(row._deleted), _lastChangedAt: Number(row._last_changed_at) };
}
