import { buildSchema, parse, validate, type GraphQLSchema } from 'graphql';
import { APPSYNC_DEFINITIONS, renderAppSyncSchema } from '../src/appsync-sdl';
import { readSchema } from '../src/generate';
import { parseModels } from '../src/parse';
import type { ModelMeta } from '../src/model';

const models = parseModels(readSchema());
const sdl = renderAppSyncSchema(models);
let schema: GraphQLSchema;

beforeAll(() => {
  schema = buildSchema(APPSYNC_DEFINITIONS + sdl);
});


/** The operations as the DataStore client writes them (amplify-js datastore/src/sync/utils.ts buildGraphQLOperation). */
function dataStoreOperations(model: ModelMeta): string[] {
  const fields = [
    ...model.fields.map((f) => f.name), '_version', '_lastChangedAt', '_deleted',
    ...model.relations.filter((r) => r.kind === 'belongsTo').map((r) => `${r.name} { id _deleted }`),
  ].join('\n');
  const owner = model.auth.some((r) => r.allow === 'owner');
  const subscriptionArgs = owner ? '($filter: ModelSubscription{M}FilterInput, $owner: String)' : '($filter: ModelSubscription{M}FilterInput)';
  const subscriptionCall = owner ? '(filter: $filter, owner: $owner)' : '(filter: $filter)';
  return [
    `query operation($limit: Int, $nextToken: String, $lastSync: AWSTimestamp, $filter: Model{M}FilterInput) {
       sync{P}(limit: $limit, nextToken: $nextToken, lastSync: $lastSync, filter: $filter) { items { ${fields} } nextToken startedAt } }`,
    `query operation($id: ID!) { get{M}(id: $id) { ${fields} } }`,
    ...['create', 'update', 'delete'].map((op) => {
      const Op = op[0]!.toUpperCase() + op.slice(1);
      return `mutation operation($input: ${Op}{M}Input!, $condition: Model{M}ConditionInput) { ${op}{M}(input: $input, condition: $condition) { ${fields} } }`;
    }),
    ...['Create', 'Update', 'Delete'].map((Op) => `subscription operation${subscriptionArgs} { on${Op}{M}${subscriptionCall} { ${fields} } }`),
  ].map((text) => text.replaceAll('{M}', model.name).replaceAll('{P}', model.pluralName));
}

test.each(models.map((m) => [m.name, m] as const))('every operation DataStore sends for %s validates against the schema', (_name, model) => {
  for (const operation of dataStoreOperations(model)) {
    expect(validate(schema, parse(operation)).map((e) => e.message)).toEqual([]);
  }
});

test('the selective-sync filter DataStore sends is a valid ModelXFilterInput', () => {
  const errors = validate(schema, parse(`query { syncWorkOrders(filter: { and: [{ status: { eq: OPEN } }, { priority: { ne: LOW } }] }, lastSync: 0) { items { id } } }`));
  expect(errors).toEqual([]);
});

test('a model admits exactly the auth modes of its rules', () => {
  // Types also admit IAM: the forwarder's publish mutations return them (no root field of theirs does).
  expect(sdl).toContain('type WorkOrder @aws_cognito_user_pools @aws_iam {');
  expect(sdl).toContain('type Customer @aws_api_key @aws_cognito_user_pools @aws_iam {');
  expect(sdl).toContain('  syncWorkOrders(filter: ModelWorkOrderFilterInput, limit: Int, nextToken: String, lastSync: AWSTimestamp): ModelWorkOrderConnection @aws_cognito_user_pools\n');
});

test('subscriptions listen only to the forwarder\'s IAM-only publish mutations: one ordered path for every writer', () => {
  expect(sdl).toMatch(/onCreateWorkOrder\(filter: ModelSubscriptionWorkOrderFilterInput, owner: String\): WorkOrder @aws_subscribe\(mutations: \["publishCreateWorkOrder"\]\) @aws_cognito_user_pools\n/);
  expect(sdl).toMatch(/onDeleteSite\(filter: ModelSubscriptionSiteFilterInput\): Site @aws_subscribe\(mutations: \["publishDeleteSite"\]\)/);
  expect(sdl).toContain('  publishUpdateWorkOrder(item: AWSJSON!): WorkOrder @aws_iam\n');
  expect(sdl).not.toMatch(/aws_subscribe\(mutations: \["(create|update|delete)/);
});

test('inputs require what the model requires, except what the server sets', () => {
  expect(sdl).toContain('input CreateCustomerInput {\n  id: ID\n  name: String!\n  email: AWSEmail\n  phone: AWSPhone\n  _version: Int\n}');
  expect(sdl).toMatch(/input CreateWorkOrderInput \{[^}]*\n  owner: String\n/);
  expect(sdl).toContain('input DeleteWorkOrderInput {\n  id: ID!\n  _version: Int\n}');
});

test('a required field with a @default stays required on the type, and a create may leave it out', () => {
  const withDefault = renderAppSyncSchema(parseModels(`
    enum Priority { LOW NORMAL HIGH }
    type Job @model @auth(rules: [{ allow: public }]) { id: ID! title: String! priority: Priority! @default(value: "NORMAL") }`));
  expect(withDefault).toMatch(/type Job [^{]*\{\n  id: ID!\n  title: String!\n  priority: Priority!\n/);
  expect(withDefault).toContain('input CreateJobInput {\n  id: ID\n  title: String!\n  priority: Priority\n  _version: Int\n}');
  expect(withDefault).toContain('input UpdateJobInput {\n  id: ID!\n  title: String\n  priority: Priority\n  _version: Int\n}');
  // Valid SDL, and a create without the field validates against it (an app built before the field existed).
  const jobSchema = buildSchema(APPSYNC_DEFINITIONS + withDefault);
  expect(validate(jobSchema, parse('mutation { createJob(input: { title: "Fix pump" }) { id title } }'))).toEqual([]);
  expect(validate(jobSchema, parse('mutation { createJob(input: { priority: HIGH }) { id } }')).map((e) => e.message))
    .toContainEqual(expect.stringMatching(/Field "CreateJobInput.title" of required type "String!" was not provided/));
});

test('a misspelt type name is caught', () => {
  expect(validate(schema, parse('query { syncWorkOrder(lastSync: 0) { items { id } } }')).length).toBeGreaterThan(0);
});
