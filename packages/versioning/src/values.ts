// Values at the boundary: client input is checked against the field's GraphQL type (and, for ids, the
// column's type) before it can reach SQL; rows are decoded into GraphQL values in one place.
import type { FieldMeta, ScalarName } from '@datastore-pg/schema/models';
import { stringScalarFormats, UUID } from '@datastore-pg/schema/scalars';
import { invalid } from './errors';

/** Longest string accepted in any field: AppSync's request limit is 1 MB, a row should not approach it. */
const MAX_STRING_LENGTH = 100_000;
const MAX_LIST_LENGTH = 1_000;

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** What the database says about a column, read once per model (see ModelRuntime). */
export interface ColumnInfo {
  /** pg_type.typname: uuid, text, int4, float8, numeric, timestamptz, date, bool, jsonb, an enum's name ... */
  type: string;
  isArray: boolean;
  /** The column's type as SQL spells it (format_type: colour[], "my schema".status), for casts. */
  sqlType: string;
}

function isUuidColumn(column: ColumnInfo): boolean {
  return column.type === 'uuid' && !column.isArray;
}

/**
 * Checks one client value for a field and returns what to send to Postgres. Throws ValidationError
 * naming the field; the value itself is not echoed back.
 */
export function inputValue(field: FieldMeta, column: ColumnInfo, value: unknown): unknown {
  if (value === null || value === undefined) {
    if (field.required) throw invalid(`${field.name} cannot be null`);
    return null;
  }
  if (field.list) {
    if (!Array.isArray(value)) throw invalid(`${field.name} must be a list`);
    if (value.length > MAX_LIST_LENGTH) throw invalid(`${field.name} has more than ${MAX_LIST_LENGTH} elements`);
    return value.map((element) => {
      if (element === null) throw invalid(`${field.name} cannot contain null`);
      return scalarValue(field, column, element);
    });
  }
  return scalarValue(field, column, value);
}

/** One non-null value of the field's element type. */
export function scalarValue(field: FieldMeta, column: ColumnInfo, value: unknown): unknown {
  const wrong = (expected: string) => invalid(`${field.name} must be ${expected}`);
  if (field.type.kind === 'enum') {
    if (typeof value !== 'string' || !field.type.values.includes(value)) throw wrong(`one of ${field.type.values.join(', ')}`);
    return value;
  }
  const scalar: ScalarName = field.type.name;
  switch (scalar) {
    case 'Int':
      if (!Number.isInteger(value) || (value as number) < INT32.min || (value as number) > INT32.max) throw wrong('a 32-bit integer');
      return value;
    case 'AWSTimestamp':
      if (!Number.isSafeInteger(value)) throw wrong('an integer timestamp');
      return value;
    case 'Float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw wrong('a finite number');
      return value;
    case 'Boolean':
      if (typeof value !== 'boolean') throw wrong('true or false');
      return value;
    case 'AWSJSON':
      if (typeof value !== 'string') throw wrong('a JSON string');
      checkLength(field, value); // before parsing it
      if (!stringScalarFormats.AWSJSON(value)) throw wrong('a JSON string');
      return JSON.parse(value) as unknown;
    default:
      break;
  }
  if (typeof value !== 'string') throw wrong('a string');
  checkLength(field, value);
  const valid = scalar === 'ID'
    ? value.length > 0 && (!isUuidColumn(column) || UUID.test(value))
    : scalar === 'String' || stringScalarFormats[scalar](value);
  if (!valid) throw wrong(scalar === 'ID' && isUuidColumn(column) ? 'a UUID' : `a valid ${scalar}`);
  return scalar === 'AWSDate' ? value.slice(0, 10) : value; // a date column keeps no offset
}

function checkLength(field: FieldMeta, value: string): void {
  if (value.length > MAX_STRING_LENGTH) throw invalid(`${field.name} is longer than ${MAX_STRING_LENGTH} characters`);
}

/**
 * How a column value becomes the GraphQL value of its field, decided once per field (a sync maps every
 * field of up to 1,000 rows a page). undefined: the driver's value already is the GraphQL value, as it
 * is for most columns (timestamps are formatted by Postgres, items.ts). Never called with null.
 */
export function outputConverter(field: FieldMeta, column: ColumnInfo): ((value: unknown) => unknown) | undefined {
  const scalar = scalarConverter(field, column);
  if (!scalar || !field.list) return scalar;
  return (value) => (Array.isArray(value) ? value.map(scalar) : scalar(value));
}

function scalarConverter(field: FieldMeta, column: ColumnInfo): ((value: unknown) => unknown) | undefined {
  if (field.type.kind === 'enum') return undefined;
  switch (field.type.name) {
    case 'AWSJSON':
      return (value) => JSON.stringify(value);
    case 'Int':
    case 'Float':
    case 'AWSTimestamp':
      return NUMBER_COLUMNS.has(column.type) ? undefined : toNumber; // numeric arrives as text
    default:
      // AppSync's AWSDateTime is UTC with milliseconds (2026-11-22T05:06:06.123Z); a timestamp column
      // arrives in that form, except in an array (the driver makes Dates of those).
      return column.isArray && TIMESTAMP_COLUMNS.has(column.type) ? dateToIso : undefined;
  }
}

/** Column types the driver returns as JavaScript numbers (int8 too: see packages/db connect()). */
const NUMBER_COLUMNS = new Set(['int2', 'int4', 'int8', 'float4', 'float8']);
export const TIMESTAMP_COLUMNS = new Set(['timestamptz', 'timestamp']);
const toNumber = (value: unknown) => (typeof value === 'number' ? value : Number(value));
const dateToIso = (value: unknown) => (value instanceof Date ? value.toISOString() : value);
