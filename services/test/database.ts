import { closeSharedConnection } from '@datastore-pg/db';
import { useTestDatabase, type TestDatabase } from '@datastore-pg/testing';

/**
 * The test file's own database, served to the handlers through DATABASE_URL as in a deployed container
 * (each test file runs in its own module registry, so each gets a fresh shared connection).
 */
export function useHandlerDatabase(): TestDatabase {
  const db = useTestDatabase();
  beforeAll(() => {
    process.env.DATABASE_URL = db.url;
  });
  afterAll(async () => {
    await closeSharedConnection();
  });
  return db;
}
