import type { MiddlewareObj } from '@middy/core';
import { ErrorCode, toDataStoreError } from './errors';
import type { AppSyncEvent, Envelope } from './event';
import { log } from './log';

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
        log('error', 'request failed', {
          requestId: (request.context as { awsRequestId?: string } | undefined)?.awsRequestId,
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
 * One log line per request: request id, field, duration and, for a failed one, its errorType. Use it
 * before errorEnvelope(), whose onError runs first and leaves the envelope to read.
 */
export function requestLog(): MiddlewareObj<AppSyncEvent, Envelope> {
  // Keyed by request: a dev server runs several requests of one handler at once.
  const started = new WeakMap<object, number>();
  const done = async (request: { event: AppSyncEvent; context: unknown; response: Envelope | undefined | null }) => {
    const response = request.response;
    log('info', 'request', {
      requestId: (request.context as { awsRequestId?: string } | undefined)?.awsRequestId,
      field: request.event?.info?.fieldName,
      durationMs: Math.round(performance.now() - (started.get(request) ?? performance.now())),
      errorType: response && 'errorType' in response ? response.errorType : undefined,
    });
  };
  return {
    before: async (request) => {
      started.set(request, performance.now());
    },
    after: done,
    onError: done,
  };
}
