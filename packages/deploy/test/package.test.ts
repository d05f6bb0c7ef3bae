// `npm run package` for two stages, offline, and the checks that keep a broken stack from deploying.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { checkTemplate, findSecrets, readTemplate, type Template } from '../src/check-package';
import { packageStage } from '../src/package-cli';
import { readZip } from '../src/zip';

const ROOT = join(__dirname, '../../..');
const models = parseModels(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
const db = useTestDatabase();
const packaged: Record<string, { directory: string; template: Template }> = {};

beforeAll(() => {
  for (const stage of ['dev', 'prod']) {
    const { directory, problems } = packageStage(stage);
    expect(problems).toEqual([]);
    packaged[stage] = { directory, template: readTemplate(directory) };
  }
}, 120_000);

const resourcesOf = (template: Template, type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

test('each stage takes its own settings and the permissions stay scoped to its proxy and user', () => {
  for (const [stage, retention] of [['dev', 14], ['prod', 90]] as const) {
    const text = JSON.stringify(packaged[stage]!.template);
    expect(text).toContain(`{{resolve:ssm:/datastore-pg/${stage}/rds-proxy-endpoint}}`);
    expect(text).toContain(`dbuser:{{resolve:ssm:/datastore-pg/${stage}/rds-proxy-resource-id}}/datastore_app`);
    expect(text).not.toContain('"rds-db:*"');
    const logGroups = resourcesOf(packaged[stage]!.template, 'AWS::Logs::LogGroup');
    expect(logGroups.length).toBeGreaterThan(0);
    expect(logGroups.every((g) => g.Properties?.RetentionInDays === retention)).toBe(true);
  }
});

test('the API takes API key, Cognito user pools and IAM', () => {
  const [api] = resourcesOf(packaged.prod!.template, 'AWS::AppSync::GraphQLApi');
  expect(api!.Properties).toMatchObject({
    AuthenticationType: 'API_KEY',
    AdditionalAuthenticationProviders: [
      { AuthenticationType: 'AMAZON_COGNITO_USER_POOLS', UserPoolConfig: expect.objectContaining({ UserPoolId: '{{resolve:ssm:/datastore-pg/prod/user-pool-id}}' }) },
      { AuthenticationType: 'AWS_IAM' },
    ],
  });
});

test('a packaged function is self-contained: run from its zip, it serves a sync', async () => {
  // Extract the WorkOrder bundle and load it with no node_modules in reach: everything it needs must be inside.
  const dir = mkdtempSync(join(tmpdir(), 'dspg-bundle-'));
  const files = readZip(join(packaged.prod!.directory, 'workOrder.zip'));
  expect([...files.keys()]).toEqual(['services/work-order/handler.js']);
  writeFileSync(join(dir, 'handler.js'), files.get('services/work-order/handler.js')!);
  process.env.DATABASE_URL = db.url;
  const { handler } = require(join(dir, 'handler.js')) as { handler: (event: unknown, context: unknown) => Promise<unknown> };
  const identity = { sub: 's', username: 'tech-1', claims: { 'cognito:username': 'tech-1' }, groups: [] };
  const result = await handler({ arguments: { lastSync: 0, limit: 10 }, identity, info: { fieldName: 'syncWorkOrders', parentTypeName: 'Query' } }, {});
  expect(result).toEqual({ data: { items: [], nextToken: null, startedAt: expect.any(Number) } });
});

describe('the template checks catch', () => {
  const clone = (): Template => JSON.parse(JSON.stringify(packaged.dev!.template)) as Template;

  test('a field DataStore calls without a resolver', () => {
    const template = clone();
    delete template.Resources.GraphQlResolverQuerysyncWorkOrders;
    expect(checkTemplate(template, models)).toEqual(['Query.syncWorkOrders has no resolver']);
  });

  test('a data source pointing at a function that does not exist', () => {
    const template = clone();
    const ds = template.Resources.GraphQlDsWorkOrderLambda!.Properties!;
    ds.LambdaConfig = { LambdaFunctionArn: { 'Fn::GetAtt': ['WorkOrdrLambdaFunction', 'Arn'] } };
    expect(checkTemplate(template, models)).toEqual(['data source GraphQlDsWorkOrderLambda points at function WorkOrdrLambdaFunction, which the template does not define']);
  });

  test('a resolver on a data source that does not exist', () => {
    const template = clone();
    template.Resources.GraphQlResolverQuerygetSite!.Properties!.DataSourceName = { 'Fn::GetAtt': ['GraphQlDsSiteLambada', 'Name'] };
    expect(checkTemplate(template, models)).toEqual(['resolver GraphQlResolverQuerygetSite uses data source GraphQlDsSiteLambada, which the template does not define']);
  });

  test('a stale schema', () => {
    const template = clone();
    const schema = Object.values(template.Resources).find((r) => r.Type === 'AWS::AppSync::GraphQLSchema')!;
    schema.Properties!.Definition = `${String(schema.Properties!.Definition)}\n# edited`;
    expect(checkTemplate(template, models)).toEqual(['the packaged schema is not the generated appsync/schema.graphql (run `npm run generate`)']);
  });

  test('a list split out of an SSM dynamic reference (split before it is resolved)', () => {
    const template = clone();
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
    (fn.Properties!.VpcConfig as Record<string, unknown>).SubnetIds = { 'Fn::Split': [',', '{{resolve:ssm:/datastore-pg/dev/subnet-ids}}'] };
    expect(checkTemplate(template, models)).toEqual([
      'the template splits {{resolve:ssm:/datastore-pg/dev/subnet-ids}}, which CloudFormation splits before resolving it (use a parameter of type AWS::SSM::Parameter::Value<List<...>>)',
    ]);
  });

  test.each([
    ['an access key', '"Key": "AKIAABCDEFGHIJKLMNOP"'],
    ['a password', '"DB_PASSWORD": "hunter2"'],
    ['a URL with a password', '"url": "postgres://app:hunter2@db.example:5432/app"'],
  ])('%s', (_name, text) => {
    expect(findSecrets(text)).toHaveLength(1);
  });

  test('but not an SSM reference', () => {
    expect(findSecrets('"password": "{{resolve:ssm:/x/y}}"')).toEqual([]);
  });
});
