export { createTestDatabase, useTestDatabase, type TestDatabase } from './test-database';
export { ENV, requireEnv } from './harness';
export { withAdmin, urlForDatabase } from './databases';
