// AppSync's scalars with AppSync's validation
// (https://docs.aws.amazon.com/appsync/latest/devguide/scalars.html). AWSTimestamp is a 64-bit count
// (DataStore sends milliseconds, beyond GraphQL's 32-bit Int: design.md §2).
import { isIP } from 'node:net';
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

const DATE = /^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$/;
const TIME = /^\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}(:\d{2})?)$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PHONE = /^\+?[0-9][0-9 ().-]{2,30}$/;

function stringScalar(name: string, valid: (value: string) => boolean): GraphQLScalarType {
  const check = (value: unknown): string => {
    if (typeof value !== 'string' || !valid(value)) throw new GraphQLError(`Invalid ${name} value`);
    return value;
  };
  return new GraphQLScalarType({
    name,
    serialize: check,
    parseValue: check,
    parseLiteral: (ast: ValueNode) => check(ast.kind === Kind.STRING ? ast.value : undefined),
  });
}

const isUrl = (value: string) => {
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
};

const isJson = (value: string) => {
  try {
    JSON.parse(value);
    return true;
  } catch {
    return false;
  }
};

const timestamp = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new GraphQLError('Invalid AWSTimestamp value');
  return value;
};

export const appSyncScalars: Record<string, GraphQLScalarType> = {
  AWSDate: stringScalar('AWSDate', (v) => DATE.test(v) && !Number.isNaN(Date.parse(v.slice(0, 10)))),
  AWSTime: stringScalar('AWSTime', (v) => TIME.test(v)),
  AWSDateTime: stringScalar('AWSDateTime', (v) => DATE_TIME.test(v) && !Number.isNaN(Date.parse(v))),
  AWSEmail: stringScalar('AWSEmail', (v) => EMAIL.test(v)),
  AWSJSON: stringScalar('AWSJSON', isJson),
  AWSURL: stringScalar('AWSURL', isUrl),
  AWSPhone: stringScalar('AWSPhone', (v) => PHONE.test(v)),
  AWSIPAddress: stringScalar('AWSIPAddress', (v) => isIP(v.split('/')[0] ?? '') !== 0),
  AWSTimestamp: new GraphQLScalarType({
    name: 'AWSTimestamp',
    serialize: timestamp,
    parseValue: timestamp,
    parseLiteral: (ast: ValueNode) => timestamp(ast.kind === Kind.INT ? Number(ast.value) : undefined),
  }),
};
