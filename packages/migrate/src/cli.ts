// npm run migrate: applies the bundled migrations to DATABASE_URL and prints what it applies.
import { connect, databaseUrlFromEnv } from '@datastore-pg/db';
import { migrate, migrations } from './index';

async function main(): Promise<void> {
  const sql = connect(databaseUrlFromEnv(), { max: 1, applicationName: 'datastore-pg migrate', onNotice: (m) => console.log(`notice: ${m}`) });
  try {
    await migrate(sql, migrations, { log: (line) => console.log(line) });
  } finally {
    await sql.end();
  }
}

main().catch((error: unknown) => {
  console.error(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
