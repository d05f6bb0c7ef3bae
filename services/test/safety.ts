// What every bad-input case checks: nothing in the database changed, and the client got a typed error
// that quotes no SQL and no stack trace.
import type { Sql } from '@datastore-pg/db';
import type { Envelope } from '@datastore-pg/versioning';

/** Row counts, version sums and journal sizes of every versioned table: equal snapshots, nothing changed. */
export async function versionedTablesSnapshot(sql: Sql): Promise<string> {
  const tables = await sql<{ base: string; delta: string }[]>`select base_table::text as base, delta_table::text as delta from versioning.models order by 1`;
  const parts = [];
  for (const { base, delta } of tables) {
    const [b] = await sql<{ n: number; v: number }[]>`select count(*)::int as n, coalesce(sum(_version), 0)::float8 as v from ${sql(base)}`;
    const [d] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(delta)}`;
    parts.push(`${base}:${b!.n}/${b!.v}/${d!.n}`);
  }
  return parts.join(' ');
}

const LEAK = /\b(select|insert|update|delete)\b .*\b(from|into|set|where)\b|\n\s+at |postgres|relation "|syntax error/i;

export function expectSafeError(result: Envelope, errorType: string): void {
  expect(result).toMatchObject({ errorType });
  const message = (result as { errorMessage: string }).errorMessage;
  expect(message).not.toMatch(LEAK);
  expect(message.length).toBeLessThan(200);
}
