// The contract between Jest's global setup and the test files, carried in environment variables
// (set in the main process before the workers start, so every worker inherits them).
export const ENV = {
  serverUrl: 'DSPG_TEST_SERVER_URL', // superuser URL of the test server's maintenance database
  template: 'DSPG_TEST_TEMPLATE', // name of the migrated template database
  runPid: 'DSPG_TEST_RUN_PID', // pid of the Jest main process: names this run's databases
} as const;

export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through jest.config.ts (npm test), whose global setup provides it`);
  return value;
}
