export { connect, databaseUrlFromEnv, type ConnectOptions, type Sql } from './connect';
