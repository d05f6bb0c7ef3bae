// AppSync's scalars with AppSync's validation
// (https://docs.aws.amazon.com/appsync/latest/devguide/scalars.html). AWSTimestamp is a 64-bit count
// (DataStore sends milliseconds, beyond GraphQL's 32-bit Int: design.md §2).
import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';
import { stringScalarFormats } from '@datastore-pg/schema/scalars';

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

const timestamp = (value: unknown): number => {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new GraphQLError('Invalid AWSTimestamp value');
  return value;
};

export const appSyncScalars: Record<string, GraphQLScalarType> = {
  ...Object.fromEntries(Object.entries(stringScalarFormats).map(([name, valid]) => [name, stringScalar(name, valid)])),
  AWSTimestamp: new GraphQLScalarType({
    name: 'AWSTimestamp',
    serialize: timestamp,
    parseValue: timestamp,
    parseLiteral: (ast: ValueNode) => timestamp(ast.kind === Kind.INT ? Number(ast.value) : undefined),
  }),
};
