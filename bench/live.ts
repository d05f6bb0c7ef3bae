// P8: commit-to-device latency of live changes. Plain SQL writers change customers at a fixed rate; the
// local endpoint runs the forwarder in-process, as the stack's Lambda runs it, and one device listens on
// the realtime WebSocket. Latency is the time from a change's commit (when its autocommit statement
// returned to the writer) to its arrival at the device, both on this process's clock.
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { connect, type Sql } from '@datastore-pg/db';
import type { PassReport } from '@datastore-pg/forwarder';
import { newDevCredentials, startLocalAppSync, type LocalAppSync } from '@datastore-pg/local-appsync';
import type { Figure } from './measure';

/** The stack's forwarder Lambda polls the journals every 250 ms (packages/forwarder/src/lambda.ts). */
const INTERVAL_MS = 250;
/** Changes per second; only 100/s has a target, the others show how the curve bends. */
const RATES = [1, 100, 1000];
const WRITER_CONNECTIONS = 4;
/** Every row P8 writes is named so, and removed afterwards. */
const PREFIX = 'P8 ';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? NaN;
const ms = (value: number) => `${Math.round(value)} ms`;

interface Device {
  /** Arrival time (performance.now()) of the first message naming each row, by name. */
  received: Map<string, number>;
  /** Messages that arrived with errors. */
  errors: string[];
  /** Messages for a row already received (the forwarder publishes at least once). */
  repeats: number;
  close(): void;
}

/**
 * One device on AppSync's realtime protocol as Amplify v6 speaks it (aws-amplify api-graphql
 * AWSWebSocketProvider): subprotocols graphql-ws and header-<base64url JSON of the auth headers>,
 * connection_init -> connection_ack, start -> start_ack, then data.
 */
async function device(url: string, headers: Record<string, string>): Promise<Device> {
  const header = Buffer.from(JSON.stringify({ host: new URL(url).host, ...headers })).toString('base64url');
  const socket = new WebSocket(url, ['graphql-ws', `header-${header}`]);
  const received = new Map<string, number>();
  const errors: string[] = [];
  let repeats = 0;
  const waiting = new Map<string, (message: Record<string, any>) => void>();
  socket.on('message', (raw) => {
    const at = performance.now(); // before parsing: the time it reached the device
    const message = JSON.parse(String(raw)) as Record<string, any>;
    if (message.type === 'data') {
      if (message.payload?.errors) errors.push(JSON.stringify(message.payload.errors));
      const item = Object.values(message.payload?.data ?? {})[0] as { name?: string } | undefined;
      if (item?.name === undefined) return;
      if (received.has(item.name)) repeats++;
      else received.set(item.name, at);
      return;
    }
    const key = message.type === 'connection_ack' ? 'ack' : message.id;
    waiting.get(key)?.(message);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const answer = (key: string) => new Promise<Record<string, any>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`P8: the endpoint did not answer ${key}`)), 10_000);
    waiting.set(key, (message) => { clearTimeout(timer); waiting.delete(key); resolve(message); });
  });
  const ack = answer('ack');
  socket.send(JSON.stringify({ type: 'connection_init' }));
  await ack;
  for (const field of ['onCreateCustomer', 'onUpdateCustomer']) {
    const started = answer(field);
    const query = `subscription { ${field} { id name _version _lastChangedAt } }`;
    socket.send(JSON.stringify({ id: field, type: 'start', payload: { data: JSON.stringify({ query, variables: {} }), extensions: { authorization: headers } } }));
    const reply = await started;
    if (reply.type !== 'start_ack') throw new Error(`P8: subscribing to ${field} answered ${JSON.stringify(reply)}`);
  }
  return { received, errors, get repeats() { return repeats; }, close: () => socket.close() };
}

/**
 * P8's rows go when it is done (and before it starts, after a run that was killed), so that a later run
 * on the same database finds customers as P1–P5 expect them (P1 reads exactly --rows rows). A DELETE
 * only makes tombstones, kept for BaseTableTTL (30 days): the rows are deleted under a TTL of 1 ms, set
 * and restored in the same transaction (no other writer ever sees it), then purged as the purge job does.
 */
async function removeRows(sql: Sql): Promise<void> {
  await sql.begin(async (tx) => {
    const [model] = await tx<{ ttl: string }[]>`select base_table_ttl::text as ttl from versioning.models where base_table = 'customers'::regclass`;
    await tx`update versioning.models set base_table_ttl = '1 millisecond' where base_table = 'customers'::regclass`;
    await tx`delete from customers where name like ${`${PREFIX}%`}`;
    await tx`update versioning.models set base_table_ttl = ${model!.ttl}::interval where base_table = 'customers'::regclass`;
  });
  await sleep(10); // past the 1 ms
  for (;;) {
    const [{ n }] = (await sql`select versioning.purge_tombstones('customers', 10000) as n`) as unknown as [{ n: number }];
    if (n < 10000) break;
  }
}

interface RateResult {
  rate: number;
  sent: number;
  received: number;
  /** p99 of how long after its moment a change committed. */
  late: number;
  p50: number;
  p99: number;
  max: number;
  firstQuarter: number;
  lastQuarter: number;
  lagAtEnd: number;
  lagMax: number;
  drainMs: number;
}

/**
 * Changes at a fixed rate for a while, paced by schedule (change i is sent in its slot of 1/rate, however
 * long the ones before take; a pool of a few connections runs them side by side), half inserts of new
 * rows and half updates of rows made before the forwarder started, each row changed once: the forwarder
 * publishes the latest version of each row changed in a window, so a second change to a row in the same
 * window would arrive as one message.
 */
async function atRate(sql: Sql, probe: Sql, dev: Device, rate: number, seconds: number, pool: string[]): Promise<RateResult> {
  const total = Math.max(2, Math.round(rate * seconds));
  const committed = new Map<string, number>(); // name -> commit time
  const late: number[] = []; // how long after its moment each change committed: does the writer keep the rate?
  const order: string[] = [];
  const lags: number[] = [];
  let writing = true;
  // Where the forwarder stands: how far behind now its customers position is. Flat if it keeps up.
  const lagProbe = (async () => {
    while (writing) {
      const [row] = await probe<{ lag: number }[]>`
        select versioning.now_ms() - published_through as lag from versioning.forwarder_positions where base_table = 'customers'::regclass`;
      if (row) lags.push(row.lag);
      await sleep(INTERVAL_MS / 2);
    }
  })();
  const change = async (i: number, due: number) => {
    const name = `${PREFIX}${rate}/s ${i}`;
    order[i] = name;
    if (i % 2 === 0) await sql`insert into customers (name) values (${name})`;
    else await sql`update customers set name = ${name} where id = ${pool[(i - 1) / 2]!}`;
    const now = performance.now();
    committed.set(name, now);
    late.push(now - due);
  };
  const start = performance.now() + 20;
  const writes: Promise<void>[] = [];
  try {
    for (let i = 0; i < total; i++) {
      // Change i at a random moment of its 1/rate slot: the rate stays exact, and a change does not land
      // at the same moment of the forwarder's 250 ms cycle every time (at 1/s it otherwise would).
      const due = start + ((i + Math.random()) * 1000) / rate;
      const wait = due - performance.now();
      if (wait >= 1) await sleep(wait);
      writes.push(change(i, due));
    }
    await Promise.all(writes);
  } finally {
    writing = false;
    await lagProbe;
  }
  const [end] = await probe<{ lag: number }[]>`
    select versioning.now_ms() - published_through as lag from versioning.forwarder_positions where base_table = 'customers'::regclass`;
  // Every change must arrive. Wait while messages still come; give up after 5 s without one.
  const drainStart = performance.now();
  let seen = -1;
  let quietSince = performance.now();
  while (order.some((name) => !dev.received.has(name)) && performance.now() - quietSince < 5000) {
    if (dev.received.size !== seen) {
      seen = dev.received.size;
      quietSince = performance.now();
    }
    await sleep(20);
  }
  const drainMs = performance.now() - drainStart;
  const latencies = order.map((name) => (dev.received.has(name) ? dev.received.get(name)! - committed.get(name)! : NaN));
  const arrived = latencies.filter((l) => !Number.isNaN(l));
  const quarter = Math.max(1, Math.floor(total / 4));
  const median = (values: number[]) => percentile(values.filter((l) => !Number.isNaN(l)), 0.5);
  return {
    rate,
    sent: total,
    received: arrived.length,
    late: percentile(late, 0.99),
    p50: percentile(arrived, 0.5),
    p99: percentile(arrived, 0.99),
    max: Math.max(...arrived),
    firstQuarter: median(latencies.slice(0, quarter)),
    lastQuarter: median(latencies.slice(-quarter)),
    lagAtEnd: end?.lag ?? NaN,
    lagMax: Math.max(...lags, end?.lag ?? 0),
    drainMs,
  };
}

/**
 * P8 on the database at url: a local endpoint with the forwarder (polling every 250 ms, as the stack's
 * Lambda), one device subscribed with an API key, and plain SQL writers at 1, 100 and 1,000 changes/s.
 * Adds customers named 'P8 …' and removes them afterwards.
 */
export async function liveLatency(url: string, quick: boolean, record: (figure: Figure) => void): Promise<void> {
  const seconds = quick ? 4 : 30;
  const sql = connect(url, { max: WRITER_CONNECTIONS, applicationName: 'bench P8 writer' });
  const probe = connect(url, { max: 1, applicationName: 'bench P8 probe' });
  let server: LocalAppSync | undefined;
  let dev: Device | undefined;
  const forwarderErrors: unknown[] = [];
  /** Customers published by each pass. */
  const windows: number[] = [];
  const started = performance.now();
  try {
    await removeRows(sql);
    // The rows the updates change, one per update, made before the forwarder starts (so not published).
    const updates = RATES.map((rate) => Math.floor(Math.max(2, Math.round(rate * seconds)) / 2));
    const ids = (await sql<{ id: string }[]>`
      insert into customers (name) select ${`${PREFIX}row `} || g from generate_series(1, ${updates.reduce((a, b) => a + b)}) g returning id`).map((r) => r.id);
    // The forwarder keeps its positions in the database and starts from them. A position left by an
    // earlier run on this database would make the first pass publish every change since (the whole
    // bench, by then): a flood, not live changes. With none, it starts from now, as a new stack does.
    await sql`delete from versioning.forwarder_positions`;
    const credentials = newDevCredentials();
    const live = {
      databaseUrl: url,
      intervalMs: INTERVAL_MS,
      onError: (error: unknown) => forwarderErrors.push(error),
      onPass: (report: PassReport) => windows.push(report.published.Customer ?? 0),
    };
    server = await startLocalAppSync({ credentials, live });
    dev = await device(server.realtimeUrl, { 'x-api-key': credentials.apiKey });
    console.log(`      P8 setup: local endpoint, forwarder polling every ${INTERVAL_MS} ms (as the stack's Lambda), one device (API key) on onCreateCustomer and onUpdateCustomer; plain SQL on ${WRITER_CONNECTIONS} connections, half inserts, half updates, each row changed once; ${seconds} s a rate`);
    let offset = 0;
    for (const [i, rate] of RATES.entries()) {
      const passesBefore = windows.length;
      const r = await atRate(sql, probe, dev, rate, seconds, ids.slice(offset, offset + updates[i]!));
      offset += updates[i]!;
      const passes = windows.slice(passesBefore);
      const complete = r.received === r.sent;
      // Flat: the last quarter's changes waited no longer than the first quarter's, give or take one
      // polling interval, and at the end the forwarder's position was less than 1 s (4 intervals) behind.
      const flat = complete && r.lastQuarter - r.firstQuarter < INTERVAL_MS && r.lagAtEnd < 4 * INTERVAL_MS;
      const backlog = `backlog ${flat ? 'flat' : 'GROWING'} (median latency first quarter ${ms(r.firstQuarter)}, last ${ms(r.lastQuarter)}; forwarder position ${ms(r.lagAtEnd)} behind now at the end)`;
      const figure: Figure = {
        id: 'P8',
        measure: `commit-to-device latency of live changes at ${rate.toLocaleString('en-US')} change${rate === 1 ? '' : 's'}/s (plain SQL, ${r.sent} changes in ${seconds} s; forwarder every ${INTERVAL_MS} ms, local endpoint, one realtime device)`,
        value: `p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; ${r.received}/${r.sent} received${complete ? '' : ` (MISSING ${r.sent - r.received}, waited ${ms(r.drainMs)} for them)`}; ${backlog}`,
      };
      record(rate === 100
        ? { ...figure, target: 'p50 ≤ 1 s, p99 ≤ 2 s, every change received', met: complete && r.p50 <= 1000 && r.p99 <= 2000 }
        : figure);
      console.log(`      at ${rate}/s: changes committed ${ms(r.late)} after their moment (p99), latency max ${ms(r.max)}; forwarder position at most ${ms(r.lagMax)} behind now while writing; ${passes.length} passes, the largest published ${Math.max(0, ...passes)} customers`);
    }
    if (dev.errors.length > 0 || dev.repeats > 0) console.log(`      P8: ${dev.repeats} messages repeated a row already received; ${dev.errors.length} with errors${dev.errors[0] ? `, first: ${dev.errors[0]}` : ''}`);
    if (forwarderErrors.length > 0) console.log(`      P8: the forwarder reported ${forwarderErrors.length} failed passes, first: ${String(forwarderErrors[0])}`);
  } finally {
    dev?.close();
    await server?.close();
    await removeRows(sql).catch((error: unknown) => console.error(`P8: could not remove its rows: ${String(error)}`));
    await sql.end();
    await probe.end();
    console.log(`      P8 took ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}
