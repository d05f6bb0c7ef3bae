// `npm run dev` on its own: embedded Postgres, migrations, seed, the endpoint, live changes from plain SQL;
// Ctrl-C leaves nothing behind.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from '@datastore-pg/db';
import { isAlive } from '@datastore-pg/testing/process';
import { realtimeClient } from './helpers';

const ROOT = join(__dirname, '../../..');

test('starts the API, serves the seed data, forwards an SQL change live, and stops cleanly on SIGINT', async () => {
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

  // A device subscribed over the printed realtime URL sees what psql would commit, without asking.
  const realtimeUrl = lines.join('\n').match(/Realtime\s+(ws:\/\/\S+)/)![1]!;
  const device = await realtimeClient(realtimeUrl, { 'x-api-key': apiKey });
  device.send({ type: 'connection_init' });
  await device.next((m) => m.type === 'connection_ack');
  expect(await device.subscribe('updates', 'subscription { onUpdateCustomer { name } }')).toEqual({ id: 'updates', type: 'start_ack' });
  const port = lines.join('\n').match(/embedded PostgreSQL 15 on 127\.0\.0\.1:(\d+)/)![1]!;
  const psql = connect(`postgres://postgres:${readFileSync(`${dataDir}.password`, 'utf8').trim()}@127.0.0.1:${port}/postgres`, { max: 1 });
  await psql`update customers set name = ${`Northwind Water ${process.pid}`} where name like 'Northwind Water%'`;
  await psql`update customers set name = 'Northwind Water' where name like 'Northwind Water%'`;
  await psql.end();
  expect(await device.next((m) => m.id === 'updates' && m.type === 'data')).toMatchObject({ payload: { data: { onUpdateCustomer: { name: expect.stringMatching(/^Northwind Water/) } } } });
  device.close();

  dev.kill('SIGINT');
  await new Promise((done) => dev.once('exit', done));
  expect(isAlive(postgresPid)).toBe(false);
}, 60_000);
