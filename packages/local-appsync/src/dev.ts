// npm run dev: the whole API on this machine. Embedded PostgreSQL (or DATABASE_URL), migrations, a small
// seed, the local AppSync endpoint, the forwarder (every writer's changes, live to subscribers), the
// purge on a timer; Ctrl-C stops all of it.
//   npm run dev -- [--port 20002] [--lan] [--tls-cert cert.pem --tls-key key.pem] [--data dev-postgres]
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { parseArgs } from 'node:util';
import { closeSharedConnection, connect, type Sql } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { startEmbeddedPostgres, type RunningPostgres } from '@datastore-pg/testing/embedded';
import { loadDevCredentials } from './credentials';
import { seed } from './seed';
import { startLocalAppSync } from './server';

const PURGE_EVERY_MS = 60_000;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '20002' },
      lan: { type: 'boolean', default: false },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      data: { type: 'string', default: 'dev-postgres' }, // the embedded cluster's folder under .data/
    },
  });
  const log = (line: string) => console.log(line);
  let embedded: RunningPostgres | undefined;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({ name: values.data, keepData: true, log });
    databaseUrl = embedded.url;
  }
  const admin: Sql = connect(databaseUrl, { max: 2, applicationName: 'datastore-pg dev', onNotice: (m) => log(`notice: ${m}`) });
  const stop = async () => {
    clearInterval(purge);
    await server?.close();
    await closeSharedConnection();
    await admin.end();
    await embedded?.stop();
  };
  let server: Awaited<ReturnType<typeof startLocalAppSync>> | undefined;
  let purge: NodeJS.Timeout | undefined;
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
  try {
    await migrate(admin, migrations, { log });
    const seeded = await seed(admin);
    log(seeded > 0 ? `seeded ${seeded} rows` : 'seed data present');

    // The handlers run in this process and reach the database as a Lambda would: DATABASE_URL.
    process.env.DATABASE_URL = databaseUrl;
    process.env.DB_POOL_MAX ??= '10';
    const credentials = loadDevCredentials();
    const tls = values['tls-cert'] && values['tls-key'] ? { cert: readFileSync(values['tls-cert'], 'utf8'), key: readFileSync(values['tls-key'], 'utf8') } : undefined;
    server = await startLocalAppSync({
      credentials, port: Number(values.port), host: values.lan ? '0.0.0.0' : '127.0.0.1', tls,
      live: { databaseUrl, onError: (error) => log(`forwarder: ${error instanceof Error ? error.message : String(error)}`) },
    });
    // pg_cron is not in embedded Postgres: purge here, as the schedule would.
    purge = setInterval(() => void admin`call versioning.purge()`.catch((error: Error) => log(`purge failed: ${error.message}`)), PURGE_EVERY_MS);

    const lanUrls = values.lan ? lanAddresses().map((ip) => server!.url.replace('127.0.0.1', ip)) : [];
    log(`
datastore-pg is serving the API locally.

  GraphQL   ${server.url}${lanUrls.map((u) => `\n            ${u}`).join('')}
  Realtime  ${server.realtimeUrl}  (every writer's changes, SQL included, within about a second)
  API key   ${credentials.apiKey}

Point an Amplify app at it (Amplify.configure):
  { API: { GraphQL: { endpoint: '${lanUrls[0] ?? server.url}', region: 'local', defaultAuthMode: 'apiKey', apiKey: '${credentials.apiKey}' } } }
Amplify connects its realtime socket to wss://<host>/graphql/realtime: on a phone, run with --lan and
--tls-cert/--tls-key; in Node, give it a WebSocket that maps wss:// to ws:// for this host.
Owner-ruled models (WorkOrder, WorkLog) need a user: \`npm run dev:token -- tech-1\` prints a token to
send as the Authorization header (dispatchers: \`npm run dev:token -- dispatch --groups Dispatchers\`).

Ctrl-C stops the API and the database.`);
  } catch (error) {
    await stop();
    throw error;
  }
}

function lanAddresses(): string[] {
  return Object.values(networkInterfaces()).flat().filter((i) => i && i.family === 'IPv4' && !i.internal).map((i) => i!.address);
}

main().catch((error: unknown) => {
  console.error(`dev failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
