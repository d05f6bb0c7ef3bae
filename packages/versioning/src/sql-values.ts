import type { Sql } from '@datastore-pg/db';
import type postgres from 'postgres';
import type { ColumnInfo } from './values';

export type Fragment = postgres.Fragment;

/** A checked value as a bound parameter (never text in the query), wrapped for its column's type. */
export function bind(sql: Sql, column: ColumnInfo, value: unknown): Fragment {
  if (value === null) return sql`null`;
  if (column.type === 'jsonb' || column.type === 'json') return sql`${sql.json(value as postgres.JSONValue)}`;
  // The driver sends a list of strings as text[]: an enum[] (or other) column needs the cast. The type
  // name comes from the catalog (format_type quotes it), never from the client.
  if (column.isArray) return sql`${sql.array(value as postgres.SerializableParameter[])}::${sql.unsafe(column.sqlType)}`;
  return sql`${value as postgres.SerializableParameter}`;
}

/**
 * A journal row image's key, `d.item ->> 'column'`, with the name as a literal: an expression index on
 * the journal (versioning.index_journal) matches only the same expression, constant and all. The name
 * comes from the schema's metadata, never from a client.
 */
export function journalKey(sql: Sql, column: string): Fragment {
  return sql`d.item ->> ${sql.unsafe(`'${column.replace(/'/g, "''")}'`)}`;
}

/** Fragments joined by a separator fragment: join([a, b, c], sql`and`) -> a and b and c. */
export function joinFragments(sql: Sql, fragments: readonly Fragment[], separator: Fragment, empty: Fragment = sql``): Fragment {
  const [first, ...rest] = fragments;
  if (!first) return empty;
  return rest.reduce((joined, next) => sql`${joined} ${separator} ${next}`, first);
}
