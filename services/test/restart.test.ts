// A real PostgreSQL restart: the handler's connection dies with the server. A request made while the
// server is down is retried inside the handler (DataStore would drop a mutation answered Unavailable)
// and succeeds on a new connection once the server is back, within the retry budget.
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { models } from '@datastore-pg/schema/models';
import { modelResolver } from '@datastore-pg/versioning';

const FIXTURE = join(__dirname, '../../packages/testing/test/fixtures/embedded-server.ts');

// Its own folder under .data/, removed at the end.
const NAME = `restart-test-${process.pid}`;

function startServer(port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, NAME, '--keep', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = new Promise<{ url: string; logs: string[] }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, started, stop: () => new Promise((done) => { child.once('exit', done); child.kill('SIGTERM'); }) };
}

const freePort = () => new Promise<number>((resolve) => {
  const probe = createServer().listen(0, '127.0.0.1', () => {
    const { port } = probe.address() as { port: number };
    probe.close(() => resolve(port));
  });
});

test('a request made while the database restarts is answered once it is back', async () => {
  const port = await freePort();
  const first = startServer(port);
  const { url } = await first.started;
  const sql = connect(url, { max: 1 });
  try {
    await migrate(sql, migrations);
    let lost = 0;
    const resolve = modelResolver(models.Customer, {}, { connection: () => sql, onConnectionLost: () => lost++ });
    const sync = () => resolve({ arguments: { lastSync: 0 }, identity: null, info: { fieldName: 'syncCustomers', parentTypeName: 'Query' } });
    await resolve({ arguments: { input: { name: 'Before the restart' } }, identity: null, info: { fieldName: 'createCustomer', parentTypeName: 'Mutation' } });
    expect(((await sync()).data as { items: unknown[] }).items).toHaveLength(1);

    await first.stop(); // 1. the server goes down (its data stays)
    const during = sync(); // 2. a request arrives while it is down: its attempts are refused and retried
    const second = startServer(port); // 3. the server comes back on the same port
    const { logs } = await second.started;
    const dataDir = logs.join('\n').match(/\((\/[^)]+)\)/)![1]!;
    try {
      // 4. the request made during the outage answers, with the row written before the restart
      expect(((await during).data as { items: { name: string }[] }).items).toEqual([expect.objectContaining({ name: 'Before the restart' })]);
      expect(lost).toBeGreaterThan(0);
      // 5. and the next request is served too
      expect(((await sync()).data as { items: unknown[] }).items).toHaveLength(1);
    } finally {
      await sql.end();
      await second.stop();
      for (const path of [dataDir, `${dataDir}.password`, `${dataDir}.owner`]) rmSync(path, { recursive: true, force: true });
    }
  } finally {
    first.child.kill('SIGKILL');
  }
}, 60_000);
