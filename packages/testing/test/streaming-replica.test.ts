import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { withAdmin } from '../src/databases';
import { isAlive } from '../src/process';
import { startStreamingReplica } from '../src/streaming-replica';

const PAIR_SCRIPT = resolve(__dirname, 'fixtures/replica-pair.ts');

test('a pair left by a killed run is stopped and removed by the next; a pair stopped normally leaves nothing', async () => {
  // 1. a run starts a primary and a standby, then is SIGKILLed: both servers live on  2. the next run
  // stops them and removes their folder before it starts its own  3. which stop() removes in turn.
  const child = spawn(process.execPath, ['--import', 'tsx', PAIR_SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killed = await new Promise<{ dir: string; primaryPid: number; standbyPid: number; error?: string }>((done, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => done(JSON.parse(line) as never));
    child.once('exit', (code) => fail(new Error(`pair fixture exited with ${code} before reporting`)));
  });
  expect(killed.error).toBeUndefined();
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
  expect(isAlive(killed.primaryPid) && isAlive(killed.standbyPid)).toBe(true);

  const next = await startStreamingReplica({ migrate: false });
  try {
    expect(isAlive(killed.primaryPid) || isAlive(killed.standbyPid)).toBe(false);
    expect(existsSync(killed.dir)).toBe(false);
    // The new pair streams: a table made on the primary is read on the standby.
    await withAdmin(next.primary.url, (sql) => sql`create table streamed as select 1 as n`);
    await next.caughtUp();
    await expect(withAdmin(next.standby.url, (sql) => sql`select n from streamed`)).resolves.toEqual([{ n: 1 }]);
  } finally {
    await next.stop();
  }
  expect(existsSync(dirname(next.primary.dataDir))).toBe(false);
}, 60_000);
