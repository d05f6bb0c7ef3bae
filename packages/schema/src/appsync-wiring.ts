// The per-model half of serverless.yml, derived from the models so that adding a model needs no YAML:
// one Lambda per model, its AWS_LAMBDA data source, a resolver for every field DataStore calls, and
// the subscription rules the subscription resolver enforces, and the forwarder's publish mutations.
import { LIVE_OPERATIONS, publishField } from './live';
import type { ModelMeta } from './model';

export const INVOKE_RESOLVER = 'appsync/resolvers/invoke-model.js';
export const SUBSCRIBE_RESOLVER = 'appsync/resolvers/subscribe.js';
export const PUBLISH_RESOLVER = 'appsync/resolvers/publish.js';
export const NONE_DATA_SOURCE = 'None';

/** WorkOrder -> work-order: the handler's folder under services/. */
export function serviceDirectory(modelName: string): string {
  return modelName.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** WorkOrder -> workOrder: the function's name in serverless.yml. */
export function functionName(modelName: string): string {
  return modelName.charAt(0).toLowerCase() + modelName.slice(1);
}

export function dataSourceName(modelName: string): string {
  return `${modelName}Lambda`;
}

export interface ResolverWiring {
  kind: 'UNIT';
  dataSource: string;
  code: string;
}

export function renderWiring(models: readonly ModelMeta[]) {
  const functions: Record<string, { handler: string; description: string }> = {};
  const dataSources: Record<string, unknown> = { [NONE_DATA_SOURCE]: { type: 'NONE' } };
  const resolvers: Record<string, ResolverWiring> = {};
  for (const m of models) {
    functions[functionName(m.name)] = {
      handler: `services/${serviceDirectory(m.name)}/handler.handler`,
      description: `datastore-pg: sync, get, create, update, delete of ${m.name}`,
    };
    dataSources[dataSourceName(m.name)] = { type: 'AWS_LAMBDA', config: { functionName: functionName(m.name) } };
    const invoke = { kind: 'UNIT', dataSource: dataSourceName(m.name), code: INVOKE_RESOLVER } as const;
    resolvers[`Query.get${m.name}`] = invoke;
    resolvers[`Query.sync${m.pluralName}`] = invoke;
    resolvers[`Query.list${m.pluralName}`] = invoke;
    resolvers[`Query.list${m.pluralName}Delta`] = invoke;
    for (const op of ['create', 'update', 'delete']) resolvers[`Mutation.${op}${m.name}`] = invoke;
    for (const op of LIVE_OPERATIONS) {
      resolvers[`Mutation.${publishField(m, op)}`] = { kind: 'UNIT', dataSource: NONE_DATA_SOURCE, code: PUBLISH_RESOLVER };
    }
    for (const op of ['Create', 'Update', 'Delete', 'Delta']) {
      resolvers[`Subscription.on${op}${m.name}`] = { kind: 'UNIT', dataSource: NONE_DATA_SOURCE, code: SUBSCRIBE_RESOLVER };
    }
  }
  return { functions, dataSources, resolvers };
}

/** What subscribe.js needs per model: which auth modes see every row, and the owner rule if any. */
export function renderSubscriptionRules(models: readonly ModelMeta[]) {
  return Object.fromEntries(models.map((m) => {
    const owner = m.auth.find((r) => r.allow === 'owner');
    return [m.name, {
      apiKey: m.auth.some((r) => r.allow === 'public' && r.provider === 'apiKey'),
      iam: m.auth.some((r) => (r.allow === 'public' || r.allow === 'private') && r.provider === 'iam'),
      userPools: m.auth.some((r) => r.allow === 'private' && r.provider === 'userPools'),
      groups: m.auth.flatMap((r) => (r.allow === 'groups' ? r.groups : [])),
      owner: owner ? { field: owner.ownerField, identityClaim: owner.identityClaim } : null,
    }];
  }));
}
