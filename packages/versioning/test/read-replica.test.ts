// Full and base syncs from a read replica (replica.ts), against a real streaming replica: a primary and
// a hot standby of this file's own, started from the embedded binaries whatever DATABASE_URL says. The
// handler connects to both as a runtime user (a member of datastore_runtime), as it does deployed.
import { randomBytes } from 'node:crypto';
import { closeSharedConnection, connect, type Sql } from '@datastore-pg/db';
import { models } from '@datastore-pg/schema/models';
import { withAdmin } from '@datastore-pg/testing';
import { useStreamingReplica } from '@datastore-pg/testing/replica';
import { modelResolver, REPLICA_WAIT_MS, type ReplicaOptions, type RequestOutcome, type Resolver } from '../src';

const pair = useStreamingReplica();
const model = models.Customer;
const role = `dspg_app_${randomBytes(4).toString('hex')}`;
const password = randomBytes(16).toString('hex');
const pools: Sql[] = [];

beforeAll(async () => {
  // Made on the primary, so the standby has the role too (it replays everything, roles included).
  await withAdmin(pair.primary.url, (sql) => sql.unsafe(`create role ${role} login password '${password}' in role datastore_runtime`));
  await pair.caughtUp();
});

afterEach(() => closePools());

interface Page {
  items: { id: string; name: string; _version: number }[];
  nextToken: string | null;
  startedAt: number;
}

function runtimeUrl(server: 'primary' | 'standby'): string {
  const url = new URL(pair[server].url);
  url.username = role;
  url.password = password;
  return url.toString();
}

/** A pool on the primary or the standby, as the runtime user, named so that its sessions can be told apart; closed after the test. */
function open(server: 'primary' | 'standby', name: string): Sql {
  const pool = connect(runtimeUrl(server), { max: 1, applicationName: name });
  pools.push(pool);
  return pool;
}

/** The replica option of a handler: one pool, on the standby (or, to be refused, on the primary). */
function replicaOn(server: 'primary' | 'standby', name: string, onConnectionLost?: () => void): ReplicaOptions {
  const pool = open(server, name);
  return { connection: () => pool, onConnectionLost };
}

function resolver(writer: Sql, reader: ReplicaOptions | null): Resolver {
  return modelResolver(model, {}, { connection: () => writer, reader });
}

async function call<T = Page>(resolve: Resolver, fieldName: string, args: Record<string, unknown>): Promise<{ data: T; outcome: RequestOutcome }> {
  const outcome: RequestOutcome = {};
  const parentTypeName = /^(sync|get)/.test(fieldName) ? 'Query' : 'Mutation';
  const { data } = await resolve({ arguments: args, identity: null, info: { fieldName, parentTypeName } }, outcome);
  return { data: data as T, outcome };
}

/** Pages through a sync as DataStore does, with where each page was read. */
async function syncAll(resolve: Resolver, lastSync: number, limit = 1000) {
  const pages: { page: Page; outcome: RequestOutcome }[] = [];
  let nextToken: string | null = null;
  do {
    const { data, outcome }: { data: Page; outcome: RequestOutcome } = await call(resolve, 'syncCustomers', { lastSync, limit, nextToken, filter: null });
    pages.push({ page: data, outcome });
    nextToken = data.nextToken;
  } while (nextToken !== null);
  return {
    items: pages.flatMap((p) => p.page.items),
    replica: pages.map((p) => p.outcome.replica),
    waitedMs: pages.map((p) => p.outcome.replicaWaitMs),
    startedAt: pages.at(-1)!.page.startedAt,
    pages,
  };
}

async function addCustomers(...names: string[]): Promise<string[]> {
  const rows = await withAdmin(pair.primary.url, (sql) => sql<{ id: string }[]>`insert into customers ${sql(names.map((name) => ({ name })))} returning id`);
  return rows.map((r) => r.id);
}

/**
 * Commits a transaction on the primary, which writes out all WAL before its commit record. An open
 * transaction's changes wait in the WAL buffers until then (or until the WAL writer's next round, up to
 * seconds on an idle server): the replica cannot replay them, and a sync's position lies beyond them.
 * A busy writer commits all the time; this one needs a nudge.
 */
const flushWal = () => withAdmin(pair.primary.adminUrl, (sql) => sql`select pg_current_xact_id()`);

const onStandby = <T>(fn: (sql: Sql) => Promise<T>) => withAdmin(pair.standby.adminUrl, fn);

async function pauseReplay(): Promise<void> {
  await onStandby(async (sql) => {
    await sql`select pg_wal_replay_pause()`;
    await until(async () => (await sql<{ state: string }[]>`select pg_get_wal_replay_pause_state() as state`)[0]!.state === 'paused');
  });
}

const resumeReplay = () => onStandby((sql) => sql`select pg_wal_replay_resume()`);

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !(await check());) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((done) => setTimeout(done, 20));
  }
}

// timeout 0: end() of postgres.js 3.4.9 waits forever for a connection that was lost while reserved
// (db/src/transaction.ts leaves it to the pool, which reconnects it on demand but never ends it).
async function closePools(): Promise<void> {
  await Promise.all(pools.splice(0).map((pool) => pool.end({ timeout: 0 })));
}

// A backend's statistics reach the shared counters when it exits, at the latest: read once every other
// session of the app database has ended, the counters are complete.
const othersEnded = (sql: Sql) => until(async () => (await sql<{ n: number }[]>`
  select count(*)::int as n from pg_stat_activity
   where datname = 'app' and pid <> pg_backend_pid() and backend_type = 'client backend'`)[0]!.n === 0);

/** Scans of the customers table a server has counted. */
async function scans(server: 'primary' | 'standby'): Promise<number> {
  return withAdmin(pair[server].url, async (sql) => {
    await othersEnded(sql);
    const [table] = await sql<{ scans: number }[]>`
      select coalesce(seq_scan, 0) + coalesce(idx_scan, 0) as scans from pg_stat_user_tables where schemaname = 'public' and relname = 'customers'`;
    return table!.scans;
  });
}

/** Sessions and transactions a server has counted in the app database (read from another database, not to count itself). */
async function activity(server: 'primary' | 'standby'): Promise<{ sessions: number; transactions: number }> {
  return withAdmin(pair[server].adminUrl, async (sql) => {
    await othersEnded(sql);
    const [database] = await sql<{ sessions: number; transactions: number }[]>`
      select sessions, xact_commit + xact_rollback as transactions from pg_stat_database where datname = 'app'`;
    return database!;
  });
}

test('the pages of a full and of a base sync are read on the replica, none on the writer', async () => {
  // 1. five customers, replayed  2. a full sync in three pages and a base sync, through a writer and a
  // reader of their own  3. once those sessions have ended, the standby has counted a scan of customers
  // for each page, the primary none (the writer fixed the windows; it never read the table).
  const ids = await addCustomers('Ada', 'Brunel', 'Curie', 'Darwin', 'Euler');
  await pair.caughtUp();
  const [primaryBefore, standbyBefore] = [await scans('primary'), await scans('standby')];
  const writer = open('primary', 'full-sync writer');
  const reader = open('standby', 'full-sync reader');
  const resolve = resolver(writer, { connection: () => reader });

  const full = await syncAll(resolve, 0, 2);
  const base = await syncAll(resolve, 1); // lastSync long before the delta TTL: the base table, from lastSync on

  expect(full.items.map((i) => i.id)).toEqual(expect.arrayContaining(ids));
  expect(full.replica).toEqual(['replica', 'replica', 'replica']);
  expect(base.items.map((i) => i.id)).toEqual(expect.arrayContaining(ids));
  expect(base.replica).toEqual(['replica']);
  await closePools();
  expect((await scans('standby')) - standbyBefore).toBeGreaterThanOrEqual(4);
  expect((await scans('primary')) - primaryBefore).toBe(0);
});

test('a handler with no options takes the replica from the environment: DATABASE_READER_URL beside DATABASE_URL', async () => {
  const saved = { DATABASE_URL: process.env.DATABASE_URL, DATABASE_READER_URL: process.env.DATABASE_READER_URL };
  Object.assign(process.env, { DATABASE_URL: runtimeUrl('primary'), DATABASE_READER_URL: runtimeUrl('standby') });
  try {
    const resolve = modelResolver(model);
    const { items, replica } = await syncAll(resolve, 0);
    expect(replica).toEqual(['replica']);
    expect(items.length).toBeGreaterThan(0);
  } finally {
    await closeSharedConnection();
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test('a page read on the replica is the replica\'s: later pages keep its state while replay is paused', async () => {
  // 1. a full sync's first page  2. replay pauses; a customer on its last page is renamed on the writer
  // 3. the last page still has the old name: only the replica can have answered it  4. replay resumes:
  // the rename, after the sync's window, reaches the device with its next sync (a delta, on the writer).
  const names = ['Fermat', 'Gauss', 'Hilbert'];
  const ids = await addCustomers(...names);
  await pair.caughtUp();
  const resolve = resolver(open('primary', 'paused writer'), replicaOn('standby', 'paused reader'));
  const [lastId] = [...ids].sort().slice(-1);
  const lastName = names[ids.indexOf(lastId!)];
  const first = await call(resolve, 'syncCustomers', { lastSync: 0, limit: 1, filter: null });
  expect(first.outcome.replica).toBe('replica');
  await pauseReplay();
  try {
    await withAdmin(pair.primary.url, (sql) => sql`update customers set name = 'Renamed on the writer' where id = ${lastId!}`);
    let { nextToken } = first.data;
    const seen = [...first.data.items];
    while (nextToken !== null) {
      const page = await call(resolve, 'syncCustomers', { lastSync: 0, limit: 50, nextToken, filter: null });
      expect(page.outcome.replica).toBe('replica');
      seen.push(...page.data.items);
      nextToken = page.data.nextToken;
    }
    expect(seen.find((i) => i.id === lastId)).toMatchObject({ name: lastName, _version: 1 });

    await resumeReplay();
    const next = await call(resolve, 'syncCustomers', { lastSync: first.data.startedAt, limit: 1000, filter: null });
    expect(next.outcome).toMatchObject({ syncMode: 'delta' });
    expect(next.outcome.replica).toBeUndefined();
    expect(next.data.items).toContainEqual(expect.objectContaining({ id: lastId, name: 'Renamed on the writer', _version: 2 }));
  } finally {
    await resumeReplay();
  }
});

test('a change committed just before a sync starts is returned: the page waits for the replica to replay it', async () => {
  // 1. replay pauses  2. a customer is committed on the writer  3. a full sync starts; replay resumes
  // 150 ms later  4. the page was read on the replica, after waiting, and has the customer.
  const resolve = resolver(open('primary', 'waiting writer'), replicaOn('standby', 'waiting reader'));
  await pauseReplay();
  try {
    const [id] = await addCustomers('Just before the sync');
    const started = Date.now();
    const syncing = syncAll(resolve, 0);
    await new Promise((done) => setTimeout(done, 150));
    await resumeReplay();
    const { items, replica, waitedMs } = await syncing;

    expect(items.map((i) => i.id)).toContain(id);
    expect(replica).toEqual(['replica']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(waitedMs[0]).toBeGreaterThan(0);
  } finally {
    await resumeReplay();
  }
});

test('a replica that stays behind: the page is read on the writer after the wait, then without waiting', async () => {
  // 1. replay pauses  2. a customer is committed  3. a full sync waits REPLICA_WAIT_MS, then reads on the
  // writer: the customer is there  4. the next sync tries the replica once, without waiting  5. replay
  // resumes: pages are read on the replica again.
  const resolve = resolver(open('primary', 'behind writer'), replicaOn('standby', 'behind reader'));
  await pauseReplay();
  try {
    const [id] = await addCustomers('Committed while the replica lags');
    let started = Date.now();
    const behind = await syncAll(resolve, 0);
    expect(behind.items.map((i) => i.id)).toContain(id);
    expect(behind.replica).toEqual(['behind']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(REPLICA_WAIT_MS);
    expect(behind.waitedMs[0]).toBeGreaterThanOrEqual(REPLICA_WAIT_MS - 50);

    started = Date.now();
    const again = await syncAll(resolve, 0);
    expect(again.items.map((i) => i.id)).toContain(id);
    expect(again.replica).toEqual(['behind']);
    expect(again.waitedMs).toEqual([0]);
    expect(Date.now() - started).toBeLessThan(REPLICA_WAIT_MS / 2);
  } finally {
    await resumeReplay();
  }
  await pair.caughtUp();
  expect((await syncAll(resolve, 0)).replica).toEqual(['replica']);
});

test('a transaction open on the writer during a sync from the replica reaches the device with its next sync', async () => {
  // The late-commit trap (design.md §4) with the replica: 1. a transaction inserts a customer and stays
  // open  2. a full sync reads on the replica: the row is not there, and startedAt stays below its stamp
  // 3. the transaction commits  4. the next sync (a delta, on the writer) returns it.
  const resolve = resolver(open('primary', 'late writer'), replicaOn('standby', 'late reader'));
  const erpPool = connect(pair.primary.url, { max: 1 });
  const erp = await erpPool.reserve();
  try {
    await erp`begin`;
    const [row] = await erp<{ id: string; stamp: number }[]>`insert into customers (name) values ('Late Commit Ltd') returning id, _last_changed_at as stamp`;
    await new Promise((done) => setTimeout(done, 20));
    await flushWal();

    const during = await syncAll(resolve, 0);
    expect(during.replica).toEqual(['replica']);
    expect(during.items.map((i) => i.id)).not.toContain(row!.id);
    expect(during.startedAt).toBeLessThan(row!.stamp);

    await erp`commit`;
    const after = await call(resolve, 'syncCustomers', { lastSync: during.startedAt, limit: 1000, filter: null });
    expect(after.outcome).toMatchObject({ syncMode: 'delta' });
    expect(after.data.items).toContainEqual(expect.objectContaining({ id: row!.id, name: 'Late Commit Ltd' }));
  } finally {
    erp.release();
    await erpPool.end();
  }
});

test('a delta sync, a get and writes never reach the replica', async () => {
  // The standby counts no session and no transaction in the app database while they run through a
  // handler that has a reader; a full sync through the same handler then does.
  const { startedAt } = await syncAll(resolver(open('primary', 'seed writer'), null), 0);
  await closePools();
  const before = await activity('standby');
  const writer = open('primary', 'writes writer');
  const reader = open('standby', 'writes reader');
  const resolve = resolver(writer, { connection: () => reader });

  const { data: created } = await call<{ id: string; _version: number }>(resolve, 'createCustomer', { input: { name: 'Written' } });
  await call(resolve, 'updateCustomer', { input: { id: created.id, _version: 1, name: 'Rewritten' } });
  expect((await call(resolve, 'getCustomer', { id: created.id })).data).toMatchObject({ name: 'Rewritten', _version: 2 });
  const delta = await call(resolve, 'syncCustomers', { lastSync: startedAt, limit: 1000, filter: null });
  expect(delta.outcome).toMatchObject({ syncMode: 'delta' });
  expect(delta.data.items).toContainEqual(expect.objectContaining({ id: created.id, name: 'Rewritten' }));
  await call(resolve, 'deleteCustomer', { input: { id: created.id, _version: 2 } });
  await closePools();
  expect(await activity('standby')).toEqual(before);

  const control = resolver(open('primary', 'control writer'), replicaOn('standby', 'control reader'));
  expect((await syncAll(control, 0)).replica).toEqual(['replica']);
});

test('an idle writer whose WAL ends at a page boundary: the replica is caught up, no wait', async () => {
  // The writer's insert position then points past the next page's header, which the replica never
  // "replays" until more WAL comes (seen here: 8 s and counting); the cursor's position is the page start.
  const pageStart = await withAdmin(pair.primary.adminUrl, async (sql) => {
    await until(async () => {
      const [{ offset }] = await sql<[{ offset: number }]>`select ((pg_current_wal_insert_lsn() - '0/0') % 8192)::int as offset`;
      if (offset === 24) return true;
      // A non-transactional message takes 55 bytes more than its text, aligned to 8: this one ends the
      // page exactly, or (a page nearly full) moves on to the next one.
      const left = 8192 - offset;
      await sql`select pg_logical_emit_message(false, 'p', repeat('x', ${left >= 256 + 60 ? left - 60 : 400}))`;
      return false;
    });
    return (await sql<[{ lsn: string }]>`select (pg_current_wal_insert_lsn() - 24)::text as lsn`)[0].lsn;
  });
  // Everything written is replayed (the WAL writer sends the message out on its own), and no more comes.
  await onStandby((sql) => until(async () => (await sql<[{ ok: boolean }]>`select pg_last_wal_replay_lsn() >= ${pageStart}::pg_lsn as ok`)[0].ok));
  const resolve = resolver(open('primary', 'boundary writer'), replicaOn('standby', 'boundary reader'));
  const { replica, waitedMs } = await syncAll(resolve, 0);
  expect(replica).toEqual(['replica']);
  expect(waitedMs).toEqual([0]); // the replica was caught up at the first look
});

test('a reader that is not a standby is not read: the writer answers', async () => {
  // (an Aurora reader endpoint of a cluster without readers leads to the writer; so may a misconfiguration)
  const writer = open('primary', 'not-standby writer');
  const resolve = resolver(writer, replicaOn('primary', 'not-standby reader'));
  const { items, replica } = await syncAll(resolve, 0);
  expect(replica).toEqual(['not-standby']);
  expect(items).toEqual((await syncAll(resolver(writer, null), 0)).items);
});

test('a token without a WAL position (an older handler\'s, a writer-only stage\'s) is answered by the writer', async () => {
  const writer = open('primary', 'token writer');
  const first = await call(resolver(writer, null), 'syncCustomers', { lastSync: 0, limit: 2, filter: null });
  expect(JSON.parse(Buffer.from(first.data.nextToken!.split('.')[0]!, 'base64url').toString())).not.toHaveProperty('lsn');
  const withReader = resolver(writer, replicaOn('standby', 'token reader'));
  const second = await call(withReader, 'syncCustomers', { lastSync: 0, limit: 2, nextToken: first.data.nextToken, filter: null });
  expect(second.outcome.replica).toBeUndefined();
  expect(second.data.items).toHaveLength(2);
  expect(second.data.items[0]!.id > first.data.items[1]!.id).toBe(true);
});

test('a writer that cannot report its WAL position (Aurora) keeps every page to itself', async () => {
  // Aurora answers pg_current_wal_* with feature_not_supported; here the runtime user loses the right
  // to call the function (42501): the handler stops taking the position and serves from the writer.
  await withAdmin(pair.primary.url, (sql) => sql`revoke execute on function pg_current_wal_insert_lsn() from public`);
  try {
    const resolve = resolver(open('primary', 'no-wal writer'), replicaOn('standby', 'no-wal reader'));
    const first = await syncAll(resolve, 0, 2);
    expect(first.replica.every((r) => r === undefined)).toBe(true);
    expect(first.items.length).toBeGreaterThan(5);
    expect(first.pages.length).toBeGreaterThan(1);
  } finally {
    await withAdmin(pair.primary.url, (sql) => sql`grant execute on function pg_current_wal_insert_lsn() to public`);
  }
});

test('a reader session killed in the middle of a page: the writer answers, the lost connection is reported', async () => {
  // 1. a transaction on the writer locks customers; the standby replays the lock, so the replica's page
  // waits for it  2. that reader session is killed  3. the page goes to the writer (which waits for the
  // lock too, until the transaction ends)  4. the lost connection was reported, for a new one next time.
  const writer = open('primary', 'killed writer');
  let lost = 0;
  const resolve = resolver(writer, replicaOn('standby', 'killed reader', () => lost++));
  const before = await syncAll(resolve, 0);
  expect(before.replica).toEqual(['replica']);
  const lockerPool = connect(pair.primary.url, { max: 1 });
  const locker = await lockerPool.reserve();
  try {
    await locker`begin`;
    await locker`lock table customers in access exclusive mode`;
    await flushWal();
    const syncing = syncAll(resolve, 0);
    await onStandby(async (sql) => {
      await until(async () => (await sql`select from pg_stat_activity where application_name = 'killed reader' and wait_event_type = 'Lock'`).length === 1);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'killed reader'`;
    });
    await new Promise((done) => setTimeout(done, 50));
    await locker`rollback`;
    const killed = await syncing;
    expect(killed.replica).toEqual(['failed']);
    expect(killed.items).toEqual(before.items);
    expect(lost).toBe(1);
  } finally {
    locker.release();
    await lockerPool.end();
  }
});

test('a replica that is down: the writer answers, and the next pages do not try it again for a while', async () => {
  const writer = open('primary', 'down writer');
  let lost = 0;
  const resolve = resolver(writer, replicaOn('standby', 'down reader', () => lost++));
  const before = await syncAll(resolve, 0);
  expect(before.replica).toEqual(['replica']);

  await pair.stopStandby();
  const down = await syncAll(resolve, 0);
  expect(down.replica).toEqual(['failed']);
  expect(down.items).toEqual(before.items);
  expect(lost).toBe(1);
  const started = Date.now();
  expect((await syncAll(resolve, 0)).replica).toEqual(['resting']);
  expect(Date.now() - started).toBeLessThan(200);
});
