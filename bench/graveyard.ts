// G1: what the graveyard (migration 000013) costs a full sync. Every full sync sends every graveyard entry
// of its model (a device's lastSync is 0 then: the server cannot know which deletions it has seen), so
// each entry is paid by every device once a day. Measured as the same full sync through the handler of a
// table with its live rows only, and with as many purged tombstones in its graveyard: the difference per
// 1,000 entries, in time and in bytes of the items as AppSync would send them (JSON).
import type { Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver } from '@datastore-pg/versioning';
import { median, seconds, type Figure } from './measure';

const TABLE = 'graveyard_bench';
const ROUNDS = 5;

export async function graveyardCost(sql: Sql, entries: number, record: (figure: Figure) => void): Promise<void> {
  // Customer-shaped, with live rows beside the graveyard as a real table has them. Kept between runs on
  // one DATABASE_URL, as the other figures' tables are, and emptied first (a versioned table cannot be
  // truncated: its rows go through purge into the graveyard, which is then emptied).
  await sql`create table if not exists ${sql(TABLE)} (like customers including defaults)`;
  await sql`alter table ${sql(TABLE)} add primary key (id)`.catch(() => undefined);
  await sql`select versioning.enable(${TABLE}, base_table_ttl => '1 millisecond')`;
  await sql`delete from ${sql(TABLE)}`;
  await new Promise((done) => setTimeout(done, 5));
  while (await purgeTombstones(sql) > 0);
  await sql`delete from ${sql(`versioning_graveyard.${TABLE}`)}`;
  await sql`insert into ${sql(TABLE)} (name, email) select 'Buried ' || g, 'b' || g || '@example.com' from generate_series(1, ${entries}) g`;
  await sql`delete from ${sql(TABLE)}`;
  await new Promise((done) => setTimeout(done, 5));
  let moved = 0;
  for (let n; (n = await purgeTombstones(sql)) > 0;) moved += n;
  if (moved !== entries) throw new Error(`G1: purge moved ${moved} tombstones into the graveyard, expected ${entries}`);
  await sql`insert into ${sql(TABLE)} (name, email) select 'Live ' || g, 'l' || g || '@example.com' from generate_series(1, ${entries}) g`;
  await sql`vacuum analyze ${sql(TABLE)}`;
  await sql`vacuum analyze ${sql(`versioning_graveyard.${TABLE}`)}`;

  const handler = modelResolver({ ...models.Customer, table: TABLE }, {}, { connection: () => sql });
  const fullSync = async () => {
    const items: Record<string, unknown>[] = [];
    let nextToken: string | null = null;
    do {
      const { data } = (await handler({ arguments: { lastSync: 0, limit: 1000, nextToken }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } })) as { data: { items: Record<string, unknown>[]; nextToken: string | null } };
      items.push(...data.items);
      nextToken = data.nextToken;
    } while (nextToken);
    return items;
  };
  // The same sync without the graveyard: its entries set aside in a table of their own and back.
  const withoutGraveyard = async <T>(run: () => Promise<T>) => {
    await sql`create table graveyard_bench_aside as select * from ${sql(`versioning_graveyard.${TABLE}`)}`;
    await sql`delete from ${sql(`versioning_graveyard.${TABLE}`)}`;
    try {
      return await run();
    } finally {
      await sql`insert into ${sql(`versioning_graveyard.${TABLE}`)} select * from graveyard_bench_aside`;
      await sql`drop table graveyard_bench_aside`;
    }
  };

  const items = await fullSync(); // warm-up, and the answer checked
  const buried = items.filter((i) => i._deleted);
  if (buried.length !== entries || items.length !== 2 * entries) throw new Error(`G1: the full sync returned ${items.length} items, ${buried.length} deleted; expected ${2 * entries}, ${entries}`);
  const bytesPer1000 = Buffer.byteLength(JSON.stringify(buried)) / entries * 1000;
  const withTimes: number[] = [];
  const withoutTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    withTimes.push(await seconds(fullSync));
    withoutTimes.push(await withoutGraveyard(() => seconds(fullSync)));
  }
  const [withTime, withoutTime] = [median(withTimes), median(withoutTimes)];
  const msPer1000 = (withTime - withoutTime) / entries * 1000 * 1000;
  record({
    id: 'G1',
    measure: `a full sync's cost per 1,000 graveyard entries (${entries} live rows, then with ${entries} purged tombstones: ${(withoutTime * 1000).toFixed(0)} vs ${(withTime * 1000).toFixed(0)} ms, medians of ${ROUNDS} alternating rounds; bytes of the deleted items as JSON)`,
    value: `${msPer1000.toFixed(1)} ms, ${Math.round(bytesPer1000 / 1024)} KB`,
  });
}

async function purgeTombstones(sql: Sql): Promise<number> {
  const [{ n }] = (await sql`select versioning.purge_tombstones(${TABLE}, 10000) as n`) as unknown as [{ n: number }];
  return n;
}
