// What every throwaway PostgreSQL of the tests needs, whoever starts it (the embedded server of
// embedded-postgres.ts, the primary and standby of streaming-replica.ts): a folder the server may use,
// a free port, and a way to stop a server that a killed run left behind.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { isAlive } from './process';

const REPO_ROOT = resolve(__dirname, '../../..');

/**
 * .data/<name> in the repository. Run as root, Postgres runs as the `postgres` user, which must be able
 * to reach the folder; a repository under a private home (/root is 0700) cannot be, so fall back to a
 * folder in the system temp dir.
 */
export function dataDirFor(name: string): string {
  const inRepo = join(REPO_ROOT, '.data', name);
  if (userInfo().uid !== 0 || othersCanTraverse(REPO_ROOT)) return inRepo;
  return join(tmpdir(), `datastore-pg-${Buffer.from(REPO_ROOT).toString('base64url').slice(-24)}`, name);
}

function othersCanTraverse(path: string): boolean {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dirname(dir) === dir) return true;
  }
}

/** The first line of a pid file (postmaster.pid, an owner file), if it names a pid. */
export function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number.parseInt(readFileSync(file, 'utf8').split('\n')[0] ?? '', 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** Stops a postmaster by pid: a fast shutdown, then SIGKILL if it is still there after 10 s. */
export async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  for (let waited = 0; isAlive(pid); waited += 100) {
    if (waited >= 10_000) {
      process.kill(pid, 'SIGKILL');
      break;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no free port'))));
    });
  });
}
