// npm run bench [-- --quick] [-- --rows N]: figures for docs/benchmarks.md, each a ratio of two things
// measured in the same run on the same machine. On DATABASE_URL (a scratch database: it writes a lot)
// or on an embedded PostgreSQL of its own.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type Sql } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { models } from '@datastore-pg/schema/models';
import { startEmbeddedPostgres, type RunningPostgres } from '@datastore-pg/testing/embedded';
import { modelResolver, toDataStoreError } from '@datastore-pg/versioning';
import { readZip } from '../packages/deploy/src/zip';
import { ownerDeltaSync } from './journal-keys';
import { median, seconds, type Figure } from './measure';
import { purgeByPartition } from './purge';
import { graveyardCost } from './graveyard';
import { onlineEnable } from './online-enable';
import { liveLatency } from './live';
import { fleetCommand } from './fleet';
import { FLEET_ARGS } from './fleet/options';

const ROOT = join(__dirname, '..');
const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    rows: { type: 'string' },
    ...FLEET_ARGS,
  },
});
const ROWS = Number(values.rows ?? (values.quick ? 20_000 : 1_000_000));
const SMALL = Math.min(10_000, Math.floor(ROWS / 10));
const PAGE = 1000;

const results: Figure[] = [];
const record = (r: Figure) => {
  results.push(r);
  console.log(r.target === undefined
    ? `${r.id}  ${r.measure}: ${r.value}`
    : `${r.id}  ${r.measure}: ${r.value} (target ${r.target}) ${r.met ? 'met' : 'MISSED'}`);
};
/**
 * Times several things in alternating rounds (a, b, a, b, ...) and returns each one's median: a machine
 * shared with others (or a checkpoint, or autovacuum) then slows every side of a ratio, not just the one
 * that happened to run at that moment.
 */
async function interleaved(rounds: number, ...runs: ((round: number) => Promise<unknown>)[]): Promise<number[]> {
  const times = runs.map((): number[] => []);
  for (let round = 0; round < rounds; round++) {
    for (const [i, run] of runs.entries()) times[i]!.push(await seconds(() => run(round)));
  }
  return times.map(median);
}
const ROUNDS = 5;

async function main(): Promise<void> {
  let embedded: RunningPostgres | undefined;
  const url = process.env.DATABASE_URL || (embedded = await startEmbeddedPostgres({ name: 'bench-postgres' })).url;
  const sql = connect(url, { max: 60 });
  try {
    await migrate(sql, migrations);
    console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; rows ${ROWS}, small table ${SMALL}, page ${PAGE}`);
    await fill(sql, 'customers', ROWS);
    await fill(sql, 'parts_bench', SMALL);
    await fillParts(sql);
    await offsetPaging(sql, await fullSync(sql));
    await deltaSync(sql);
    await ownerDeltaSync(sql, ROWS, record);
    await singleUpdate(sql);
    await mergedWrite(sql, 'counter');
    await mergedWrite(sql, 'field');
    await mergedWrite(sql, 'conflict');
    await mergeHistorySize(sql);
    await concurrentWriters(sql);
    bundles();
    await graveyardCost(sql, SMALL, record);
    await onlineEnable(url, sql, ROWS, record);
    await purgeByPartition(sql, url, ROWS, record);
    // Last: it adds and removes customers of its own, and runs the forwarder, which any change by the
    // figures before it would reach.
    await liveLatency(url, values.quick, record);
    console.log('\n| id | measure | result | target | |\n|---|---|---|---|---|');
    for (const r of results) console.log(`| ${r.id} | ${r.measure} | ${r.value} | ${r.target ?? '—'} | ${r.target === undefined ? '' : r.met ? 'met' : '**missed**'} |`);
  } finally {
    await sql.end();
    await embedded?.stop();
  }
}

/** n rows through the triggers, in chunks (each chunk one statement, as an ERP's bulk load would). */
async function fill(sql: Sql, table: 'customers' | 'parts_bench', n: number): Promise<void> {
  if (table === 'parts_bench') {
    // A second, small versioned table of the same shape, for P3's comparison.
    await sql`create table if not exists parts_bench (like customers including defaults)`;
    await sql`alter table parts_bench add primary key (id)`.catch(() => undefined);
    await sql`select versioning.enable('parts_bench')`;
  }
  const [{ count }] = (await sql`select count(*)::int as count from ${sql(table)}`) as unknown as [{ count: number }];
  const started = Date.now();
  for (let done = count; done < n; done += 50_000) {
    await sql`insert into ${sql(table)} (name, email) select 'Customer ' || g, 'c' || g || '@example.com' from generate_series(1, ${Math.min(50_000, n - done)}) g`;
  }
  // As autovacuum would have by now: fresh statistics for the table and its journal.
  await sql`vacuum analyze ${sql(table)}`;
  await sql`vacuum analyze ${sql(`versioning_delta.${table}`)}`;
  console.log(`${table}: ${n} rows ready (${((Date.now() - started) / 1000).toFixed(1)} s to load)`);
}

const resolver = (sql: Sql) => modelResolver(models.Customer, {}, { connection: () => sql });

async function fullSync(sql: Sql): Promise<number> {
  const handler = resolver(sql);
  const handlerSync = async (maxPages = Infinity) => {
    let rows = 0;
    let nextToken: string | null = null;
    for (let page = 0; page < maxPages; page++) {
      const { data } = (await handler({ arguments: { lastSync: 0, limit: PAGE, nextToken }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } })) as { data: { items: unknown[]; nextToken: string | null } };
      rows += data.items.length;
      nextToken = data.nextToken;
      if (!nextToken) break;
    }
    return rows;
  };
  const rawSync = async (maxPages = Infinity) => {
    let rows = 0;
    let after: string | null = null;
    for (let page = 0; page < maxPages; page++) {
      const result: { id: string }[] = after === null
        ? await sql`select * from customers order by id limit ${PAGE}`
        : await sql`select * from customers where id > ${after} order by id limit ${PAGE}`;
      rows += result.length;
      if (result.length < PAGE) break;
      after = result.at(-1)!.id;
    }
    return rows;
  };
  // Warm-up, untimed: the handler's first request loads its runtime, and both code paths get compiled.
  await handlerSync(20);
  await rawSync(20);
  let handlerRows = 0;
  let rawRows = 0;
  const [handlerTime = 0, rawTime = 0] = await interleaved(ROUNDS,
    async () => (handlerRows = await handlerSync()),
    async () => (rawRows = await rawSync()));
  if (handlerRows !== ROWS || rawRows !== ROWS) throw new Error(`P1 read ${handlerRows} rows through the handler and ${rawRows} raw, expected ${ROWS}`);
  const ratio = (handlerRows / handlerTime) / (rawRows / rawTime);
  record({ id: 'P1', measure: `full sync of ${handlerRows} rows through the handler vs raw keyset SELECT (${Math.round(handlerRows / handlerTime)} vs ${Math.round(rawRows / rawTime)} rows/s, medians of alternating runs)`, value: `${ratio.toFixed(2)}× raw throughput`, target: '≥ 0.8×', met: ratio >= 0.8 });
  return handlerTime;
}

async function offsetPaging(sql: Sql, handlerTime: number): Promise<void> {
  // The AWS blog's approach: OFFSET paging over the base table. A full run is quadratic (hours at 1M
  // rows), so it is timed on pages spread evenly over the table, each standing for the pages up to the
  // next one: a sum over the real pages, with no cost model (a page's fixed cost is counted once per page).
  const pages = Math.ceil(ROWS / PAGE);
  const sample = Math.min(pages, 50);
  const stride = pages / sample;
  let offsetTotal = 0;
  for (let i = 0; i < sample; i++) {
    const page = Math.floor(i * stride);
    offsetTotal += stride * await seconds(() => sql`select * from customers order by id limit ${PAGE} offset ${page * PAGE}`);
  }
  const p2 = offsetTotal / handlerTime;
  record({ id: 'P2', measure: `the same sync vs OFFSET paging (${sample} pages spread over the table timed, ${offsetTotal.toFixed(1)} s for all ${pages})`, value: `${p2.toFixed(1)}× faster`, target: '≥ 20×', met: p2 >= 20 });
}

async function deltaSync(sql: Sql): Promise<void> {
  const handler = resolver(sql);
  const smallHandler = modelResolver({ ...models.Customer, table: 'parts_bench' }, {}, { connection: () => sql });
  const timeDelta = async (table: string, run: typeof handler) => {
    const [{ watermark }] = (await sql`select versioning.sync_watermark() as watermark`) as unknown as [{ watermark: number }];
    await sql`update ${sql(table)} set name = name || '.' where id in (select id from ${sql(table)} order by random() limit 100)`;
    await new Promise((done) => setTimeout(done, 5));
    let items = 0;
    // A sync takes a few ms: one scheduling hiccup would move a mean, so each round takes the median.
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      times.push(await seconds(async () => {
        const { data } = (await run({ arguments: { lastSync: watermark, limit: PAGE }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } })) as { data: { items: unknown[] } };
        items = data.items.length;
      }));
    }
    return { time: median(times), items };
  };
  let big = { time: 0, items: 0 };
  let small = { time: 0, items: 0 };
  const rounds: [number[], number[]] = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    big = await timeDelta('customers', handler);
    small = await timeDelta('parts_bench', smallHandler);
    rounds[0].push(big.time);
    rounds[1].push(small.time);
  }
  const [bigTime, smallTime] = rounds.map(median) as [number, number];
  const ratio = bigTime / smallTime;
  record({ id: 'P3', measure: `delta sync of ${big.items} changes on ${ROWS} rows vs ${small.items} on ${SMALL} (${(bigTime * 1000).toFixed(1)} vs ${(smallTime * 1000).toFixed(1)} ms; median sync of 20, median of ${ROUNDS} alternating rounds)`, value: `${ratio.toFixed(2)}×`, target: '≤ 1.2×', met: ratio <= 1.2 });
}

async function singleUpdate(sql: Sql): Promise<void> {
  const handler = resolver(sql);
  const n = 100;
  // Round r: the handler and the plain UPDATE change rows r*n .. r*n+n-1 (each once, so every update is
  // at the row's current version; the plain copy holds the same rows); the same UPDATE in SQL on the
  // versioned table changes other rows, as cold as the handler's.
  const ids = await sql<{ id: string; _version: number }[]>`select id, _version from customers order by id offset 1000 limit ${2 * (ROUNDS + 1) * n}`;
  const rows = (round: number, set = 0) => ids.slice((set * (ROUNDS + 1) + round) * n, (set * (ROUNDS + 1) + round) * n + n);
  // The plain UPDATE, on a copy of the table without triggers or journal, is what a versioning-free
  // backend would do; same rows, same size, same indexes on id.
  await sql`drop table if exists plain_customers`; // a copy left by an earlier run may hold other rows
  await sql`create table plain_customers as select * from customers`;
  await sql`alter table plain_customers add primary key (id)`;
  await sql`vacuum analyze plain_customers`;
  const throughHandler = async (round: number) => {
    for (const row of rows(round)) {
      await handler({ arguments: { input: { id: row.id, _version: row._version, name: 'bench' } }, identity: null, info: { fieldName: 'updateCustomer', parentTypeName: 'Mutation' } });
    }
  };
  const plain = async (round: number) => {
    for (const row of rows(round)) await sql`update plain_customers set name = 'bench' where id = ${row.id}`;
  };
  // Not part of the ratio: splits the gap into what the database's bookkeeping costs and what the
  // handler adds.
  const versionedSql = async (round: number) => {
    for (const row of rows(round, 1)) await sql`update customers set name = 'bench' where id = ${row.id}`;
  };
  // Warm-up, untimed (the handler's first request loads its runtime), on rows the timed rounds skip.
  await throughHandler(ROUNDS);
  await plain(ROUNDS);
  await versionedSql(ROUNDS);
  const [handlerTime = 0, plainTime = 0, sqlTime = 0] = await interleaved(ROUNDS, throughHandler, plain, versionedSql);
  const ratio = handlerTime / plainTime;
  const ms = (time: number) => (time / n * 1000).toFixed(2);
  record({ id: 'P4', measure: `one update through the handler vs a plain UPDATE by primary key (${ms(handlerTime)} vs ${ms(plainTime)} ms, medians of ${ROUNDS} alternating rounds of ${n}; the same UPDATE in SQL on the versioned table: ${ms(sqlTime)} ms)`, value: `${ratio.toFixed(2)}×`, target: '≤ 1.5×', met: ratio <= 1.5 });
}

// P9 and the merge history's size run on the real parts table: Part is a MERGE model and quantityOnHand
// a @counter. The bench adds parts of its own (sku BENCH-n) beside whatever else the table holds.
const PARTS = 10_000;
async function fillParts(sql: Sql): Promise<void> {
  const started = Date.now();
  await sql`insert into parts (sku, description, quantity_on_hand, unit_price)
            select 'BENCH-' || g, 'Bench part ' || g, 1000, 10 from generate_series(1, ${PARTS}) g
            on conflict (sku) do nothing`;
  await sql`vacuum analyze parts`;
  await sql`vacuum analyze versioning_delta.parts`;
  await sql`vacuum analyze versioning_merge.parts`;
  console.log(`parts: ${PARTS} bench rows ready (${((Date.now() - started) / 1000).toFixed(1)} s to load)`);
}

/** A signed-in technician as AppSync passes a Cognito user to the resolver: the history records user and session. */
function technician(): Record<string, unknown> {
  const sub = randomUUID();
  return { sub, username: sub, groups: [], claims: { sub, 'cognito:username': sub, origin_jti: randomUUID() } };
}

interface Statement { at: bigint; query: string; parameters: unknown[] }
interface Trace { start: bigint; end: bigint; statements: Statement[] }
/** Runs fn with every statement the driver sends recorded (its text and when it was sent). */
async function traced(sql: Sql, fn: () => Promise<unknown>): Promise<Trace> {
  const statements: Statement[] = [];
  sql.options.debug = (_connection, query, parameters) => void statements.push({ at: process.hrtime.bigint(), query, parameters });
  try {
    const start = process.hrtime.bigint();
    await fn();
    return { start, end: process.hrtime.bigint(), statements };
  } finally {
    sql.options.debug = false;
  }
}

/** What a statement of a write is, for the split. */
function step(query: string, inTransaction: boolean): string {
  if (/^\s*begin\b/i.test(query)) return 'BEGIN';
  if (/^\s*commit\b/i.test(query)) return 'COMMIT';
  if (/\bfor update\b/i.test(query)) return /jsonb_object_keys/.test(query) ? 'lock + history' : 'lock (SELECT … FOR UPDATE)';
  if (/jsonb_object_keys/.test(query)) return 'history';
  if (/jsonb_populate_record/.test(query)) return 'base item';
  if (/insert into versioning\.conflicts/i.test(query)) return 'conflict log INSERT';
  if (/^\s*update\b/i.test(query)) return inTransaction ? 'UPDATE' : 'one-statement UPDATE';
  return query.trim().split(/\s+/).slice(0, 3).join(' ');
}

/**
 * Where a write's time goes, from traces of the same write: the handler's work before its first
 * statement, then for each statement the time from sending it to sending the next (its round trip and
 * the handler's work on its answer), the last one up to the handler's return. Medians over the traces.
 */
function split(traces: Trace[]): { steps: string[]; ms: number[] } {
  const named = traces.map((t) => {
    let inTransaction = false;
    const steps = ['handler, before SQL', ...t.statements.map((s) => {
      const name = step(s.query, inTransaction);
      if (name === 'BEGIN') inTransaction = true;
      return name;
    })];
    const times = [t.statements[0]?.at ?? t.end, ...t.statements.map((s, i) => t.statements[i + 1]?.at ?? t.end)]
      .map((at, i) => Number(at - (i === 0 ? t.start : t.statements[i - 1]!.at)) / 1e6);
    return { steps, times };
  });
  // The sequence most writes took (they should all take the same).
  const counts = new Map<string, number>();
  for (const { steps } of named) counts.set(steps.join('|'), (counts.get(steps.join('|')) ?? 0) + 1);
  const common = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const same = named.filter(({ steps }) => steps.join('|') === common);
  return { steps: common.split('|'), ms: common.split('|').map((_, i) => median(same.map(({ times }) => times[i]!))) };
}
const showSplit = ({ steps, ms }: { steps: string[]; ms: number[] }) =>
  `${steps.map((name, i) => `${name} ${ms[i]!.toFixed(3)}`).join(', ')} (sum ${ms.reduce((a, b) => a + b, 0).toFixed(2)} ms)`;

/**
 * P9: a write the handler must merge (another writer changed the item since the version the write is
 * based on) against the same write at the current version (one statement). Variants: a @counter both
 * changed (the merge needs the item as it was at the base), a plain field the other writer did not
 * touch (another field changed), and a plain field both changed (a true conflict: the losing value is
 * logged in versioning.conflicts).
 */
async function mergedWrite(sql: Sql, variant: 'counter' | 'field' | 'conflict'): Promise<void> {
  const handler = modelResolver(models.Part, {}, { connection: () => sql });
  const identity = technician();
  const n = 100;
  const sets = ROUNDS + 2; // the timed rounds, the warm-up, the traced pass
  const offset = ['counter', 'field', 'conflict'].indexOf(variant) * 2 * sets * n;
  type PartRow = { id: string; _version: number; quantity_on_hand: number; description: string };
  const rows = await sql<PartRow[]>`
    select _datastore_uuid::text as id, _version, quantity_on_hand, description from parts
     where sku like 'BENCH-%' order by _datastore_uuid offset ${offset} limit ${2 * sets * n}`;
  if (rows.length < 2 * sets * n) throw new Error(`P9 needs ${2 * sets * n} bench parts from offset ${offset}, found ${rows.length}`);
  const staleRows = (set: number) => rows.slice(set * n, set * n + n);
  const currentRows = (set: number) => rows.slice((sets + set) * n, (sets + set) * n + n);
  // Another writer (the ERP, in SQL) changes every stale row once after the version the device read.
  const staleIds = sql.array(rows.slice(0, sets * n).map((r) => r.id));
  if (variant === 'counter') await sql`update parts set quantity_on_hand = quantity_on_hand + 5 where _datastore_uuid = any(${staleIds}::uuid[])`;
  else if (variant === 'field') await sql`update parts set description = description || ' (ERP)' where _datastore_uuid = any(${staleIds}::uuid[])`;
  else await sql`update parts set unit_price = 11 where _datastore_uuid = any(${staleIds}::uuid[])`;
  // The device changes one field at the version it read; the answer must be the merge.
  const input = (row: PartRow) => (variant === 'counter'
    ? { id: row.id, _version: row._version, quantityOnHand: row.quantity_on_hand - 1 }
    : { id: row.id, _version: row._version, unitPrice: 12.5 });
  const expected = (row: PartRow, stale: boolean): Record<string, unknown> => (variant === 'counter'
    ? { _version: row._version + (stale ? 2 : 1), quantityOnHand: row.quantity_on_hand - 1 + (stale ? 5 : 0) }
    : { _version: row._version + (stale ? 2 : 1), unitPrice: 12.5, description: row.description + (stale && variant === 'field' ? ' (ERP)' : '') });
  const writeOne = async (row: PartRow, stale: boolean) => {
    const { data } = (await handler({ arguments: { input: input(row) }, identity, info: { fieldName: 'updatePart', parentTypeName: 'Mutation' } })) as { data: Record<string, unknown> };
    for (const [field, value] of Object.entries(expected(row, stale))) {
      if (data[field] !== value) throw new Error(`P9 ${variant}: the ${stale ? 'stale' : 'current'} write of part ${row.id} answered ${field} = ${String(data[field])}, expected ${String(value)}`);
    }
  };
  // Each write's own time too: on a busy machine a round's total carries every stall of the path's
  // round trips, a write's median does not.
  const each: [number[], number[]] = [[], []];
  const stale = async (set: number) => { for (const row of staleRows(set)) each[0].push(await seconds(() => writeOne(row, true))); };
  const current = async (set: number) => { for (const row of currentRows(set)) each[1].push(await seconds(() => writeOne(row, false))); };
  // Warm-up, untimed, on rows the timed rounds skip.
  await stale(ROUNDS);
  await current(ROUNDS);
  each[0].length = each[1].length = 0;
  const [staleTime = 0, currentTime = 0] = await interleaved(ROUNDS, stale, current);
  // Untimed: the statements each write sent, on rows of their own. A write at the current version must
  // be the one-statement fast path, a stale one the merge in a transaction.
  const staleTraces: Trace[] = [];
  const currentTraces: Trace[] = [];
  for (const row of staleRows(ROUNDS + 1)) staleTraces.push(await traced(sql, () => writeOne(row, true)));
  for (const row of currentRows(ROUNDS + 1)) currentTraces.push(await traced(sql, () => writeOne(row, false)));
  for (const { statements } of currentTraces) {
    if (statements.length !== 1 || !/^\s*update\b/i.test(statements[0]!.query)) throw new Error(`P9 ${variant}: a write at the current version sent ${statements.length} statements, not the one-statement fast path`);
  }
  for (const { statements } of staleTraces) {
    if (!statements.some((s) => /^\s*begin\b/i.test(s.query))) throw new Error(`P9 ${variant}: a stale write did not take the merge path (no transaction)`);
  }
  const staleSplit = split(staleTraces);
  // The statements that only read (or, stale, change nothing) once more each, alone, with the same SQL
  // and parameters: the database's time and one round trip, without the handler's work around them.
  const alone = new Map<string, number[]>();
  for (const { statements } of staleTraces) {
    let inTransaction = false;
    for (const { query, parameters } of statements) {
      const name = step(query, inTransaction);
      if (name === 'BEGIN') inTransaction = true;
      if (!['one-statement UPDATE', 'lock + history', 'lock (SELECT … FOR UPDATE)', 'history', 'base item'].includes(name)) continue;
      const times = alone.get(name) ?? [];
      times.push(await seconds(() => sql.unsafe(query, parameters as never[], { prepare: true })));
      alone.set(name, times);
    }
  }
  if (variant === 'conflict' && !staleSplit.steps.includes('conflict log INSERT')) throw new Error('P9 conflict: the merge logged no conflict');
  const ratio = staleTime / currentTime;
  const ms = (time: number) => (time / n * 1000).toFixed(2);
  const what = {
    counter: '@counter (quantityOnHand) another writer also changed: merged from the base item',
    field: 'plain field (unitPrice) while another writer changed another (description)',
    conflict: 'plain field (unitPrice) another writer also changed: a true conflict, the lost value logged',
  }[variant];
  record({ id: 'P9', measure: `merged write at a stale base vs a write at the current version, Part through the handler, ${what} (${ms(staleTime)} vs ${ms(currentTime)} ms, medians of ${ROUNDS} alternating rounds of ${n})`, value: `${ratio.toFixed(2)}×`, target: '≤ 2×', met: ratio <= 2 });
  const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.floor(values.length * p)]! * 1000;
  const [staleWrites, currentWrites] = each.map((times) => `median ${percentile(times, 0.5).toFixed(2)}, p90 ${percentile(times, 0.9).toFixed(2)}, p99 ${percentile(times, 0.99).toFixed(2)} ms`);
  console.log(`      each write of the timed rounds: stale ${staleWrites}; current ${currentWrites}; ratio of the medians ${(percentile(each[0], 0.5) / percentile(each[1], 0.5)).toFixed(2)}×`);
  console.log(`      stale write, ${staleSplit.steps.length - 1} statements, median of ${n} traced: ${showSplit(staleSplit)}`);
  console.log(`      the same statements alone (autocommit, median): ${[...alone].map(([name, times]) => `${name} ${(median(times) * 1000).toFixed(3)}`).join(', ')} ms`);
  console.log(`      current write: ${showSplit(split(currentTraces))}`);
  if (variant === 'counter') {
    // What a statement costs at least here: one round trip through the driver.
    for (let i = 0; i < 50; i++) await sql`select 1`;
    const trips: number[] = [];
    for (let i = 0; i < 200; i++) trips.push(await seconds(() => sql`select 1`));
    console.log(`      a bare round trip (select 1, median of 200): ${(median(trips) * 1000).toFixed(3)} ms`);
  }
}

/**
 * The merge history's storage per change: how much versioning_merge.<table> (heap, indexes, TOAST)
 * grows per row written, for each kind of writer. A write through the handler records who wrote it,
 * its base and the fields it sent; any other writer only the previous values. Measured on a
 * Customer-shaped table of the bench's own, whose history it empties before each kind.
 */
async function mergeHistorySize(sql: Sql): Promise<void> {
  const n = Math.max(2000, SMALL);
  await sql`create table if not exists merge_cost (like customers including defaults)`;
  await sql`alter table merge_cost add primary key (id)`.catch(() => undefined);
  await sql`select versioning.enable('merge_cost')`;
  const handler = modelResolver({ ...models.Customer, table: 'merge_cost' }, {}, { connection: () => sql });
  const identity = technician();
  const history = 'versioning_merge.merge_cost';
  const sizes = async () => {
    // Summed over its partitions (000012): a partitioned table has no storage of its own.
    const [row] = await sql<{ total: number; heap: number; rows: number }[]>`
      select sum(pg_total_relation_size(p.relid))::int8 as total, sum(pg_relation_size(p.relid))::int8 as heap,
             (select count(*) from ${sql(history)})::int8 as rows
        from pg_partition_tree(${history}::regclass) p where p.isleaf`;
    return row!;
  };
  const perChange = async (write: () => Promise<unknown>) => {
    await sql`truncate ${sql(history)}`;
    const before = await sizes();
    await write();
    const after = await sizes();
    if (after.rows === 0) return null; // this kind of write records no history
    const total = (after.total - before.total) / after.rows;
    const heap = (after.heap - before.heap) / after.rows;
    return { total, heap, indexes: total - heap };
  };
  const shuffled = <T>(values: T[]) => values.map((v) => [Math.random(), v] as const).sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  let ids: string[] = [];
  const create = await perChange(async () => {
    for (let i = 0; i < n; i++) {
      const { data } = (await handler({ arguments: { input: { name: `Customer ${i}`, email: `c${i}@example.com` } }, identity, info: { fieldName: 'createCustomer', parentTypeName: 'Mutation' } })) as { data: { id: string } };
      ids.push(data.id);
    }
  });
  ids = shuffled(ids);
  // A typical one-field update: a name of the same length.
  const update = await perChange(async () => {
    for (const [i, id] of ids.entries()) {
      await handler({ arguments: { input: { id, _version: 1, name: `Renamed ${i}` } }, identity, info: { fieldName: 'updateCustomer', parentTypeName: 'Mutation' } });
    }
  });
  const sqlUpdate = await perChange(async () => {
    for (const [i, id] of shuffled(ids).entries()) await sql`update merge_cost set name = ${`ERP name ${i}`} where id = ${id}`;
  });
  const sqlInsert = await perChange(() => sql`insert into merge_cost (name, email) select 'Customer ' || g, 'c' || g || '@example.com' from generate_series(1, ${n}) g`);
  const bytes = (s: { total: number; heap: number; indexes: number } | null) =>
    (s ? `${Math.round(s.total)} B (heap ${Math.round(s.heap)}, indexes ${Math.round(s.indexes)})` : 'none (no row)');
  // The history keeps a change for the merge horizon (default: BaseTableTTL, 30 days).
  const gb30 = (s: { total: number } | null) => ((s?.total ?? 0) * 30 * 86400 / 1e9).toFixed(2);
  record({
    id: 'S1',
    measure: `merge history per change (growth of pg_total_relation_size of versioning_merge.<table>'s partitions / rows, ${n} changes of each kind, one-field updates in random order)`,
    value: `update through the handler ${bytes(update)}, in SQL ${bytes(sqlUpdate)}; create through the handler ${bytes(create)}, bulk INSERT in SQL ${bytes(sqlInsert)}; kept 30 days at 1 write/s: ${gb30(update)} GB through the handler, ${gb30(sqlUpdate)} GB in SQL`,
  });
}

async function concurrentWriters(sql: Sql): Promise<void> {
  const handler = resolver(sql);
  const [row] = await sql<{ id: string; _version: number }[]>`select id, _version from customers order by id limit 1`;
  const outcomes = await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    try {
      await handler({ arguments: { input: { id: row!.id, _version: row!._version, name: `writer ${i}` } }, identity: null, info: { fieldName: 'updateCustomer', parentTypeName: 'Mutation' } });
      return 'won';
    } catch (error) {
      return toDataStoreError(error).code;
    }
  }));
  const won = outcomes.filter((o) => o === 'won').length;
  const deadlocks = outcomes.filter((o) => o === 'Unavailable').length;
  const conflicts = outcomes.filter((o) => o === 'ConflictUnhandled').length;
  record({ id: 'P5', measure: `50 concurrent writers on one row at one version (${won} won, ${conflicts} conflicts, ${deadlocks} deadlocks or retries)`, value: `${deadlocks} deadlocks, ${won} winner`, target: '0 deadlocks, exactly one winner per version', met: deadlocks === 0 && won === 1 && conflicts === 49 });
}

function bundles(): void {
  execFileSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'packages/deploy/src/package-cli.ts'), '--stage', 'prod'], { cwd: ROOT, stdio: 'ignore' });
  const dir = join(ROOT, '.package/prod');
  const zips = readdirSync(dir).filter((f) => f.endsWith('.zip'));
  const largest = Math.max(...zips.map((f) => statSync(join(dir, f)).size));
  // Cold init: a fresh node loading the bundle (the zip's handler.js, as Lambda does).
  const extracted = join(dir, 'bench-handler.js');
  writeFileSync(extracted, readZip(join(dir, 'workOrder.zip')).get('services/work-order/handler.js')!);
  const time = (code: string) => {
    const runs = Array.from({ length: 5 }, () => Number(execFileSync(process.execPath, ['-e', `const t=process.hrtime.bigint();${code};console.log(Number(process.hrtime.bigint()-t)/1e6)`], { encoding: 'utf8' })));
    return runs.sort((a, b) => a - b)[2]!;
  };
  const initMs = time(`require(${JSON.stringify(extracted)})`);
  record({ id: 'P6', measure: `largest function zip and cold init (require of the bundle, median of 5)`, value: `${Math.round(largest / 1024)} KB, ${initMs.toFixed(0)} ms`, target: '≤ 1 MB, ≤ 150 ms', met: largest <= 1024 * 1024 && initMs <= 150 });
}

// The fleet model runs alone (bench/fleet.ts): with --fleet N, or to say that an option of its own needs it.
if (Object.keys(FLEET_ARGS).some((name) => values[name as keyof typeof FLEET_ARGS] !== undefined)) {
  void fleetCommand(values);
} else {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  });
}
