// `npm run dev` on its own: embedded Postgres, migrations, seed, the endpoint; Ctrl-C leaves nothing behind.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { isAlive } from '@datastore-pg/testing/process';

const ROOT = join(__dirname, '../../..');

test('starts the API, serves the seed data, and stops cleanly on SIGINT', async () => {
  const dev = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'packages/local-appsync/src/dev.ts'), '--port', '0', '--data', 'dev-postgres-test'], {
    cwd: ROOT,
    env: { ...process.env, DATABASE_URL: '', LOG_LEVEL: 'silent' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const ready = new Promise<{ url: string; apiKey: string }>((resolve, reject) => {
    createInterface({ input: dev.stdout! }).on('line', (line) => {
      lines.push(line);
      const url = lines.join('\n').match(/GraphQL\s+(http:\/\/\S+)/)?.[1];
      const apiKey = lines.join('\n').match(/API key\s+(\S+)/)?.[1];
      if (url && apiKey) resolve({ url, apiKey });
    });
    dev.once('exit', (code) => reject(new Error(`dev exited with ${code}:\n${lines.join('\n')}`)));
  });
  const { url, apiKey } = await ready;
  const dataDir = lines.join('\n').match(/embedded PostgreSQL 15 on \S+ \((.+)\)/)![1]!;
  const postgresPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  expect(isAlive(postgresPid)).toBe(true);

  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': apiKey }, body: JSON.stringify({ query: '{ syncCustomers(lastSync: 0) { items { name } } }' }) });
  expect(await response.json()).toEqual({ data: { syncCustomers: { items: [{ name: 'Northwind Water' }] } } });

  dev.kill('SIGINT');
  await new Promise((done) => dev.once('exit', done));
  expect(isAlive(postgresPid)).toBe(false);
}, 60_000);
