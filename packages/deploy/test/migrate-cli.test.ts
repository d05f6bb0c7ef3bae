// npm run migrate -- --stage: the stage's endpoint from SSM, the migration user with an IAM token, the
// stage's TTLs. AWS cannot exist here: SSM and the signer are stand-ins; the database is real.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@datastore-pg/db';
import { ENV, requireEnv, urlForDatabase, withAdmin } from '@datastore-pg/testing';
import { runMigrate, type MigrateDeps } from '../src/migrate-cli';

const serverUrl = () => requireEnv(ENV.serverUrl);
const suffix = randomBytes(4).toString('hex');
const role = `dspg_migrator_${suffix}`;
const database = `dspg_${requireEnv(ENV.runPid)}_stage_${suffix}`;
const token = randomBytes(24).toString('base64url');

beforeAll(async () => {
  await withAdmin(serverUrl(), async (sql) => {
    await sql.unsafe(`create role ${role} login password '${token}'`);
    await sql.unsafe(`create database ${database} owner ${role}`);
  });
});

afterAll(async () => {
  await withAdmin(serverUrl(), async (sql) => {
    await sql.unsafe(`drop database if exists ${database} with (force)`);
    await sql.unsafe(`drop role if exists ${role}`);
  });
});

test('migrates the stage database as its migration user with a signed token, then sets the stage TTLs', async () => {
  const server = new URL(serverUrl());
  const stagesPath = join(mkdtempSync(join(tmpdir(), 'dspg-stages-')), 'stages.json');
  writeFileSync(stagesPath, JSON.stringify({
    qa: { region: 'eu-central-1', ssmPrefix: '/datastore-pg/qa', databaseName: database, runtimeDbUser: 'datastore_app', migrationDbUser: role,
      memorySize: 512, logRetentionInDays: 7, apiKeyExpiresAfter: '7d', baseTableTTL: '7 days', deltaSyncTableTTL: '15 minutes' },
  }));
  const reads: string[] = [];
  const signed: unknown[] = [];
  const lines: string[] = [];
  const deps: MigrateDeps = {
    readParameter: async (name, region) => {
      reads.push(`${region}:${name}`);
      return `${server.hostname}:${server.port}`;
    },
    sign: async (endpoint) => {
      signed.push(endpoint);
      return token;
    },
    log: (line) => lines.push(line),
    stagesPath,
  };

  await runMigrate(['--stage', 'qa'], { DB_TLS: 'off' }, deps);

  expect(reads).toEqual(['eu-central-1:/datastore-pg/qa/db-endpoint']);
  expect(signed[0]).toEqual({ hostname: server.hostname, port: Number(server.port), username: role, region: 'eu-central-1' });
  expect(lines).toContainEqual(expect.stringMatching(/^applied 000001_versioning.sql in \d+ ms$/));
  expect(lines).toContainEqual('TTLs: tombstones 7 days, delta 15 minutes (6 table(s) changed)');
  const sql = connect(urlForDatabase(serverUrl(), database), { max: 1 });
  try {
    const ttls = await sql<{ base: string; delta: string }[]>`select distinct base_table_ttl::text as base, delta_sync_table_ttl::text as delta from versioning.models`;
    expect(ttls).toEqual([{ base: '7 days', delta: '00:15:00' }]);
    const [owner] = await sql<{ owner: string }[]>`select tableowner as owner from pg_tables where tablename = 'work_orders'`;
    expect(owner!.owner).toBe(role);
  } finally {
    await sql.end();
  }

  lines.length = 0;
  await runMigrate(['--stage=qa'], { DB_TLS: 'off' }, deps);
  expect(lines).toEqual(['migrating ' + database + ` on ${server.hostname} as ${role} (IAM)`, 'database is up to date', 'TTLs: tombstones 7 days, delta 15 minutes (0 table(s) changed)']);
});

test('refuses an unknown stage, naming the known ones', async () => {
  await expect(runMigrate(['--stage', 'prdo'], {}, { readParameter: async () => '', sign: async () => '', log: () => undefined }))
    .rejects.toThrow(/unknown stage "prdo": stages.json has dev, staging, prod/);
});

test('refuses a stage and DATABASE_URL together, connecting to neither', async () => {
  let reads = 0;
  const deps = { readParameter: async () => { reads++; return ''; }, sign: async () => '', log: () => undefined };
  await expect(runMigrate(['--stage', 'dev'], { DATABASE_URL: 'postgres://nowhere.invalid/db' }, deps)).rejects.toThrow(/both --stage and DATABASE_URL/);
  expect(reads).toBe(0);
});
