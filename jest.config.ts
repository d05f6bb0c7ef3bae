import type { Config } from 'jest';

// Handlers log a JSON line and print metrics (EMF) per request; tests that read them turn them on.
process.env.LOG_LEVEL ??= 'silent';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/packages', '<rootDir>/services', '<rootDir>/migrations', '<rootDir>/e2e'],
  testMatch: ['**/test/**/*.test.ts'],
  // Generated client models for the end-to-end tests live under .data/.
  modulePathIgnorePatterns: ['<rootDir>/.data/'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' } }],
    // @middy/core 7 (and its @middy/util) ship only ES modules: compile it to CommonJS like our own code.
    '^.+/@middy/(core|util)/.+\\.js$': ['@swc/jest', { jsc: { parser: { syntax: 'ecmascript' }, target: 'es2022' }, module: { type: 'commonjs' } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!@middy/(core|util)/)'],
  // Their package.json exports only an "import" condition, which Jest's CommonJS resolver does not take.
  moduleNameMapper: { '^@middy/(core|util)$': '<rootDir>/node_modules/@middy/$1/index.js' },
  // Starts (or reaches, via DATABASE_URL) PostgreSQL once and migrates a template database.
  globalSetup: '<rootDir>/packages/testing/src/global-setup.ts',
  globalTeardown: '<rootDir>/packages/testing/src/global-teardown.ts',
  testTimeout: 30_000,
};

export default config;
