export { startLocalAppSync, type LocalAppSync, type LocalAppSyncOptions } from './server';
export { newDevCredentials, signUserToken, type DevCredentials } from './auth';
export { localTransport, startLocalForwarder, type LiveOptions, type LocalForwarder } from './live';
export { loadDevCredentials } from './credentials';
export { toSubscriptionFilter, matchesSubscriptionFilter } from './appsync-utils';
export { writeSchemaRoot } from './schema-root';
