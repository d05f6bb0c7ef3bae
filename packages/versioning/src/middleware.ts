import type { MiddlewareObj } from '@middy/core';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ErrorCode, toDataStoreError } from './errors';
import type { AppSyncEvent, Envelope } from './event';
import { logger, Metric, METRICS_NAMESPACE, SERVICE_NAME, type RequestOutcome } from './observability';

/**
 * Turns any error into the envelope the AppSync resolver maps to util.error(message, errorType, data).
 * Unexpected errors are logged with their cause (SQLSTATE and name only: no SQL, no values); the client
 * gets only the code and a safe message.
 */
export function errorEnvelope(): MiddlewareObj<AppSyncEvent, Envelope> {
  return {
    onError: async (request) => {
      const error = toDataStoreError(request.error);
      if (error.code === ErrorCode.InternalError || error.code === ErrorCode.Unavailable) {
        const cause = error.cause as { name?: string; code?: string; message?: string } | undefined;
        logger.error('request failed', {
          field: request.event?.info?.fieldName,
          errorType: error.code,
          cause: cause?.name,
          sqlstate: cause?.code,
          // Messages of our own errors are safe to log; a database's may quote values.
          detail: error.code === ErrorCode.InternalError && !cause?.code ? cause?.message : undefined,
        });
      }
      request.response = { data: error.data, errorType: error.code, errorMessage: error.message };
    },
  };
}

/**
 * One log line and one set of metrics per request: field, duration, sync mode and items, merges and
 * conflicts logged, and for a failed one its errorType. The resolver fills the request's outcome
 * (outcomeOf). Use it before errorEnvelope(), whose onError runs first and leaves the envelope to read.
 */
export function requestObservation(): { middleware: MiddlewareObj<AppSyncEvent, Envelope>; outcomeOf(event: AppSyncEvent): RequestOutcome } {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  // Keyed by event: the local endpoint runs several requests of one handler at once.
  const requests = new WeakMap<object, { started: number; outcome: RequestOutcome }>();
  const done = async (request: { event: AppSyncEvent; response: Envelope | undefined | null }) => {
    const { started, outcome } = requests.get(request.event) ?? { started: performance.now(), outcome: {} };
    const field = request.event?.info?.fieldName ?? 'unknown';
    const durationMs = Math.round(performance.now() - started);
    const errorType = request.response && 'errorType' in request.response ? request.response.errorType : undefined;
    logger.info('request', { field, durationMs, ...outcome, errorType });

    // Added and printed in one synchronous step (not by Powertools' logMetrics at the end of the
    // request): requests running side by side on the local endpoint cannot take each other's metrics.
    // Two dimension sets: the whole API ([service], the empty set) and per field ([service, field]).
    metrics.addDimensions({});
    metrics.addDimensions({ field });
    metrics.addMetric(Metric.Requests, MetricUnit.Count, 1);
    metrics.addMetric(Metric.Latency, MetricUnit.Milliseconds, durationMs);
    if (outcome.items !== undefined) metrics.addMetric(Metric.SyncItems, MetricUnit.Count, outcome.items);
    if (outcome.graveyardItems) metrics.addMetric(Metric.GraveyardItems, MetricUnit.Count, outcome.graveyardItems);
    if (outcome.merged) metrics.addMetric(Metric.MergedWrites, MetricUnit.Count, 1);
    if (outcome.conflictsLogged) metrics.addMetric(Metric.ConflictsLogged, MetricUnit.Count, outcome.conflictsLogged);
    metrics.publishStoredMetrics();
    // Counts under a dimension of their own, each its own EMF line.
    if (outcome.syncMode) countBy(metrics, 'syncMode', outcome.syncMode, Metric.Syncs);
    if (outcome.replica) countBy(metrics, 'readOn', outcome.replica, Metric.ReplicaPages);
    if (errorType) countBy(metrics, 'errorType', errorType, Metric.Errors);
  };
  return {
    middleware: {
      before: async (request) => {
        requests.set(request.event, { started: performance.now(), outcome: {} });
      },
      after: done,
      onError: done,
    },
    outcomeOf: (event) => requests.get(event)?.outcome ?? {},
  };
}

function countBy(metrics: Metrics, dimension: string, value: string, name: string): void {
  metrics.addDimension(dimension, value);
  metrics.addMetric(name, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
}
