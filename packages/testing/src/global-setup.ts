// Jest global setup: one PostgreSQL for the whole run (DATABASE_URL, or an embedded one), and one
// template database migrated once, which each test file clones.
import { connect } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { createDatabase, databaseName, dropLeftoverDatabases, urlForDatabase } from './databases';
import { startEmbeddedPostgres, type RunningPostgres } from './embedded-postgres';
import { ENV } from './harness';

declare global {
  // Read back by global-teardown.ts (Jest keeps globals from setup to teardown).
  var __dspgEmbeddedPostgres: RunningPostgres | undefined;
}

export default async function globalSetup(): Promise<void> {
  let serverUrl = process.env.DATABASE_URL;
  if (!serverUrl) {
    globalThis.__dspgEmbeddedPostgres = await startEmbeddedPostgres({ name: 'test-postgres', log: (line) => console.log(`\n${line}`) });
    serverUrl = globalThis.__dspgEmbeddedPostgres.url;
  }
  await dropLeftoverDatabases(serverUrl);

  const template = databaseName(process.pid, 'template');
  await createDatabase(serverUrl, template);
  const sql = connect(urlForDatabase(serverUrl, template), { max: 1 });
  try {
    await migrate(sql, migrations);
  } finally {
    await sql.end();
  }

  process.env[ENV.serverUrl] = serverUrl;
  process.env[ENV.template] = template;
  process.env[ENV.runPid] = String(process.pid);
}
