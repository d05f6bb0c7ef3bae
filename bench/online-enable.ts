// P11: versioning a table in use (issue 16). A plain table of `rows` rows keyed by a number, as an ERP's,
// while a reader selects rows by key and a writer updates random rows, each in a loop on a connection of
// its own: the online enable (migration 000015, its statements run one by one as a no-transaction
// migration runs them) against versioning.enable on an identical table. Each side reports its total time
// and the longest any reader or writer statement took while it ran (the wait for a lock included).
import { connect, type Sql } from '@datastore-pg/db';
import type { Figure } from './measure';

const TARGET_MS = 1000;

export async function onlineEnable(url: string, sql: Sql, rows: number, record: (figure: Figure) => void): Promise<void> {
  const online = await enableUnderLoad(url, sql, 'erp_orders_online', rows, async () => {
    const statements = await sql<{ statement: string }[]>`select s as statement from versioning.enable_online_statements('erp_orders_online') s`;
    for (const { statement } of statements) await sql.unsafe(statement);
  });
  const plain = await enableUnderLoad(url, sql, 'erp_orders_plain', rows, () => sql`select versioning.enable('erp_orders_plain')`);
  record({
    id: 'P11',
    measure: `versioning a table of ${rows} rows in use (a reader by key and a writer of random rows throughout): online enable ${seconds(online.ms)}, longest reader ${ms(online.reader)}, writer ${ms(online.writer)}, ${online.versioned} rows versioned of ${online.rows}; versioning.enable on the same table ${seconds(plain.ms)}, longest reader ${ms(plain.reader)}, writer ${ms(plain.writer)}`,
    value: `longest wait ${ms(Math.max(online.reader, online.writer))}, every row versioned: ${online.versioned === online.rows ? 'yes' : 'NO'}`,
    target: `≤ ${TARGET_MS} ms, every row`,
    met: Math.max(online.reader, online.writer) <= TARGET_MS && online.versioned === online.rows,
  });
}

const ms = (value: number) => `${Math.round(value)} ms`;
const seconds = (value: number) => `${(value / 1000).toFixed(1)} s`;

async function enableUnderLoad(url: string, sql: Sql, table: string, rows: number, enable: () => Promise<unknown>) {
  await dropVersioned(sql, table);
  await sql`create table ${sql(table)} (order_no bigint primary key, customer text not null, amount numeric(12, 2), status text not null)`;
  for (let done = 0; done < rows; done += 100_000) {
    await sql`insert into ${sql(table)} select g, 'customer ' || (g % 1000), g % 500, 'open'
              from generate_series(${done + 1}::int8, ${Math.min(rows, done + 100_000)}::int8) g`;
  }
  await sql`vacuum analyze ${sql(table)}`;

  const reader = connect(url, { max: 1 });
  const writer = connect(url, { max: 1 });
  const longest = { reader: 0, writer: 0 };
  let running = true;
  const loop = async (side: 'reader' | 'writer', statement: (key: number) => Promise<unknown>) => {
    while (running) {
      const started = performance.now();
      await statement(1 + Math.floor(Math.random() * rows));
      longest[side] = Math.max(longest[side], performance.now() - started);
    }
  };
  const loops = [
    loop('reader', (key) => reader`select * from ${reader(table)} where order_no = ${key}`),
    loop('writer', (key) => writer`update ${writer(table)} set status = 'picked' where order_no = ${key}`),
  ];
  const started = performance.now();
  try {
    await enable();
  } finally {
    running = false;
    await Promise.all(loops);
    await Promise.all([reader.end(), writer.end()]);
  }
  const elapsed = performance.now() - started;
  const [counts] = await sql<{ rows: number; versioned: number }[]>`
    select count(*)::int as rows, count(*) filter (where id is not null and _version >= 1)::int as versioned from ${sql(table)}`;
  const registered = (await sql`select from versioning.models where base_table = ${table}::regclass`).length === 1;
  return { ms: elapsed, ...longest, rows: counts!.rows, versioned: registered ? counts!.versioned : 0 };
}

/** A bench table of an earlier run on the same database, with its journals and trigger functions. */
async function dropVersioned(sql: Sql, table: string): Promise<void> {
  const [exists] = await sql<{ oid: number | null }[]>`select to_regclass(${table})::oid::int as oid`;
  if (!exists?.oid) return;
  await sql`delete from versioning.online_enables where base_table = ${table}::regclass`;
  await sql`delete from versioning.models where base_table = ${table}::regclass`;
  await sql`drop table ${sql(table)}`;
  for (const schema of ['versioning_delta', 'versioning_merge', 'versioning_graveyard']) await sql`drop table if exists ${sql(`${schema}.${table}`)}`;
  await sql`drop function if exists ${sql(`versioning_delta.${table}_stamp`)}(), ${sql(`versioning_delta.${table}_journal`)}()`;
}
