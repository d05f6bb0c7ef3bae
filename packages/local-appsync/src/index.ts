export { startLocalAppSync, type LocalAppSync, type LocalAppSyncOptions } from './server';
export { newDevCredentials, signUserToken, type DevCredentials } from './auth';
export { toSubscriptionFilter, matchesSubscriptionFilter } from './appsync-utils';
