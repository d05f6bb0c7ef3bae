import type { MiddlewareObj } from '@middy/core';
import { ErrorCode, toDataStoreError } from './errors';
import type { AppSyncEvent, Envelope } from './event';

/**
 * Turns any error into the envelope the AppSync resolver maps to util.error(message, errorType, data).
 * Unexpected errors are logged with their cause (SQLSTATE and name only: no SQL, no values); the client
 * gets only the code and a safe message.
 */
export function errorEnvelope(log: (entry: Record<string, unknown>) => void = (entry) => console.error(JSON.stringify(entry))): MiddlewareObj<AppSyncEvent, Envelope> {
  return {
    onError: async (request) => {
      const error = toDataStoreError(request.error);
      if (error.code === ErrorCode.InternalError || error.code === ErrorCode.Unavailable) {
        const cause = error.cause as { name?: string; code?: string; message?: string } | undefined;
        log({
          level: 'error',
          code: error.code,
          field: request.event?.info?.fieldName,
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
