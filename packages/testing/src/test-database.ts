import { connect, type Sql } from '@datastore-pg/db';
import { createDatabase, databaseName, dropDatabase, randomSuffix, urlForDatabase } from './databases';
import { ENV, requireEnv } from './harness';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the database (max 4 connections). */
  readonly sql: Sql;
  /** Opens another pool on the same database, for tests that need separate sessions. Closed by drop(). */
  connect(max?: number): Sql;
  drop(): Promise<void>;
}

/**
 * Creates a database for one test file: a clone of the migrated template, or empty (for migration
 * tests). Call drop() when done; useTestDatabase() does both for you.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const serverUrl = requireEnv(ENV.serverUrl);
  const name = databaseName(Number(requireEnv(ENV.runPid)), `t_${randomSuffix()}`);
  await createDatabase(serverUrl, name, options.empty ? undefined : requireEnv(ENV.template));
  const url = urlForDatabase(serverUrl, name);
  const pools: Sql[] = [];
  const open = (max = 4) => {
    const pool = connect(url, { max, applicationName: 'datastore-pg tests' });
    pools.push(pool);
    return pool;
  };
  const sql = open();
  return {
    name,
    url,
    sql,
    connect: open,
    async drop() {
      await Promise.all(pools.map((pool) => pool.end()));
      await dropDatabase(serverUrl, name);
    },
  };
}

/** Registers beforeAll/afterAll hooks that give the calling test file its own migrated database. */
export function useTestDatabase(): TestDatabase {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });
  const current = (): TestDatabase => {
    if (!db) throw new Error('the test database exists only inside tests (after beforeAll)');
    return db;
  };
  return {
    get name() { return current().name; },
    get url() { return current().url; },
    get sql() { return current().sql; },
    connect: (max) => current().connect(max),
    drop: () => current().drop(),
  };
}
