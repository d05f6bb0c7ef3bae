// Logs and metrics, by Powertools for AWS Lambda: JSON log lines as CloudWatch Logs Insights reads them,
// and metrics in CloudWatch's embedded metric format (EMF), printed with the logs and turned into metrics
// by CloudWatch itself: no API call, nothing added to a request's latency. Entries carry request ids,
// field names, codes, counts and timings, never arguments, rows or SQL values.
//
// The names below are the contract with the stack's dashboard and alarms (packages/deploy): every
// deployment is one `service` (POWERTOOLS_SERVICE_NAME, `<service>-<stage>`), in one namespace.
import { Logger, LogLevel } from '@aws-lambda-powertools/logger';
import type { ReplicaUse } from './replica';
import type { SyncMode } from './token';

/** The deployment, set by the stack: the `service` of every log line and metric. */
export const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? 'datastore-pg';

export const logger = new Logger({ serviceName: SERVICE_NAME, logLevel: logLevelFromEnv() });

/** LOG_LEVEL (or POWERTOOLS_LOG_LEVEL): debug, info (the default), warn, error, silent, in either case. */
function logLevelFromEnv(): keyof typeof LogLevel {
  // Powertools reads only upper case from the environment; ours has always been lower case.
  const level = (process.env.POWERTOOLS_LOG_LEVEL || process.env.LOG_LEVEL || 'INFO').toUpperCase();
  return level in LogLevel ? (level as keyof typeof LogLevel) : 'INFO';
}

export const METRICS_NAMESPACE = 'datastore-pg';

/**
 * Every metric the handlers and the forwarder emit. Dimensions: `service` always; `field` on the
 * per-request ones (also emitted without it, for the whole API), `syncMode` on Syncs, `errorType` on Errors.
 */
export const Metric = {
  /** One per request (dimensions: service; service and field). */
  Requests: 'Requests',
  /** A request's duration in the handler, milliseconds (service; service and field). */
  Latency: 'Latency',
  /** A failed request, by errorType (ConflictUnhandled, ValidationError, Unauthorized, Unavailable, InternalError...). */
  Errors: 'Errors',
  /** A sync page served, by syncMode: full, base or delta. Many base syncs: devices come back after the delta TTL. */
  Syncs: 'Syncs',
  /**
   * A full or base sync page of a stage with a read replica, by `readOn`: replica, or why the writer read
   * it (behind, not-standby, failed, resting). Mostly not `replica`: the replica is not offloading.
   */
  ReplicaPages: 'ReplicaPages',
  /** Items in sync pages (service; service and field). */
  SyncItems: 'SyncItems',
  /**
   * Of those, deletions from the graveyard: tombstones purged from the table, sent to devices that may
   * not have seen them (service; service and field). Every full sync sends all of them.
   */
  GraveyardItems: 'GraveyardItems',
  /** A write based on an older version, applied over the server's field by field (service; service and field). */
  MergedWrites: 'MergedWrites',
  /** Values a write overwrote or refused, logged in versioning.conflicts (service; service and field). */
  ConflictsLogged: 'ConflictsLogged',
  /** The forwarder: how far its oldest position is behind now, milliseconds (service), sampled every 30 s. */
  ForwarderLag: 'ForwarderLag',
  /** How far the sync watermark (held back by the oldest open transaction) is behind now, ms (service), sampled by the forwarder. */
  WatermarkLag: 'WatermarkLag',
  /** Failed purge runs in the last hour, sampled by the forwarder where pg_cron purges (service). */
  PurgeFailures: 'PurgeFailures',
  /** Since the purge last succeeded, milliseconds, sampled by the forwarder where pg_cron purges (service). */
  PurgeAge: 'PurgeAge',
  /** The forwarder: changes published to subscribers (service). */
  Published: 'Published',
  /** The forwarder: a pass that failed (the next one starts again from the stored positions) (service). */
  ForwarderErrors: 'ForwarderErrors',
} as const;

/** What one request did, filled in by the resolver as it goes: its log line and metrics read it. */
export interface RequestOutcome {
  syncMode?: SyncMode;
  items?: number;
  /** Of those items, tombstones from the graveyard (purged from the table; sync.ts). */
  graveyardItems?: number;
  /** A full or base page of a stage with a read replica: read there, or why on the writer (replica.ts). */
  replica?: ReplicaUse;
  /** How long that page waited for the replica to replay its sync's window, milliseconds. */
  replicaWaitMs?: number;
  /** The write was based on an older version and merged over the server's. */
  merged?: boolean;
  /** Values written to the conflict log. */
  conflictsLogged?: number;
}
