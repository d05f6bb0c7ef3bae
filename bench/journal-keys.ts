// P3b: a technician's delta sync (an owner rule) out of a journal crowded with other technicians'
// changes, against the same sync out of a journal holding only theirs. Without per-device journal
// reads the first reads every change of the window and filters it; with the owner key index
// (versioning.index_journal, migration 000011) it reads only the device's own.
import type { Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { modelResolver } from '@datastore-pg/versioning';
import { median, type Figure } from './measure';


const OWNER = 'tech-target';
const OWN_CHANGES = 100;
const ROUNDS = 5;

/** `others` changes by others / 100 owners in one journal, then the owner's 100 in both journals. */
export async function ownerDeltaSync(sql: Sql, others: number, record: (figure: Figure) => void): Promise<void> {
  const crowded = 'owned_bench_crowded';
  const quiet = 'owned_bench_quiet';
  const owners = Math.max(1, Math.floor(others / 100));
  for (const table of [crowded, quiet]) {
    // The shape of work_logs (an owner rule), without its reference to work_orders. Kept between runs
    // on one DATABASE_URL, as P3's tables are: each run's window holds only its own changes.
    await sql`create table if not exists ${sql(table)} (like work_logs including defaults)`;
    await sql`alter table ${sql(table)} add primary key (id)`.catch(() => undefined);
    await sql`select versioning.enable(${table})`;
    await sql`select versioning.index_journal(${table}, 'owner')`;
  }
  const [{ lastSync }] = (await sql`select versioning.sync_watermark() as "lastSync"`) as unknown as [{ lastSync: number }];
  await new Promise((done) => setTimeout(done, 5));
  const started = Date.now();
  for (let done = 0; done < others; done += 50_000) {
    await sql`insert into ${sql(crowded)} (work_order_id, minutes, owner)
              select gen_random_uuid(), 30, 'tech-' || (g % ${owners}) from generate_series(1, ${Math.min(50_000, others - done)}) g`;
  }
  for (const table of [crowded, quiet]) {
    await sql`insert into ${sql(table)} (work_order_id, minutes, owner) select gen_random_uuid(), 45, ${OWNER} from generate_series(1, ${OWN_CHANGES})`;
    await sql`vacuum analyze ${sql(`versioning_delta.${table}`)}`;
  }
  console.log(`${crowded}: ${others} changes of ${owners} other owners journaled (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  await new Promise((done) => setTimeout(done, 5));

  const identity = { sub: OWNER, username: OWNER, claims: { 'cognito:username': OWNER }, groups: [] };
  const syncOf = (table: string) => {
    const resolve = modelResolver({ ...models.WorkLog, table }, {}, { connection: () => sql });
    return async () => {
      const { data } = (await resolve({ arguments: { lastSync, limit: 1000 }, identity, info: { fieldName: 'syncWorkLogs', parentTypeName: 'Query' } })) as { data: { items: unknown[] } };
      if (data.items.length !== OWN_CHANGES) throw new Error(`P3b: the owner's sync returned ${data.items.length} changes, not ${OWN_CHANGES}`);
    };
  };
  const time = async (run: () => Promise<void>) => {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = process.hrtime.bigint();
      await run();
      times.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return median(times);
  };
  const [crowdedSync, quietSync] = [syncOf(crowded), syncOf(quiet)];
  const rounds: [number[], number[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    rounds[0].push(await time(crowdedSync));
    rounds[1].push(await time(quietSync));
  }
  const [crowdedMs, quietMs] = rounds.map(median) as [number, number];
  const ratio = crowdedMs / quietMs;
  record({
    id: 'P3b',
    measure: `an owner's delta sync of ${OWN_CHANGES} changes in a journal of ${others} changes of ${owners} other owners vs in a journal of only theirs (${crowdedMs.toFixed(1)} vs ${quietMs.toFixed(1)} ms; median sync of 20, median of ${ROUNDS} alternating rounds)`,
    value: `${ratio.toFixed(2)}×`, target: '≤ 1.2×', met: ratio <= 1.2,
  });
}
