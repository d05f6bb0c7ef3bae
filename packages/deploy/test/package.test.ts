// `npm run package` for two stages, offline, and the checks that keep a broken stack from deploying.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newDevCredentials, startLocalAppSync } from '@datastore-pg/local-appsync';
import { parseModels } from '@datastore-pg/schema';
import { useTestDatabase } from '@datastore-pg/testing';
import { checkReaderEnvironment, checkTemplate, findSecrets, PUBLISH_FIELDS_ARN, readTemplate, type Template } from '../src/check-package';
import { packageStage } from '../src/package-cli';
import { MONITORING_PATH, renderMonitoring } from '../src/monitoring';
import { loadStage } from '../src/stages';
import { readZip } from '../src/zip';

const ROOT = join(__dirname, '../../..');
const models = parseModels(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
const db = useTestDatabase();
const packaged: Record<string, { directory: string; template: Template }> = {};
const DEV_ALARMS = loadStage('dev').alarms;

beforeAll(() => {
  for (const stage of ['dev', 'prod']) {
    const { directory, problems } = packageStage(stage);
    expect(problems).toEqual([]);
    packaged[stage] = { directory, template: readTemplate(directory) };
  }
  // dev as if its stages.json entry said "readReplica": true (no stage does yet).
  const { directory, problems } = packageStage('dev', { readReplica: true });
  expect(problems).toEqual([]);
  packaged['dev with replica'] = { directory, template: readTemplate(directory) };
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

test('a stage with readReplica gives its functions the proxy\'s read-only endpoint, the same permission; a stage without, none', () => {
  const readerHosts = (template: Template) => resourcesOf(template, 'AWS::Lambda::Function')
    .map((fn) => (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.DB_READER_HOST);
  const withReplica = packaged['dev with replica']!.template;
  expect(readerHosts(withReplica).length).toBeGreaterThan(1);
  expect(new Set(readerHosts(withReplica))).toEqual(new Set(['{{resolve:ssm:/datastore-pg/dev/rds-proxy-reader-endpoint}}']));
  for (const stage of ['dev', 'prod']) {
    expect(new Set(readerHosts(packaged[stage]!.template))).toEqual(new Set(['']));
    expect(JSON.stringify(packaged[stage]!.template)).not.toContain('rds-proxy-reader-endpoint'); // no SSM parameter to create
  }
  // The read-only endpoint belongs to the same proxy (its resource id): the roles need nothing more.
  for (const role of ['IamRoleLambdaExecution', 'ForwarderRole']) expect(withReplica.Resources[role]).toEqual(packaged.dev!.template.Resources[role]);
  expect(JSON.stringify(withReplica.Resources.IamRoleLambdaExecution)).toContain('dbuser:{{resolve:ssm:/datastore-pg/dev/rds-proxy-resource-id}}/datastore_app');
});

test('each stage gets the dashboard and alarms with its own thresholds from stages.json, and the generated file is current', () => {
  expect(readFileSync(MONITORING_PATH, 'utf8')).toBe(`${JSON.stringify(renderMonitoring(models), null, 2)}\n`);
  for (const stage of ['dev', 'prod']) {
    const { alarms } = loadStage(stage);
    const resources = packaged[stage]!.template.Resources;
    expect(resources.WatermarkLagAlarm!.Properties).toMatchObject({
      Namespace: 'datastore-pg', MetricName: 'WatermarkLag', Dimensions: [{ Name: 'service', Value: `datastore-pg-${stage}` }],
      Threshold: alarms.watermarkLagMs, AlarmActions: [{ Ref: 'AlarmTopic' }],
    });
    expect(resources.ForwarderLagAlarm!.Properties).toMatchObject({ Threshold: alarms.forwarderLagMs, TreatMissingData: 'breaching' });
    // The dashboard's threshold lines are the alarms' (numbers in its JSON body).
    expect(JSON.stringify(resources.Dashboard!.Properties!.DashboardBody)).toContain(`\\"label\\":\\"watermark alarm\\",\\"value\\":${alarms.watermarkLagMs}}`);
  }
  expect(loadStage('prod').alarms.watermarkLagMs).not.toBe(loadStage('dev').alarms.watermarkLagMs);
  expect(Object.keys(packaged.prod!.template.Resources).filter((name) => name.endsWith('ThrottlesAlarm')).sort())
    .toEqual(Object.entries(packaged.prod!.template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function').map(([name]) => `${name}ThrottlesAlarm`).sort());
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

test('the forwarder: on a schedule, told the API\'s URL, its own role may call the publish mutations and nothing else', () => {
  const resources = packaged.prod!.template.Resources;
  const fn = resources.ForwarderLambdaFunction!.Properties!;
  expect(fn).toMatchObject({ Handler: 'services/forwarder/handler.handler', Timeout: 90, ReservedConcurrentExecutions: 2, Role: { 'Fn::GetAtt': ['ForwarderRole', 'Arn'] } });
  expect(resources.ForwarderEventsRuleSchedule1!.Properties).toMatchObject({ ScheduleExpression: 'rate(1 minute)', State: 'ENABLED' });
  const statements = (resources.ForwarderRole!.Properties!.Policies as { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } }[])[0]!.PolicyDocument.Statement;
  expect(statements.filter((st) => JSON.stringify(st.Action).includes('appsync'))).toEqual([
    expect.objectContaining({ Action: 'appsync:GraphQL', Resource: { 'Fn::Sub': PUBLISH_FIELDS_ARN } }),
  ]);
  // The model functions' role has no AppSync permission at all.
  expect(JSON.stringify(resources.IamRoleLambdaExecution)).not.toContain('appsync');
});

test('the packaged forwarder, run from its zip, publishes an SQL change through AppSync\'s protocol with SigV4', async () => {
  // The local endpoint stands in for AppSync (it takes a SigV4 header as an IAM caller); the bundle
  // reaches the test database through DATABASE_URL instead of RDS Proxy, and signs with stand-in keys.
  const dir = mkdtempSync(join(tmpdir(), 'dspg-forwarder-'));
  const files = readZip(join(packaged.prod!.directory, 'forwarder.zip'));
  expect([...files.keys()]).toEqual(['services/forwarder/handler.js']);
  writeFileSync(join(dir, 'handler.js'), files.get('services/forwarder/handler.js')!);
  const local = await startLocalAppSync({ credentials: newDevCredentials() });
  const published: unknown[] = [];
  local.api.onMutation((field, result) => field === 'publishCreateCustomer' && published.push(result));
  Object.assign(process.env, {
    DATABASE_URL: db.url, APPSYNC_URL: local.url, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'stand-in', LOG_LEVEL: 'silent',
    POWERTOOLS_SERVICE_NAME: 'datastore-pg-prod', POWERTOOLS_METRICS_DISABLED: 'false', // as deployed: its metrics are printed
  });
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => printed.push(String(chunk)) > 0) as typeof process.stdout.write;
  try {
    const { handler } = require(join(dir, 'handler.js')) as { handler: (event: unknown, context: unknown) => Promise<{ forwarded: boolean; published: number }> };
    const running = handler({}, { getRemainingTimeInMillis: () => 13_000 }); // forwards for 3 s
    await new Promise((done) => setTimeout(done, 1000));
    const [customer] = await db.sql<{ id: string }[]>`insert into customers (name) values ('Forwarded from the bundle') returning id`;

    expect(await running).toEqual({ forwarded: true, published: 1, passes: expect.any(Number), failedPasses: 0 });
    expect(published).toEqual([expect.objectContaining({ id: customer!.id, name: 'Forwarded from the bundle', _version: 1 })]);
    // Its metrics, sampled before the run and printed again at its end: what the forwarder and watermark
    // lag alarms read, and what it published.
    const metrics = printed.join('').split('\n').filter((l) => l.includes('"_aws"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(metrics).toHaveLength(2);
    expect(metrics.at(-1)).toMatchObject({ service: 'datastore-pg-prod', Published: 1, ForwarderErrors: 0, WatermarkLag: expect.any(Number), ForwarderLag: expect.any(Number) });
  } finally {
    process.stdout.write = write;
    for (const name of ['APPSYNC_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'POWERTOOLS_SERVICE_NAME']) delete process.env[name];
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
    await local.close();
  }
}, 30_000);

describe('the template checks catch', () => {
  test('a forwarder role that may call more of the API than the publish mutations', () => {
    const template = clone();
    const policy = (template.Resources.ForwarderRole!.Properties!.Policies as { PolicyDocument: { Statement: { Resource: unknown }[] } }[])[0]!;
    policy.PolicyDocument.Statement[0]!.Resource = { 'Fn::Sub': '${GraphQlApi.Arn}/*' };
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['role ForwarderRole (the forwarder\'s) may call AppSync beyond the publish mutations: {"Fn::Sub":"${GraphQlApi.Arn}/*"}']);
  });

  test('another role that may call AppSync', () => {
    const template = clone();
    const role = template.Resources.IamRoleLambdaExecution!.Properties!.Policies as { PolicyDocument: { Statement: unknown[] } }[];
    role[0]!.PolicyDocument.Statement.push({ Effect: 'Allow', Action: ['appsync:GraphQL'], Resource: '*' });
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['role IamRoleLambdaExecution may call AppSync (only the forwarder\'s role may, and only the publish mutations)']);
  });

  test('publish.js told to admit another role\'s sessions', () => {
    const template = clone();
    (template.Resources.GraphQlApi!.Properties!.EnvironmentVariables as Record<string, unknown>).FORWARDER_SESSIONS = { 'Fn::Sub': 'arn:${AWS::Partition}:sts::${AWS::AccountId}:assumed-role/Admin/' };
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['the API\'s FORWARDER_SESSIONS does not name the sessions of ForwarderRole: publish.js would admit no one, or the wrong role']);
  });

  test.each([
    ['a policy resource attached to it, with a wildcard action', (t: Template) => {
      t.Resources.ExtraPolicy = { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'IamRoleLambdaExecution' }], PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'appsync:Graph*', Resource: '*' }] } } };
    }],
    ['an Allow with NotAction', (t: Template) => {
      (t.Resources.IamRoleLambdaExecution!.Properties!.Policies as { PolicyDocument: { Statement: unknown[] } }[])[0]!.PolicyDocument.Statement.push({ Effect: 'Allow', NotAction: ['iam:*'], Resource: '*' });
    }],
    ['a managed policy with AppSync rights', (t: Template) => {
      t.Resources.IamRoleLambdaExecution!.Properties!.ManagedPolicyArns = ['arn:aws:iam::aws:policy/AWSAppSyncInvokeFullAccess'];
    }],
  ])('another role that may call AppSync through %s', (_how, edit) => {
    const template = clone();
    edit(template);
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['role IamRoleLambdaExecution may call AppSync (only the forwarder\'s role may, and only the publish mutations)']);
  });

  test('a forwarder that nothing starts', () => {
    const template = clone();
    delete template.Resources.ForwarderEventsRuleSchedule1;
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['function ForwarderLambdaFunction (the forwarder) is not started by a schedule']);
  });

  const clone = (): Template => JSON.parse(JSON.stringify(packaged.dev!.template)) as Template;

  test.each([
    ['an alarm removed', (t: Template) => delete t.Resources.PurgeFailuresAlarm, 'no alarm PurgeFailuresAlarm (PurgeFailures)'],
    ['a threshold that is not the stage\'s', (t: Template) => (t.Resources.WatermarkLagAlarm!.Properties!.Threshold = 5), `alarm WatermarkLagAlarm has threshold 5, stages.json says ${DEV_ALARMS.watermarkLagMs}`],
    ['an alarm that tells no one', (t: Template) => (t.Resources.ConflictsAlarm!.Properties!.AlarmActions = []), 'alarm ConflictsAlarm does not notify AlarmTopic'],
    ['an alarm on a metric nothing emits', (t: Template) => (t.Resources.ForwarderLagAlarm!.Properties!.MetricName = 'ForwarderDelay'),
      'alarm ForwarderLagAlarm reads datastore-pg/ForwarderDelay of service "datastore-pg-dev", not datastore-pg/ForwarderLag of datastore-pg-dev: it would never fire'],
    ['a function without its throttles alarm', (t: Template) => delete t.Resources.SiteLambdaFunctionThrottlesAlarm, 'no alarm SiteLambdaFunctionThrottlesAlarm (throttles of SiteLambdaFunction)'],
    ['a function logging under another service', (t: Template) => {
      ((t.Resources.PartLambdaFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables).POWERTOOLS_SERVICE_NAME = 'parts';
    }, 'every function must log and measure under one POWERTOOLS_SERVICE_NAME (found datastore-pg-dev, parts): the alarms read one service'],
    ['a dashboard without a metric', (t: Template) => {
      const body = t.Resources.Dashboard!.Properties!.DashboardBody as { 'Fn::Sub': string };
      body['Fn::Sub'] = body['Fn::Sub'].replaceAll('"PurgeAge"', '"PurgeAgo"');
    }, 'the dashboard does not show PurgeAge'],
  ])('monitoring: %s', (_what, edit, problem) => {
    const template = clone();
    edit(template);
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual([problem]);
  });

  test.each([
    ['a reader endpoint on a stage that does not enable readReplica', false, (t: Template) => {
      ((t.Resources.SiteLambdaFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables).DB_READER_HOST = 'replica.example';
    }, 'function SiteLambdaFunction is given a reader endpoint (DB_READER_HOST "replica.example"), though stages.json does not enable readReplica'],
    ['a function without the reader endpoint on a stage that enables readReplica', true, (t: Template) => {
      for (const fn of Object.values(t.Resources).filter((r) => r.Type === 'AWS::Lambda::Function')) {
        (fn.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.DB_READER_HOST = '{{resolve:ssm:/datastore-pg/dev/rds-proxy-reader-endpoint}}';
      }
      delete (t.Resources.PartLambdaFunction!.Properties!.Environment as { Variables: Record<string, unknown> }).Variables.DB_READER_HOST;
    }, 'function PartLambdaFunction is not given the read-only endpoint {{resolve:ssm:/datastore-pg/dev/rds-proxy-reader-endpoint}} as DB_READER_HOST, though stages.json enables readReplica'],
  ])('%s', (_what, readReplica, edit, problem) => {
    const template = clone();
    edit(template);
    expect(checkReaderEnvironment(template, { ssmPrefix: '/datastore-pg/dev', readReplica })).toEqual([problem]);
  });

  test('a field DataStore calls without a resolver', () => {
    const template = clone();
    delete template.Resources.GraphQlResolverQuerysyncWorkOrders;
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['Query.syncWorkOrders has no resolver']);
  });

  test('a data source pointing at a function that does not exist', () => {
    const template = clone();
    const ds = template.Resources.GraphQlDsWorkOrderLambda!.Properties!;
    ds.LambdaConfig = { LambdaFunctionArn: { 'Fn::GetAtt': ['WorkOrdrLambdaFunction', 'Arn'] } };
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['data source GraphQlDsWorkOrderLambda points at function WorkOrdrLambdaFunction, which the template does not define']);
  });

  test('a resolver on a data source that does not exist', () => {
    const template = clone();
    template.Resources.GraphQlResolverQuerygetSite!.Properties!.DataSourceName = { 'Fn::GetAtt': ['GraphQlDsSiteLambada', 'Name'] };
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['resolver GraphQlResolverQuerygetSite uses data source GraphQlDsSiteLambada, which the template does not define']);
  });

  test('a stale schema', () => {
    const template = clone();
    const schema = Object.values(template.Resources).find((r) => r.Type === 'AWS::AppSync::GraphQLSchema')!;
    schema.Properties!.Definition = `${String(schema.Properties!.Definition)}\n# edited`;
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual(['the packaged schema is not the generated appsync/schema.graphql (run `npm run generate`)']);
  });

  test('a list split out of an SSM dynamic reference (split before it is resolved)', () => {
    const template = clone();
    const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function')!;
    (fn.Properties!.VpcConfig as Record<string, unknown>).SubnetIds = { 'Fn::Split': [',', '{{resolve:ssm:/datastore-pg/dev/subnet-ids}}'] };
    expect(checkTemplate(template, models, DEV_ALARMS)).toEqual([
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
