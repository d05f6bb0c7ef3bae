// npm run bench -- --fleet N [--quick]: the fleet model, measured (issue 14, part 5). N technicians'
// devices, run by worker processes (bench/fleet/worker.ts) through the real resolvers against one
// PostgreSQL, phase by phase: full syncs alone, edits alone, delta syncs alone (each phase's Postgres
// CPU-seconds over its operations: the cost of one), then a day's mix with live changes on (sustained
// rates, and whether the mix costs what the phases predict). Postgres CPU is read from /proc
// (bench/fleet/postgres-cpu.ts), so the server must run on this machine: DATABASE_URL's, or an embedded
// one of its own. The figures are per operation so that they scale to a fleet of any size.
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect, type Sql } from '@datastore-pg/db';
import type { PassReport } from '@datastore-pg/forwarder';
import { newDevCredentials, startLocalAppSync, type LocalAppSync } from '@datastore-pg/local-appsync';
import { migrate, migrations } from '@datastore-pg/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '@datastore-pg/testing/embedded';
import { isAlive } from '@datastore-pg/testing/process';
import { emptyTally, type Tally } from './fleet/device';
import { describe, FleetOptionError, fleetOptions, type FleetArgs, type FleetOptions } from './fleet/options';
import { PostgresCpu, type CpuReading, type CpuSpent } from './fleet/postgres-cpu';
import { changeCatalogue, seed, technician } from './fleet/seed';
import { subscribe, type Subscriber } from './fleet/subscriber';
import type { Command, PhaseReport, Reply } from './fleet/worker';
import { median, type Figure } from './measure';

/** The stack's forwarder Lambda polls the journals every 250 ms (packages/forwarder/src/lambda.ts). */
const FORWARDER_INTERVAL_MS = 250;
/** How long the live check waits, at most, for the last changes to reach the subscribed devices. */
const DRAIN_MS = 15_000;

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const ms = (seconds: number) => `${(seconds * 1000).toFixed(2)} ms`;
const rate = (n: number, seconds: number) => `${(n / seconds).toFixed(1)}/s`;

/** Validates the options (a bad one ends the process with its message and status 2), runs, exits. */
export async function fleetCommand(args: FleetArgs): Promise<void> {
  let options: FleetOptions;
  try {
    options = fleetOptions(args);
  } catch (error) {
    if (!(error instanceof FleetOptionError)) throw error;
    console.error(`npm run bench -- --fleet: ${error.message}`);
    process.exit(2);
  }
  try {
    await runFleet(options);
    process.exit(0);
  } catch (error) {
    console.error(error instanceof Error ? error.stack : String(error));
    process.exit(1);
  }
}

/** A forked worker, asked one thing at a time. */
class FleetWorker {
  private pending?: { resolve: (reply: Reply) => void; reject: (error: Error) => void };
  private readonly child: ChildProcess;

  constructor(readonly index: number) {
    // A .ts file: the child inherits this process's execArgv, which holds tsx's loader.
    this.child = fork(join(__dirname, 'fleet', 'worker.ts'));
    this.child.on('message', (reply: Reply) => this.pending?.resolve(reply));
    this.child.on('exit', (code, signal) => this.pending?.reject(new Error(`fleet worker ${index} exited (${signal ?? `status ${code}`})`)));
  }

  async ask(command: Command): Promise<Reply> {
    const reply = await new Promise<Reply>((resolve, reject) => {
      this.pending = { resolve, reject };
      this.child.send(command);
    });
    this.pending = undefined;
    if (reply.type === 'failed') throw new Error(`fleet worker ${this.index}: ${reply.error}`);
    return reply;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || !this.child.connected) return;
    const exited = new Promise((done) => this.child.once('exit', done));
    this.child.send({ type: 'stop' } satisfies Command);
    await Promise.race([exited, sleep(10_000)]);
  }
}

interface Measured {
  tally: Tally;
  spent: CpuSpent;
  /** The workers' own CPU: the resolvers', as Lambda would spend it. */
  nodeCpuSeconds: number;
  /** CPU-seconds of other processes on the machine meanwhile (not this run's Postgres, workers or endpoint). */
  elsewhere: number;
  written: PhaseReport['written'];
}

/** A phase on every worker at once, between two readings of the server's CPU. */
async function measure(cpu: PostgresCpu, workers: FleetWorker[], command: Extract<Command, { type: 'phase' }>, label = '', from?: CpuReading): Promise<Measured> {
  const name = `${command.phase}${label ? ` (${label})` : ''}`;
  const start = from ?? await cpu.read();
  const ownFrom = process.cpuUsage();
  const reports = await Promise.all(workers.map(async (w) => ((await w.ask(command)) as Extract<Reply, { type: 'done' }>).report));
  const to = await cpu.read();
  const tally = reports.map((r) => r.tally).reduce(addTallies, emptyTally());
  const failed = Object.values(tally.errors).reduce((a, b) => a + b, 0);
  if (failed > 0) console.log(`      ${name}: ${failed} requests FAILED (${JSON.stringify(tally.errors)}), first: ${tally.firstError}`);
  const own = process.cpuUsage(ownFrom);
  const spent = cpu.spent(start, to);
  const nodeCpuSeconds = reports.reduce((a, r) => a + r.nodeCpuSeconds, 0);
  // What else the machine did meanwhile: work of others on a shared machine takes CPUs from this run
  // and, from what was seen here, makes each operation cost more CPU time too.
  const elsewhere = Math.max(0, spent.machine - spent.seconds - nodeCpuSeconds - (own.user + own.system) / 1e6);
  console.log(`      ${name}: Postgres ${spent.ours.toFixed(2)} CPU-s in ${spent.wallSeconds.toFixed(1)} s, of which background processes ${spent.background.toFixed(2)}, processes that exited (autovacuum workers, mostly) ${spent.exited.toFixed(2)}${spent.forwarder ? `, the forwarder's sessions ${spent.forwarder.toFixed(2)}` : ''}; the workers' Node ${nodeCpuSeconds.toFixed(2)} CPU-s; other processes on the machine ${elsewhere.toFixed(2)} CPU-s (${Math.round((elsewhere / (spent.wallSeconds * cpus().length)) * 100)}% of it)${spent.otherDatabases > 0 ? `; other databases' sessions ${spent.otherDatabases.toFixed(2)} CPU-s, left out` : ''}`);
  if (spent.ours * cpu.ticksPerSecond < 100) console.log(`      ${name}: only ${Math.round(spent.ours * cpu.ticksPerSecond)} clock ticks of Postgres CPU: an imprecise figure (more devices or a longer phase would do)`);
  if (spent.otherDatabases + spent.exited > 0.05 * spent.ours && spent.otherDatabases > 0) {
    console.log(`      ${name}: other databases on this server were busy, and what their sessions that closed spent cannot be told from autovacuum's: run on a server of its own for clean figures`);
  }
  return { tally, spent, nodeCpuSeconds, elsewhere, written: reports.flatMap((r) => r.written) };
}

function addTallies(a: Tally, b: Tally): Tally {
  const sum = <K extends string>(x: Partial<Record<K, number>>, y: Partial<Record<K, number>>) => {
    const out: Partial<Record<K, number>> = { ...x };
    for (const [k, v] of Object.entries(y) as [K, number][]) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    fullSyncs: a.fullSyncs + b.fullSyncs, deltaSyncs: a.deltaSyncs + b.deltaSyncs, mutations: a.mutations + b.mutations,
    fullItems: a.fullItems + b.fullItems, fullPages: a.fullPages + b.fullPages,
    deltaItems: a.deltaItems + b.deltaItems, deltaPages: a.deltaPages + b.deltaPages, deltaOwnItems: a.deltaOwnItems + b.deltaOwnItems,
    modes: sum(a.modes, b.modes) as Record<string, number>, edits: sum(a.edits, b.edits), errors: sum(a.errors, b.errors) as Record<string, number>,
    firstError: a.firstError ?? b.firstError,
  };
}

/** A phase's rounds taken together: their sums, and each round's Postgres CPU-seconds per operation. */
interface Pooled { tally: Tally; ours: number; wallSeconds: number; nodeCpuSeconds: number; perOperation: number[] }

function pool(rounds: Measured[], operations: (tally: Tally) => number): Pooled {
  return {
    tally: rounds.map((r) => r.tally).reduce(addTallies, emptyTally()),
    ours: rounds.reduce((a, r) => a + r.spent.ours, 0),
    wallSeconds: rounds.reduce((a, r) => a + r.spent.wallSeconds, 0),
    nodeCpuSeconds: rounds.reduce((a, r) => a + r.nodeCpuSeconds, 0),
    perOperation: rounds.map((r) => r.spent.ours / operations(r.tally)),
  };
}

/** Delta sync pages the server answered otherwise (a base sync: the window was older than the journal keeps). */
function notDelta(tally: Tally): string {
  const others = Object.entries(tally.modes).filter(([mode]) => mode !== 'delta');
  return others.length ? `; pages answered otherwise: ${JSON.stringify(Object.fromEntries(others))}` : '';
}

/**
 * A database of the fleet's own on the server, dropped at the end: every run starts from the same data,
 * whatever else DATABASE_URL's database holds (the other figures' million customers would be synced by
 * every device), and leaves nothing behind. One left by a run that was killed is dropped first.
 */
async function fleetDatabase(serverUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = connect(serverUrl, { max: 1, applicationName: 'fleet bench admin' });
  try {
    for (const { name } of await admin<{ name: string }[]>`select datname as name from pg_database where datname ~ '^fleet_bench_[0-9]+$'`) {
      if (!isAlive(Number(name.slice('fleet_bench_'.length)))) await admin.unsafe(`drop database if exists ${name} with (force)`);
    }
    const name = `fleet_bench_${process.pid}`;
    await admin.unsafe(`create database ${name}`).catch((error: { code?: string }) => {
      throw error.code === '42501' ? new Error(`the fleet model makes a database of its own on DATABASE_URL's server, and this role may not (CREATEDB): ${String(error)}`) : error;
    });
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    return {
      url: url.toString(),
      async drop() {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
        await admin.end();
      },
    };
  } catch (error) {
    await admin.end();
    throw error;
  }
}

async function watermark(sql: Sql): Promise<number> {
  const [{ w }] = (await sql`select versioning.sync_watermark() as w`) as unknown as [{ w: number }];
  // Stamps are milliseconds: a change in the watermark's own millisecond would fall outside (w, ...].
  await sleep(5);
  return w;
}

async function runFleet(o: FleetOptions): Promise<void> {
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
  const figures: Figure[] = [];
  const record = (f: Figure) => {
    figures.push(f);
    console.log(`${f.id}  ${f.measure}: ${f.value}`);
  };
  for (const line of describe(o)) console.log(line);
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}`);

  let embedded: RunningPostgres | undefined;
  const serverUrl = process.env.DATABASE_URL || (embedded = await startEmbeddedPostgres({ name: 'bench-fleet-postgres' })).url;
  const db = await fleetDatabase(serverUrl);
  const sql = connect(db.url, { max: 2, applicationName: 'fleet bench' });
  const workers: FleetWorker[] = [];
  const subscribers: Subscriber[] = [];
  let server: LocalAppSync | undefined;
  try {
    await migrate(sql, migrations);
    const [facts] = await sql<{ version: string; shared_buffers: string; fsync: string; synchronous_commit: string }[]>`
      select current_setting('server_version') as version, current_setting('shared_buffers') as shared_buffers,
             current_setting('fsync') as fsync, current_setting('synchronous_commit') as synchronous_commit`;
    console.log(`postgres: ${facts!.version} ${embedded ? '(embedded)' : '(DATABASE_URL\'s server)'}, shared_buffers ${facts!.shared_buffers}, fsync ${facts!.fsync}, synchronous_commit ${facts!.synchronous_commit}; database ${new URL(db.url).pathname.slice(1)} (dropped at the end)`);

    const counts = await seed(sql, o.dataset);
    console.log(`seeded in ${elapsed()}: ${Object.entries(counts).map(([table, n]) => `${table} ${n}`).join(', ')}`);

    const cpu = await PostgresCpu.locate(sql);
    const siteIds = (await sql<{ id: string }[]>`select id::text from sites order by random() limit 100`).map((r) => r.id);
    const usernames = Array.from({ length: o.devices }, (_, i) => technician(i + 1));
    // Subscribed devices spread over the fleet, so that every worker has some.
    const subscribed = new Set(Array.from({ length: o.subscribers }, (_, i) => usernames[Math.floor((i * o.devices) / o.subscribers)]!));
    for (let i = 0; i < o.workers; i++) workers.push(new FleetWorker(i));
    await Promise.all(workers.map((w) => {
      const mine = usernames.filter((_, d) => d % o.workers === w.index);
      return w.ask({ type: 'init', url: db.url, usernames: mine, subscribed: mine.filter((u) => subscribed.has(u)), siteIds, inFlight: o.inFlight, seed: 1000 + w.index });
    }));
    console.log(`workers ready in ${elapsed()}`);

    // The server at rest, for scale: what the phases' figures include of background work.
    const idleFrom = await cpu.read();
    await sleep(o.quick ? 1000 : 2000);
    const idle = cpu.spent(idleFrom, await cpu.read());
    const idleRate = idle.ours / idle.wallSeconds;
    const idleElsewhere = Math.max(0, idle.machine - idle.seconds) / (idle.wallSeconds * cpus().length);
    console.log(`server at rest: ${ms(idleRate)} CPU a second (background processes ${ms(idle.background / idle.wallSeconds)}, exited ${ms(idle.exited / idle.wallSeconds)}; other databases' sessions ${ms(idle.otherDatabases / idle.wallSeconds)}, left out); other processes on the machine ${Math.round(idleElsewhere * 100)}% of it`);

    // F1–F3, each phase alone, in alternating rounds (full, edits, delta, full, ...), each figure the median
    // of its rounds' costs: a neighbour's burst on a shared machine then moves one round of each, not one
    // figure (the same reason as bench/run.ts's interleaved()).
    const share = counts.customers! + counts.sites! + counts.assets! + counts.parts! + o.dataset.ordersPerTechnician * (1 + o.dataset.logsPerOrder);
    const catalogue = counts.customers! + counts.sites! + counts.assets! + counts.parts!;
    const catalogueChanges = Math.round((catalogue * o.dataset.catalogueChangesPerDay) / Math.max(1, o.day.deltaSyncs));
    const editsPerDevice = Math.max(1, Math.round(o.day.edits / Math.max(1, o.day.deltaSyncs)));
    const fulls: Measured[] = [];
    const edits: Measured[] = [];
    const deltas: Measured[] = [];
    let windowSeconds = 0;
    for (let round = 1; round <= o.rounds; round++) {
      const of = `round ${round} of ${o.rounds}`;
      const full = await measure(cpu, workers, { type: 'phase', phase: 'full', seconds: o.seconds.full }, of);
      if (full.tally.fullSyncs === 0) throw new Error(`no full sync finished in ${o.seconds.full} s`);
      // Each device sees the whole catalogue and only its own work (the owner rule); nothing has changed yet.
      if (round === 1 && full.tally.fullItems !== full.tally.fullSyncs * share) throw new Error(`${full.tally.fullSyncs} full syncs returned ${full.tally.fullItems} items, not ${share} each`);
      fulls.push(full);

      const edit = await measure(cpu, workers, { type: 'phase', phase: 'edits', seconds: o.seconds.edits }, of);
      if (edit.tally.mutations === 0) throw new Error(`no edit finished in ${o.seconds.edits} s`);
      edits.push(edit);

      // Delta syncs, each device from the same lastSync, in a window as a device finds it between two
      // syncs: its own edits of one stretch (a day's edits over its delta syncs; not measured) and the
      // ERP's catalogue changes of one stretch.
      const windowStart = await watermark(sql);
      for (const reply of await Promise.all(workers.map((w) => w.ask({ type: 'phase', phase: 'edits', seconds: o.seconds.edits, editsPerDevice })))) {
        const { tally } = (reply as Extract<Reply, { type: 'done' }>).report;
        if (tally.firstError) throw new Error(`the edits of the delta syncs' window failed: ${tally.firstError}`);
      }
      await changeCatalogue(sql, catalogueChanges);
      await sleep(5); // past the last change's millisecond, so the window is closed when syncs start
      windowSeconds = (Date.now() - windowStart) / 1000;
      const delta = await measure(cpu, workers, { type: 'phase', phase: 'delta', seconds: o.seconds.delta, lastSync: windowStart }, of);
      if (delta.tally.deltaSyncs === 0) throw new Error(`no delta sync finished in ${o.seconds.delta} s`);
      deltas.push(delta);
    }
    const full = pool(fulls, (t) => t.fullSyncs);
    const edit = pool(edits, (t) => t.mutations);
    const delta = pool(deltas, (t) => t.deltaSyncs);
    const [perFull, perEdit, perDelta] = [full, edit, delta].map((p) => median(p.perOperation)) as [number, number, number];
    const itemsPerFull = full.tally.fullItems / full.tally.fullSyncs;
    const roundsOf = (p: Pooled) => (o.rounds > 1 ? `; median of ${o.rounds} rounds: ${p.perOperation.map(ms).join(', ')}` : '');
    record({
      id: 'F1',
      measure: `Postgres CPU per full sync (all 6 models from lastSync 0, pages of 1,000: ${Math.round(itemsPerFull)} items in ${(full.tally.fullPages / full.tally.fullSyncs).toFixed(1)} pages; ${full.tally.fullSyncs} syncs in ${full.wallSeconds.toFixed(1)} s, ${rate(full.tally.fullSyncs, full.wallSeconds)}; resolvers' Node CPU ${ms(full.nodeCpuSeconds / full.tally.fullSyncs)} a sync${roundsOf(full)})`,
      value: `${ms(perFull)} CPU a full sync, ${ms((perFull / itemsPerFull) * 1000)} per 1,000 items`,
    });
    record({
      id: 'F2',
      measure: `Postgres CPU per delta sync (all 6 models from a lastSync ${windowSeconds.toFixed(0)} s back: ${(delta.tally.deltaItems / delta.tally.deltaSyncs).toFixed(1)} items, ${(delta.tally.deltaOwnItems / delta.tally.deltaSyncs).toFixed(1)} of them the device's own, in ${(delta.tally.deltaPages / delta.tally.deltaSyncs).toFixed(1)} pages${notDelta(delta.tally)}; ${delta.tally.deltaSyncs} syncs in ${delta.wallSeconds.toFixed(1)} s, ${rate(delta.tally.deltaSyncs, delta.wallSeconds)}; resolvers' Node CPU ${ms(delta.nodeCpuSeconds / delta.tally.deltaSyncs)} a sync${roundsOf(delta)})`,
      value: `${ms(perDelta)} CPU a delta sync (${ms(perDelta / (delta.tally.deltaPages / delta.tally.deltaSyncs))} a request)`,
    });
    record({
      id: 'F3',
      measure: `Postgres CPU per mutation (a device's edits at the version it holds: ${Object.entries(edit.tally.edits).map(([k, n]) => `${k} ${n}`).join(', ')}; ${edit.tally.mutations} in ${edit.wallSeconds.toFixed(1)} s, ${rate(edit.tally.mutations, edit.wallSeconds)}; resolvers' Node CPU ${ms(edit.nodeCpuSeconds / edit.tally.mutations)} a mutation${roundsOf(edit)})`,
      value: `${ms(perEdit)} CPU a mutation`,
    });

    // F4: the day. The local endpoint with the forwarder in this process (as bench/live.ts runs it), some
    // devices subscribed; the workers run the day's mix closed-loop.
    const credentials = newDevCredentials();
    const passes: PassReport[] = [];
    const forwarderErrors: unknown[] = [];
    server = await startLocalAppSync({
      credentials,
      live: { databaseUrl: db.url, intervalMs: FORWARDER_INTERVAL_MS, onPass: (r) => passes.push(r), onError: (e) => forwarderErrors.push(e) },
    });
    for (const username of subscribed) subscribers.push(await subscribe(server.realtimeUrl, credentials, username));
    const dayStart = await watermark(sql);
    const passesBefore = passes.length;
    const localFrom = process.cpuUsage();
    const dayFrom = await cpu.read();
    const day = await measure(cpu, workers, { type: 'phase', phase: 'day', seconds: o.seconds.day, lastSync: dayStart, day: o.day }, '', dayFrom);
    const t = day.tally;
    const wall = day.spent.wallSeconds;
    const predicted = t.fullSyncs * perFull + t.deltaSyncs * perDelta + t.mutations * perEdit;
    const utilisation = day.spent.ours / wall;
    record({
      id: 'F4',
      measure: `the day's mix closed-loop for ${wall.toFixed(1)} s (${t.fullSyncs} full syncs, ${t.deltaSyncs} delta syncs of ${(t.deltaItems / Math.max(1, t.deltaSyncs)).toFixed(1)} items, ${t.mutations} mutations; forwarder on, ${subscribers.length} devices subscribed); Postgres ${utilisation.toFixed(2)} CPU-s/s, ${Math.round((utilisation / cpus().length) * 100)}% of the machine's ${cpus().length} CPUs, shared with the workers`,
      value: `${rate(t.fullSyncs + t.deltaSyncs, wall)} syncs (${rate(t.fullSyncs, wall)} full), ${rate(t.mutations, wall)} mutations; Postgres CPU ${(day.spent.ours / predicted).toFixed(2)}× what F1–F3 predict (${(day.spent.ours - day.spent.forwarder).toFixed(1)} of ${day.spent.ours.toFixed(1)} CPU-s without the forwarder's sessions: ${((day.spent.ours - day.spent.forwarder) / predicted).toFixed(2)}×)`,
    });

    // F5: live changes. Every item a subscribed device wrote must reach it at the version it wrote (or a
    // later one); the forwarder publishes what it finds, so it is given time to catch up.
    const expected = day.written.filter(([username]) => subscribed.has(username));
    const byName = new Map(subscribers.map((s) => [s.username, s]));
    const missing = () => expected.filter(([username, key, version]) => (byName.get(username)!.received.get(key) ?? 0) < version);
    const drainFrom = performance.now();
    while (missing().length > 0 && performance.now() - drainFrom < DRAIN_MS) await sleep(100);
    const drained = await cpu.read();
    const local = process.cpuUsage(localFrom);
    const forwarded = passes.slice(passesBefore).reduce((sum, p) => sum + Object.values(p.published).reduce((a, b) => a + b, 0), 0);
    const forwarderCpu = cpu.spent(dayFrom, drained).forwarder;
    const lost = missing().length;
    const subscriberErrors = subscribers.flatMap((s) => s.errors);
    record({
      id: 'F5',
      measure: `the forwarder over the day and its drain (${forwarded} changes forwarded in ${passes.length - passesBefore} passes, one every ${FORWARDER_INTERVAL_MS} ms; ${expected.length} items written by the ${subscribers.length} subscribed devices, ${expected.length - lost} reached them at their version${lost ? ` (MISSING ${lost} after ${DRAIN_MS / 1000} s)` : ''}, ${subscribers.reduce((a, s) => a + s.messages, 0)} messages${subscriberErrors.length ? `, ${subscriberErrors.length} with errors: ${subscriberErrors[0]}` : ''}${forwarderErrors.length ? `; ${forwarderErrors.length} forwarder errors, first: ${String(forwarderErrors[0])}` : ''}; this process (endpoint, publishing, subscribers) used ${((local.user + local.system) / 1e6).toFixed(1)} CPU-s of Node)`,
      value: forwarded > 0 ? `${ms(forwarderCpu / forwarded)} Postgres CPU per change forwarded` : 'no change forwarded',
    });

    // F6: a device's day at the phases' costs: the handle for sizing a fleet (an average over 24 h; the
    // peak hour is the sizing's business).
    const forwardedPerEdit = t.mutations > 0 ? forwarded / t.mutations : 0;
    const deviceDay = o.day.fullSyncs * perFull + o.day.deltaSyncs * perDelta + o.day.edits * (perEdit + forwardedPerEdit * (forwarderCpu / Math.max(1, forwarded)));
    record({
      id: 'F6',
      measure: `Postgres CPU of one device's day at this run's share (${Math.round(itemsPerFull)} items a full sync): ${o.day.fullSyncs} × F1 + ${o.day.deltaSyncs} × F2 + ${o.day.edits} × (F3 + ${forwardedPerEdit.toFixed(2)} changes forwarded × F5); the server at rest used ${ms(idleRate)} CPU a second`,
      value: `${deviceDay.toFixed(3)} CPU-s a device a day; were it spread evenly over 24 h, one Postgres CPU at 100% would serve ${Math.round(86_400 / deviceDay).toLocaleString('en-US')} devices (no peak, no headroom)`,
    });

    console.log('\n| id | measure | result |\n|---|---|---|');
    for (const f of figures) console.log(`| ${f.id} | ${f.measure} | ${f.value} |`);
    const raw = {
      devices: o.devices, quick: o.quick, perDeviceDay: o.day, dataset: o.dataset, counts, workers: o.workers, inFlight: o.inFlight, subscribers: o.subscribers,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: facts },
      idleCpuSecondsPerSecond: idleRate,
      rounds: o.rounds,
      full: { ...poolNumbers(full), cpuSecondsPerSync: perFull, cpuSecondsPer1000Items: (perFull / itemsPerFull) * 1000 },
      edits: { ...poolNumbers(edit), cpuSecondsPerMutation: perEdit },
      delta: { ...poolNumbers(delta), cpuSecondsPerSync: perDelta, catalogueChangesInWindow: catalogueChanges, ownEditsInWindow: editsPerDevice },
      day: { ...phaseNumbers(day), predictedCpuSeconds: predicted, ratio: day.spent.ours / predicted, ratioWithoutForwarder: (day.spent.ours - day.spent.forwarder) / predicted },
      forwarder: { changes: forwarded, passes: passes.length - passesBefore, cpuSeconds: forwarderCpu, cpuSecondsPerChange: forwarderCpu / Math.max(1, forwarded), localNodeCpuSeconds: (local.user + local.system) / 1e6, expected: expected.length, missing: lost },
      deviceDayCpuSeconds: deviceDay,
    };
    console.log(JSON.stringify({ fleet: raw }));
    console.log(`fleet model done in ${elapsed()}`);
    const errors = [full, edit, delta, day].reduce((n, p) => n + Object.values(p.tally.errors).reduce((a, b) => a + b, 0), 0);
    if (errors > 0 || lost > 0 || subscriberErrors.length > 0) throw new Error(`the fleet model's requests failed (${errors}) or live changes went missing (${lost}): its figures are not to be used`);
  } finally {
    for (const s of subscribers) s.close();
    await server?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await sql.end();
    await db.drop();
    await embedded?.stop();
  }
}

/** A phase's raw numbers for the JSON line: its sums, and each round's cost per operation. */
function poolNumbers(p: Pooled): Record<string, unknown> {
  return { ...p.tally, cpuSeconds: p.ours, wallSeconds: p.wallSeconds, nodeCpuSeconds: p.nodeCpuSeconds, cpuSecondsPerOperationByRound: p.perOperation };
}

/** The day's raw numbers for the JSON line. */
function phaseNumbers(m: Measured): Record<string, unknown> {
  return { ...m.tally, cpuSeconds: m.spent.ours, wallSeconds: m.spent.wallSeconds, forwarderCpuSeconds: m.spent.forwarder, backgroundCpuSeconds: m.spent.background, exitedCpuSeconds: m.spent.exited, otherDatabasesCpuSeconds: m.spent.otherDatabases, nodeCpuSeconds: m.nodeCpuSeconds, otherProcessesCpuSeconds: m.elsewhere };
}
