export { modelResolver, type ModelHooks, type Resolver, type ResolverOptions } from './resolver';
export { logger, Metric, METRICS_NAMESPACE, SERVICE_NAME, type RequestOutcome } from './observability';
export { DataStoreError, ErrorCode, toDataStoreError } from './errors';
export type { AppSyncEvent, Envelope } from './event';
export type { ConflictContext, ConflictResolution, ResolveConflict } from './conflict';
export type { Item } from './items';
export { loadModelRuntime, type ModelRuntime } from './runtime';
export { Replica, REPLICA_REST_MS, REPLICA_WAIT_MS, type ReplicaOptions, type ReplicaUse } from './replica';
export { sync, type SyncResult } from './sync';
