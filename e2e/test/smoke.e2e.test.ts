import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeSharedConnection } from '@datastore-pg/db';
import { writeClientModels } from '@datastore-pg/codegen';
import { newDevCredentials, startLocalAppSync, type LocalAppSync } from '@datastore-pg/local-appsync';
import { useTestDatabase } from '@datastore-pg/testing';
import { Device } from './devices';

const db = useTestDatabase();
const credentials = newDevCredentials();
const modelsDir = join(__dirname, '../../.data', `e2e-models-${process.pid}`);
let server: LocalAppSync;

beforeAll(async () => {
  mkdirSync(modelsDir, { recursive: true });
  await writeClientModels(modelsDir);
  process.env.DATABASE_URL = db.url;
  server = await startLocalAppSync({ credentials });
}, 60_000);

afterAll(async () => {
  await server?.close();
  await closeSharedConnection();
});

test('smoke', async () => {
  await db.sql`insert into customers (name) select 'Customer ' || g from generate_series(1, 5) g`;
  const device = await Device.launch('a', { endpoint: server.url, apiKey: credentials.apiKey, modelsDir });
  try {
    await device.start();
    const customers = await device.query('Customer');
    expect(customers).toHaveLength(5);
  } finally {
    await device.close();
  }
}, 60_000);
void writeFileSync;
