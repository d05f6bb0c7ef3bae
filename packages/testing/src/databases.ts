import { connect, type Sql } from '@datastore-pg/db';
import { randomBytes } from 'node:crypto';
import { isAlive } from './process';

// Every database a test run creates is named dspg_<run pid>_<kind>, so a later run can tell a killed
// run's leftovers (pid gone) from a concurrent run's databases (pid alive).
const DATABASE_NAME = /^dspg_(\d+)_[a-z0-9_]+$/;

export function databaseName(runPid: number, kind: string): string {
  return `dspg_${runPid}_${kind}`;
}

export function urlForDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Opens a short-lived connection to the server's maintenance database and runs fn with it. */
export async function withAdmin<T>(serverUrl: string, fn: (sql: Sql) => Promise<T>): Promise<T> {
  const sql = connect(serverUrl, { max: 1, applicationName: 'datastore-pg tests' });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
  }
}

export async function createDatabase(serverUrl: string, name: string, template?: string): Promise<void> {
  await withAdmin(serverUrl, (sql) =>
    template ? sql`create database ${sql(name)} template ${sql(template)}` : sql`create database ${sql(name)}`,
  );
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdmin(serverUrl, (sql) => sql`drop database if exists ${sql(name)} with (force)`);
}

/** Drops databases left behind by test runs that were killed before they could clean up. */
export async function dropLeftoverDatabases(serverUrl: string): Promise<string[]> {
  return withAdmin(serverUrl, async (sql) => {
    const rows = await sql<{ datname: string }[]>`select datname from pg_database where datname like 'dspg\_%'`;
    const leftovers = rows.map((r) => r.datname).filter((name) => {
      const pid = Number(DATABASE_NAME.exec(name)?.[1]);
      return pid > 0 && !isAlive(pid);
    });
    for (const name of leftovers) await sql`drop database if exists ${sql(name)} with (force)`;
    return leftovers;
  });
}

export function randomSuffix(): string {
  return randomBytes(4).toString('hex');
}
