import type { Sql } from '@datastore-pg/db';

/** Inserts a customer and a site for it by plain SQL, as any writer would; returns the site id. */
export async function insertSite(sql: Sql): Promise<string> {
  const [customer] = await sql<{ id: string }[]>`insert into customers (name) values ('Acme Pumps') returning id`;
  const [site] = await sql<{ id: string }[]>`insert into sites (customer_id, name) values (${customer!.id}, 'North plant') returning id`;
  return site!.id;
}

export async function insertWorkOrder(sql: Sql, siteId: string, title = 'Replace pump seal'): Promise<string> {
  const [row] = await sql<{ id: string }[]>`insert into work_orders (site_id, title) values (${siteId}, ${title}) returning id`;
  return row!.id;
}

export interface Metadata {
  _version: number;
  _deleted: boolean;
  _last_changed_at: number;
  _ttl: Date | null;
}

export async function metadataOf(sql: Sql, table: string, id: string, idColumn = 'id'): Promise<Metadata> {
  const [row] = await sql<Metadata[]>`
    select _version::int, _deleted, _last_changed_at::float8 as _last_changed_at, _ttl
    from ${sql(table)} where ${sql(idColumn)} = ${id}`;
  if (!row) throw new Error(`no ${table} row ${id}`);
  return row;
}

export interface DeltaRow extends Omit<Metadata, '_ttl'> {
  id: string;
  item: Record<string, unknown>;
}

export async function deltaRowsOf(sql: Sql, table: string, id: string): Promise<DeltaRow[]> {
  return sql<DeltaRow[]>`
    select id, _version::int, _deleted, _last_changed_at::float8 as _last_changed_at, item
    from versioning_delta.${sql(table)} where id = ${id} order by seq`;
}

/** The database's clock in ms, the same clock the triggers stamp with. */
export async function dbNowMs(sql: Sql): Promise<number> {
  const [row] = await sql<{ now: number }[]>`select versioning.now_ms()::float8 as now`;
  return row!.now;
}

export const MINUTE_MS = 60_000;
export const DAY_MS = 24 * 60 * MINUTE_MS;

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
