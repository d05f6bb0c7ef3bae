export { connect, databaseUrlFromEnv, type ConnectOptions, type ConnectTarget, type Sql, type Tx } from './connect';
export { awsTokenSigner, iamTarget, readerTargetFromEnv, targetFromEnv, type IamEndpoint, type TokenSigner } from './iam';
export { sharedConnection, sharedReaderConnection, closeSharedConnection, discardSharedConnection, discardSharedReaderConnection } from './shared';
export { transaction, isConnectionLost, type TransactionOptions } from './transaction';
export { countFromEnv } from './env';
