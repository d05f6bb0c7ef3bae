// The graveyard (000013): purge moves each expired tombstone into versioning_graveyard.<table> in the same
// statement, keeps one entry per id, and drops entries after the model's graveyard_ttl.
import type { Sql } from '@datastore-pg/db';
import { useTestDatabase } from '@datastore-pg/testing';
import { insertSite, insertWorkOrder, sleep } from './fixtures';

const db = useTestDatabase();

const setTtls = (sql: Sql, base: string, graveyard = '1 year') => sql`
  update versioning.models set base_table_ttl = ${base}::interval, graveyard_ttl = ${graveyard}::interval
   where base_table = 'work_orders'::regclass`;

async function graveyardOf(sql: Sql, ids: string[]) {
  return sql<{ id: string; _version: number; title: string; deleted: boolean }[]>`
    select id, _version::int, item ->> 'title' as title, (item ->> '_deleted')::boolean as deleted
      from versioning_graveyard.work_orders where id = any(${sql.array(ids)}) order by item ->> 'title'`;
}

afterEach(async () => {
  await setTtls(db.sql, '30 days');
});

test('purge moves expired tombstones into the graveyard, whole, and leaves unexpired ones in the table', async () => {
  const siteId = await insertSite(db.sql);
  const expired = [await insertWorkOrder(db.sql, siteId, 'expired 1'), await insertWorkOrder(db.sql, siteId, 'expired 2')];
  const recent = await insertWorkOrder(db.sql, siteId, 'recent');
  await setTtls(db.sql, '1 millisecond');
  await db.sql`delete from work_orders where id = any(${db.sql.array(expired)}::uuid[])`;
  await setTtls(db.sql, '30 days');
  await db.sql`delete from work_orders where id = ${recent}`;
  await sleep(5);

  const [{ moved }] = (await db.sql`select versioning.purge_tombstones('work_orders', 100) as moved`) as unknown as [{ moved: number }];

  expect(moved).toBe(2);
  expect(await graveyardOf(db.sql, [...expired, recent])).toEqual([
    { id: expired[0], _version: 2, title: 'expired 1', deleted: true },
    { id: expired[1], _version: 2, title: 'expired 2', deleted: true },
  ]);
  expect(await db.sql`select from work_orders where id = ${recent} and _deleted`).toHaveLength(1);
});

test('an id buried twice keeps only its newest entry', async () => {
  const siteId = await insertSite(db.sql);
  const id = await insertWorkOrder(db.sql, siteId, 'first life');
  await setTtls(db.sql, '1 millisecond');
  await db.sql`delete from work_orders where id = ${id}`;
  await sleep(5);
  await db.sql`select versioning.purge_tombstones('work_orders', 100)`;
  await db.sql`insert into work_orders (id, site_id, title) values (${id}, ${siteId}, 'second life')`;
  await db.sql`delete from work_orders where id = ${id}`;
  await sleep(5);

  await db.sql`select versioning.purge_tombstones('work_orders', 100)`;

  expect(await graveyardOf(db.sql, [id])).toEqual([{ id, _version: 2, title: 'second life', deleted: true }]);
});

test('the purge procedure moves tombstones and drops graveyard entries older than the graveyard_ttl', async () => {
  const siteId = await insertSite(db.sql);
  const id = await insertWorkOrder(db.sql, siteId, 'soon forgotten');
  await setTtls(db.sql, '1 millisecond', '2 milliseconds');
  await db.sql`delete from work_orders where id = ${id}`;
  await sleep(5);

  const [first] = await db.sql<{ tombstones_purged: string; graveyard_purged: string }[]>`call versioning.purge()`;
  expect(Number(first!.tombstones_purged)).toBeGreaterThanOrEqual(1);
  await sleep(5);
  const [second] = await db.sql<{ graveyard_purged: string }[]>`call versioning.purge()`;

  expect(Number(first!.graveyard_purged) + Number(second!.graveyard_purged)).toBeGreaterThanOrEqual(1);
  expect(await graveyardOf(db.sql, [id])).toEqual([]);
});

test('a graveyard_ttl must outlast the BaseTableTTL, or deletions would be forgotten as they arrive', async () => {
  await expect(setTtls(db.sql, '30 days', '7 days')).rejects.toMatchObject({ code: '23514' });
});

test('a table versioned from now on gets a graveyard its purge fills', async () => {
  await db.sql`create table tools (id uuid primary key default gen_random_uuid(), name text not null)`;
  await db.sql`select versioning.enable('tools', base_table_ttl => '1 millisecond')`;
  const [tool] = await db.sql<{ id: string }[]>`insert into tools (name) values ('torque wrench') returning id`;
  await db.sql`delete from tools where id = ${tool!.id}`;
  await sleep(5);

  await db.sql`select versioning.purge_tombstones('tools', 100)`;

  expect(await db.sql`select item ->> 'name' as name from versioning_graveyard.tools`).toEqual([{ name: 'torque wrench' }]);
  expect(await db.sql`select from versioning.journals() where base_table = 'tools'::regclass and kind = 'graveyard'`).toHaveLength(1);
});
