// Errors are values with stable codes. The code is the AppSync errorType a client sees; the message is
// written for the client and never holds SQL, stack traces or row contents of other users.
import { isConnectionLost } from '@datastore-pg/db';

export const ErrorCode = {
  /** The write was based on a stale _version (or hit a tombstone or an existing id); data = the server's item. DataStore's conflict handler takes it from here. */
  ConflictUnhandled: 'ConflictUnhandled',
  /** The caller may not read or write this item or model. DataStore drops the mutation, or ends the model's sync. */
  Unauthorized: 'Unauthorized',
  /** The input is malformed: unknown field, wrong type, missing or null required value, bad id, bad filter, bad limit. Nothing was changed. */
  ValidationError: 'ValidationError',
  /** nextToken was altered, truncated, or belongs to another model, filter or sync. Restart the sync without it. */
  InvalidNextToken: 'InvalidNextToken',
  /** No item has that id. */
  NotFound: 'NotFound',
  /** The mutation's condition did not hold; data = the server's item. Nothing was changed. */
  ConditionalCheckFailed: 'ConditionalCheckFailed',
  /** The answer would be too large for one response: a list<Plural> or list<Plural>Delta query (the AppSync SDK's Delta Sync) over more than 10,000 items. Nothing was changed. */
  ResultTooLarge: 'ResultTooLarge',
  /** A transient failure (connection lost, deadlock, serialization failure) that outlasted the handler's own retries, or a statement timeout (not retried). Retry later. */
  Unavailable: 'Unavailable',
  /** An unexpected failure, logged on the server. */
  InternalError: 'InternalError',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class DataStoreError extends Error {
  override name = 'DataStoreError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: { data?: unknown; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }

  get data(): unknown {
    return this.options.data ?? null;
  }

  get retryable(): boolean {
    return this.code === ErrorCode.Unavailable;
  }
}

export const invalid = (message: string) => new DataStoreError(ErrorCode.ValidationError, message);

const QUERY_CANCELED = '57014';

/** Postgres SQLSTATEs by name (never by message text) and what each means to a client. */
const SQLSTATE: Record<string, [ErrorCode, string]> = {
  '23502': [ErrorCode.ValidationError, 'a required value is missing'], // not_null_violation
  '23503': [ErrorCode.ValidationError, 'a referenced item does not exist'], // foreign_key_violation
  '23505': [ErrorCode.ValidationError, 'a value that must be unique is already taken'], // unique_violation
  '23514': [ErrorCode.ValidationError, 'a value is out of its allowed range'], // check_violation
  '22001': [ErrorCode.ValidationError, 'a value is too long'], // string_data_right_truncation
  '22003': [ErrorCode.ValidationError, 'a number is out of range'], // numeric_value_out_of_range
  '22007': [ErrorCode.ValidationError, 'a date or time has the wrong format'], // invalid_datetime_format
  '22008': [ErrorCode.ValidationError, 'a date or time is out of range'], // datetime_field_overflow
  '22P02': [ErrorCode.ValidationError, 'a value has the wrong format'], // invalid_text_representation
  '40001': [ErrorCode.Unavailable, 'the write collided with another; retry'], // serialization_failure
  '40P01': [ErrorCode.Unavailable, 'the write collided with another; retry'], // deadlock_detected
  '55P03': [ErrorCode.Unavailable, 'the item is locked by another write; retry'], // lock_not_available
  [QUERY_CANCELED]: [ErrorCode.Unavailable, 'the database took too long; retry'], // query_canceled (statement_timeout)
  '57P01': [ErrorCode.Unavailable, 'the database is restarting; retry'], // admin_shutdown
  '57P02': [ErrorCode.Unavailable, 'the database is restarting; retry'], // crash_shutdown
  '57P03': [ErrorCode.Unavailable, 'the database is starting; retry'], // cannot_connect_now
  '53300': [ErrorCode.Unavailable, 'the database has too many connections; retry'], // too_many_connections
};

/** Any thrown value as a DataStoreError a client may see. */
export function toDataStoreError(error: unknown): DataStoreError {
  if (error instanceof DataStoreError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const known = typeof code === 'string' ? SQLSTATE[code] : undefined;
  if (known) return new DataStoreError(known[0], known[1], { cause: error });
  // The same test that makes the resolver discard its connection: the request never completed.
  if (isConnectionLost(error)) return new DataStoreError(ErrorCode.Unavailable, 'the database connection failed; retry', { cause: error });
  return new DataStoreError(ErrorCode.InternalError, 'internal error', { cause: error });
}

/**
 * Whether the same request, run again, may succeed: a lost connection, or any SQLSTATE above that
 * answers Unavailable, except a statement timeout (the same slow statement would time out again and
 * spend the retry budget). Our own errors (conflicts, validation, authorization) are answers, never
 * retried.
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof DataStoreError) return false;
  if (isConnectionLost(error)) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code !== QUERY_CANCELED && SQLSTATE[code]?.[0] === ErrorCode.Unavailable;
}
