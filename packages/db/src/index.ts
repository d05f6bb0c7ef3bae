export { connect, databaseUrlFromEnv, type ConnectOptions, type Sql, type Tx } from './connect';
export { sharedConnection, closeSharedConnection } from './shared';
