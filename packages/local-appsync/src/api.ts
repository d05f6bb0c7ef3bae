// The GraphQL half of the local AppSync: the generated SDL, its scalars, and for every field the
// wiring names, the same resolver file and the same handler the deployed stack uses.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildSchema, execute, GraphQLError, validate, type DocumentNode, type ExecutionResult, type FieldNode,
  type GraphQLField, type GraphQLObjectType, type GraphQLResolveInfo, type GraphQLSchema, type SelectionSetNode,
} from 'graphql';
import { APPSYNC_DEFINITIONS } from '@datastore-pg/schema';
import { ResolverError, withResolverState, type ResolverState, type SubscriptionFilter } from './appsync-utils';
import { AUTH_DIRECTIVE, AUTH_TYPE, LOCAL_FORWARDER_SESSIONS, type Caller } from './auth';
import { loadLambda, type LambdaFunction, type LambdaHandler } from './lambda-runtime';
import { loadResolver } from './resolver-runtime';
import { appSyncScalars } from './scalars';

export const ROOT = join(__dirname, '../../..');

/** The API's environment variables (ctx.env), as serverless.yml sets them on AppSync. */
const API_ENV = { FORWARDER_SESSIONS: LOCAL_FORWARDER_SESSIONS };

interface Wiring {
  functions: Record<string, { handler: string }>;
  dataSources: Record<string, { type: string; config?: { functionName: string } }>;
  resolvers: Record<string, { dataSource: string; code: string }>;
}

export interface RequestContext {
  caller: Caller;
  headers: Record<string, unknown>;
}

/** Called with every successful mutation's field name and result: the realtime side fans it out. */
export type MutationListener = (mutationField: string, result: unknown) => void;

export interface LocalApi {
  schema: GraphQLSchema;
  run(document: DocumentNode, variables: Record<string, unknown> | undefined, operationName: string | undefined, context: RequestContext): Promise<ExecutionResult>;
  onMutation(listener: MutationListener): void;
  /** Closes the connections the loaded functions opened. */
  close(): Promise<void>;
  /** Evaluates a subscription field's resolver at subscribe time (auth, filter): AppSync does this on `start`. */
  subscribe(fieldName: string, args: Record<string, unknown>, context: RequestContext): { filter?: SubscriptionFilter };
}

export function createLocalApi(root = ROOT): LocalApi {
  const schema = buildSchema(APPSYNC_DEFINITIONS + readFileSync(join(root, 'appsync/schema.graphql'), 'utf8'));
  for (const [name, scalar] of Object.entries(appSyncScalars)) {
    const type = schema.getType(name) as unknown as Record<string, unknown>;
    Object.assign(type, { serialize: scalar.serialize, parseValue: scalar.parseValue, parseLiteral: scalar.parseLiteral });
  }
  const wiring = JSON.parse(readFileSync(join(root, 'appsync/wiring.generated.json'), 'utf8')) as Wiring;
  const listeners: MutationListener[] = [];
  const handlers = new Map<string, LambdaFunction>();

  // The function a data source invokes, bundled from its serverless.yml handler path as the Lambda
  // package is (see lambda-runtime.ts), on first use.
  const handlerFor = (dataSource: string): LambdaHandler => {
    const functionName = wiring.dataSources[dataSource]?.config?.functionName;
    const fn = functionName && wiring.functions[functionName];
    if (!fn) throw new Error(`data source ${dataSource} names no function`);
    let loaded = handlers.get(fn.handler);
    if (!loaded) {
      loaded = loadLambda(root, fn.handler);
      handlers.set(fn.handler, loaded);
    }
    return loaded.handler;
  };

  for (const [key, resolverWiring] of Object.entries(wiring.resolvers)) {
    const [typeName, fieldName] = key.split('.') as [string, string];
    if (typeName === 'Subscription') continue; // evaluated on `start`, see subscribe()
    const field = (schema.getType(typeName) as GraphQLObjectType).getFields()[fieldName]!;
    const resolver = loadResolver(join(root, resolverWiring.code));
    field.resolve = async (source, args, context: RequestContext, info) => {
      assertAuthorized(field, context.caller, typeName);
      const ctx = resolverContext(source, args, context, info);
      const state = { authType: AUTH_TYPE[context.caller.mode], fieldName, parentTypeName: typeName };
      const request = withResolverState(state, () => resolver.request(ctx));
      ctx.result = wiring.dataSources[resolverWiring.dataSource]?.type === 'NONE'
        ? request?.payload
        : await handlerFor(resolverWiring.dataSource)(request?.payload, { awsRequestId: randomUUID() });
      const result = withResolverState(state, () => resolver.response(ctx));
      if (typeName === 'Mutation') for (const listener of listeners) listener(fieldName, result);
      return result;
    };
  }

  return {
    schema,
    async run(document, variables, operationName, context) {
      const errors = validate(schema, document);
      if (errors.length > 0) return { errors };
      return execute({ schema, document, variableValues: variables, operationName, contextValue: context });
    },
    onMutation(listener) {
      listeners.push(listener);
    },
    async close() {
      await Promise.all([...handlers.values()].map((fn) => fn.close()));
      handlers.clear();
    },
    subscribe(fieldName, args, context) {
      const field = schema.getSubscriptionType()!.getFields()[fieldName]!;
      assertAuthorized(field, context.caller, 'Subscription');
      const resolverWiring = wiring.resolvers[`Subscription.${fieldName}`];
      if (!resolverWiring) return {};
      const resolver = loadResolver(join(root, resolverWiring.code));
      const state: ResolverState = { authType: AUTH_TYPE[context.caller.mode], fieldName, parentTypeName: 'Subscription' };
      const ctx: Record<string, unknown> = {
        arguments: args, args, identity: context.caller.identity, source: null, stash: {}, request: { headers: context.headers },
        info: { fieldName, parentTypeName: 'Subscription', variables: {}, selectionSetList: [] },
      };
      withResolverState(state, () => {
        ctx.result = resolver.request(ctx)?.payload ?? null;
        resolver.response(ctx);
      });
      return { filter: state.subscriptionFilter };
    },
  };
}

/** AppSync checks the auth directives of a root field before its resolver runs; no directive means the default mode (API key). */
export function assertAuthorized(field: GraphQLField<unknown, unknown>, caller: Caller, typeName: string): void {
  const directives = (field.astNode?.directives ?? []).map((d) => d.name.value).filter((d) => d.startsWith('aws_') && d !== 'aws_subscribe');
  const allowed = directives.length > 0 ? directives.includes(AUTH_DIRECTIVE[caller.mode]) : caller.mode === 'API_KEY';
  if (!allowed) throw new ResolverError(`Not Authorized to access ${field.name} on type ${typeName}`, 'Unauthorized');
}

function resolverContext(source: unknown, args: Record<string, unknown>, context: RequestContext, info: GraphQLResolveInfo): Record<string, unknown> {
  return {
    arguments: args,
    args,
    identity: context.caller.identity,
    env: API_ENV,
    source: source ?? null,
    stash: {},
    request: { headers: context.headers },
    info: { fieldName: info.fieldName, parentTypeName: info.parentType.name, variables: info.variableValues, selectionSetList: selectionSetList(info.fieldNodes[0]?.selectionSet, info) },
  };
}

/** ctx.info.selectionSetList: every selected path below the field, as AppSync lists them (a/b/c). */
function selectionSetList(set: SelectionSetNode | undefined, info: GraphQLResolveInfo, prefix = ''): string[] {
  if (!set) return [];
  return set.selections.flatMap((selection) => {
    if (selection.kind === 'Field') {
      const path = `${prefix}${(selection as FieldNode).name.value}`;
      return (selection as FieldNode).name.value === '__typename' ? [] : [path, ...selectionSetList(selection.selectionSet, info, `${path}/`)];
    }
    if (selection.kind === 'InlineFragment') return selectionSetList(selection.selectionSet, info, prefix);
    return selectionSetList(info.fragments[selection.name.value]?.selectionSet, info, prefix);
  });
}

/** A GraphQL result in AppSync's shape: errors carry path, data, errorType, errorInfo at top level. */
export function toAppSyncResponse(result: ExecutionResult): Record<string, unknown> {
  if (!result.errors) return { data: result.data ?? null };
  return {
    data: result.data ?? null,
    errors: result.errors.map((error: GraphQLError) => {
      const original = error.originalError;
      const resolverError = original instanceof ResolverError ? original : undefined;
      return {
        path: error.path,
        data: resolverError?.data ?? null,
        errorType: resolverError ? resolverError.errorType : error.path ? 'Lambda:Unhandled' : 'ValidationError',
        errorInfo: resolverError?.errorInfo ?? null,
        locations: error.locations,
        message: error.message,
      };
    }),
  };
}

