export { connect, databaseUrlFromEnv, type ConnectOptions, type ConnectTarget, type Sql, type Tx } from './connect';
export { awsTokenSigner, iamTarget, targetFromEnv, type IamEndpoint, type TokenSigner } from './iam';
export { sharedConnection, closeSharedConnection, discardSharedConnection } from './shared';
export { transaction, isConnectionLost } from './transaction';
export { countFromEnv } from './env';
