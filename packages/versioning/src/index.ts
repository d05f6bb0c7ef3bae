export { modelResolver, type ModelHooks, type Resolver, type ResolverOptions } from './resolver';
export { errorEnvelope, requestLog } from './middleware';
export { log, type LogLevel } from './log';
export { DataStoreError, ErrorCode, toDataStoreError } from './errors';
export type { AppSyncEvent, Envelope } from './event';
export type { ConflictContext, ConflictResolution, ResolveConflict } from './conflict';
export type { Item } from './items';
export { DEFAULT_SYNC_LIMIT, MAX_SYNC_LIMIT } from './sync';
export { SchemaMismatchError } from './runtime';
