// Checks what `sls package` produced, before anything is deployed: the wiring is complete and points at
// things that exist, the forwarder is scheduled and may call only the publish mutations, the dashboard and
// alarms are there with the stage's thresholds, the template holds no secret, and every function is small
// enough.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LIVE_OPERATIONS, publishField, renderAppSyncSchema, renderWiring, type ModelMeta } from '@datastore-pg/schema';
import { checkMonitoring } from './check-monitoring';
import type { AlarmThresholds } from './monitoring';
import type { StageConfig } from './stages';

const MAX_FUNCTION_ZIP_BYTES = 1024 * 1024;

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type Template = { Resources: Record<string, Resource> };

/** Every problem found in a packaged template; an empty list means it may be deployed. */
export function checkTemplate(template: Template, models: readonly ModelMeta[], alarms: AlarmThresholds): string[] {
  const problems: string[] = [];
  const resources = template.Resources;
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const getAttTarget = (value: unknown): string | undefined => {
    const getAtt = (value as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt'];
    return getAtt?.[0];
  };

  const resolved = new Set<string>();
  for (const [name, resolver] of ofType('AWS::AppSync::Resolver')) {
    const props = resolver.Properties ?? {};
    resolved.add(`${String(props.TypeName)}.${String(props.FieldName)}`);
    const dataSource = getAttTarget(props.DataSourceName);
    if (!dataSource || resources[dataSource]?.Type !== 'AWS::AppSync::DataSource') {
      problems.push(`resolver ${name} uses data source ${dataSource ?? '?'}, which the template does not define`);
    }
    if (typeof props.Code !== 'string' || !props.Code.includes('export')) problems.push(`resolver ${name} has no APPSYNC_JS code`);
  }
  // Every field the generated wiring resolves (what DataStore calls for each model).
  for (const field of Object.keys(renderWiring(models).resolvers)) if (!resolved.has(field)) problems.push(`${field} has no resolver`);

  for (const [name, dataSource] of ofType('AWS::AppSync::DataSource')) {
    const lambda = (dataSource.Properties?.LambdaConfig as { LambdaFunctionArn?: unknown } | undefined)?.LambdaFunctionArn;
    if (dataSource.Properties?.Type !== 'AWS_LAMBDA') continue;
    const fn = getAttTarget(lambda);
    if (!fn || resources[fn]?.Type !== 'AWS::Lambda::Function') problems.push(`data source ${name} points at function ${fn ?? '?'}, which the template does not define`);
  }

  const [schema] = ofType('AWS::AppSync::GraphQLSchema');
  if (!schema || schema[1].Properties?.Definition !== renderAppSyncSchema(models)) problems.push('the packaged schema is not the generated appsync/schema.graphql (run `npm run generate`)');

  problems.push(...checkForwarder(template, models));
  problems.push(...checkMonitoring(resources, alarms));
  problems.push(...findSecrets(JSON.stringify(template)).map((what) => `the template ${what}`));
  problems.push(...splitDynamicReferences(template).map((ref) => `the template splits ${ref}, which CloudFormation splits before resolving it (use a parameter of type AWS::SSM::Parameter::Value<List<...>>)`));
  return problems;
}

/** DB_READER_HOST as a stage's functions must have it: the SSM reference when it enables readReplica, empty otherwise. */
export function readerHostFor(stage: Pick<StageConfig, 'ssmPrefix' | 'readReplica'>): string {
  return stage.readReplica ? `{{resolve:ssm:${stage.ssmPrefix}/rds-proxy-reader-endpoint}}` : '';
}

/**
 * Sync pages are read from a replica only on a stage whose stages.json entry enables one: there every
 * function is given the proxy's read-only endpoint, elsewhere none is (and the stage needs no SSM
 * parameter for it).
 */
export function checkReaderEnvironment(template: Template, stage: Pick<StageConfig, 'ssmPrefix' | 'readReplica'>): string[] {
  const expected = readerHostFor(stage);
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::Lambda::Function')
    .flatMap(([name, fn]) => {
      const host = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.DB_READER_HOST ?? '';
      if (JSON.stringify(host) === JSON.stringify(expected)) return [];
      return [stage.readReplica
        ? `function ${name} is not given the read-only endpoint ${expected} as DB_READER_HOST, though stages.json enables readReplica`
        : `function ${name} is given a reader endpoint (DB_READER_HOST ${JSON.stringify(host)}), though stages.json does not enable readReplica`];
    });
}

export const FORWARDER_HANDLER = 'services/forwarder/handler.handler';
/** The only AppSync fields the forwarder's role may call: every publish<Op><Model> mutation. */
export const PUBLISH_FIELDS_ARN = '${GraphQlApi.Arn}/types/Mutation/fields/publish*';

/**
 * The forwarder: a function on a schedule, told the API's URL, whose role may call the publish
 * mutations and nothing else of the API, and no other role in the stack may call them (a device's
 * Lambda that could publish could send any item to any subscriber).
 */
function checkForwarder(template: Template, models: readonly ModelMeta[]): string[] {
  const problems: string[] = [];
  const resources = template.Resources;
  const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
  const [name, fn] = functions.find(([, r]) => r.Properties?.Handler === FORWARDER_HANDLER) ?? [];
  if (!name || !fn) return [`no function runs ${FORWARDER_HANDLER}: changes by other writers would not reach devices`];

  const scheduled = Object.values(resources).some((r) => r.Type === 'AWS::Events::Rule' && typeof r.Properties?.ScheduleExpression === 'string'
    && JSON.stringify(r.Properties?.Targets ?? []).includes(JSON.stringify({ 'Fn::GetAtt': [name, 'Arn'] })));
  if (!scheduled) problems.push(`function ${name} (the forwarder) is not started by a schedule`);
  const environment = (fn.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables;
  if (JSON.stringify(environment?.APPSYNC_URL) !== JSON.stringify({ 'Fn::GetAtt': ['GraphQlApi', 'GraphQLUrl'] })) problems.push(`function ${name} (the forwarder) is not given the API's URL as APPSYNC_URL`);
  const concurrency = Number(environment?.FORWARDER_PUBLISH_CONCURRENCY);
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    problems.push(`function ${name} (the forwarder) has no FORWARDER_PUBLISH_CONCURRENCY of 1 or more (stages.json forwarderPublishConcurrency): it would not start`);
  }

  const forwarderRole = (fn.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
  // publish.js admits the sessions of the role named here, and only those.
  const sessions = (resources.GraphQlApi?.Properties?.EnvironmentVariables as Record<string, unknown> | undefined)?.FORWARDER_SESSIONS;
  if (JSON.stringify(sessions) !== JSON.stringify({ 'Fn::Sub': `arn:\${AWS::Partition}:sts::\${AWS::AccountId}:assumed-role/\${${forwarderRole}}/` })) {
    problems.push(`the API's FORWARDER_SESSIONS does not name the sessions of ${forwarderRole ?? 'the forwarder\'s role'}: publish.js would admit no one, or the wrong role`);
  }
  for (const [roleName, role] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role')) {
    const grants = appSyncGrants(roleName, role, resources);
    if (roleName === forwarderRole) {
      if (grants.length === 0) problems.push(`role ${roleName} (the forwarder's) may not call the publish mutations`);
      for (const grant of grants) if (grant !== JSON.stringify({ 'Fn::Sub': PUBLISH_FIELDS_ARN })) problems.push(`role ${roleName} (the forwarder's) may call AppSync beyond the publish mutations: ${grant}`);
    } else if (grants.length > 0) {
      problems.push(`role ${roleName} may call AppSync (only the forwarder's role may, and only the publish mutations)`);
    }
  }
  // The policy names the publish fields by their prefix: no other mutation may share it.
  const publishFields = new Set(models.flatMap((m) => LIVE_OPERATIONS.map((op) => publishField(m, op))));
  const mutations = renderAppSyncSchema(models).split('type Mutation {')[1]?.split('}')[0] ?? '';
  for (const field of mutations.matchAll(/^\s+(publish\w*)\(/gm)) if (!publishFields.has(field[1]!)) problems.push(`Mutation.${field[1]} is not a publish mutation but the forwarder's role may call it`);
  return problems;
}

type Statement = { Effect?: string; Action?: unknown; NotAction?: unknown; Resource?: unknown };

/**
 * The resources of every statement that lets a role call appsync:GraphQL, as JSON: its inline policies
 * and the AWS::IAM::Policy / ManagedPolicy resources of the template attached to it, with wildcard
 * actions and Allow + NotAction counted; a managed policy ARN that may carry AppSync rights counts as '*'.
 */
function appSyncGrants(roleName: string, role: Resource, resources: Template['Resources']): string[] {
  const documents = [
    ...((role.Properties?.Policies ?? []) as { PolicyDocument?: { Statement?: Statement[] } }[]).map((p) => p.PolicyDocument),
    ...Object.values(resources)
      .filter((r) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && JSON.stringify(r.Properties?.Roles ?? []).includes(`"${roleName}"`))
      .map((r) => r.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined),
  ];
  const statements = documents.flatMap((d) => [d?.Statement ?? []].flat());
  const granting = statements.filter((st) => st.Effect === 'Allow'
    && (st.NotAction !== undefined ? ![st.NotAction].flat().some(allowsGraphQL) : [st.Action].flat().some(allowsGraphQL)));
  const managed = [role.Properties?.ManagedPolicyArns ?? []].flat().filter((arn) => /AppSync|AdministratorAccess|PowerUserAccess/i.test(JSON.stringify(arn)));
  return [...granting.flatMap((st) => [st.Resource].flat().map((r) => JSON.stringify(r))), ...managed.map(() => JSON.stringify('*'))];
}

/** Whether an IAM action (wildcards allowed) covers appsync:GraphQL. */
function allowsGraphQL(action: unknown): boolean {
  if (typeof action !== 'string') return false;
  const pattern = new RegExp(`^${action.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return pattern.test('appsync:GraphQL');
}

/** Fn::Split over a {{resolve:...}} string: CloudFormation splits the placeholder text, not the value. */
function splitDynamicReferences(node: unknown): string[] {
  if (Array.isArray(node)) return node.flatMap(splitDynamicReferences);
  if (typeof node !== 'object' || node === null) return [];
  const split = (node as { 'Fn::Split'?: unknown[] })['Fn::Split'];
  const source = Array.isArray(split) ? split[1] : undefined;
  const here = typeof source === 'string' && source.includes('{{resolve:') ? [source] : [];
  return [...here, ...Object.values(node).flatMap(splitDynamicReferences)];
}

const SECRET_PATTERNS: [RegExp, string][] = [
  [/AKIA[0-9A-Z]{16}/, 'an AWS access key id'],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key'],
  // A literal password; an interpolated one (${...}) is made at run time.
  [/postgres(ql)?:\/\/[^:@/"\s]+:(?!\$\{)[^@/"\s]+@/, 'a database URL with a password'],
  [/"(password|secret|secretAccessKey|DB_PASSWORD|PGPASSWORD)"\s*:\s*"(?!\{\{resolve:)[^"]+"/i, 'a literal password or secret'],
];

export function findSecrets(text: string): string[] {
  return SECRET_PATTERNS.filter(([pattern]) => pattern.test(text)).map(([, what]) => `contains ${what}`);
}

export function zipSizes(directory: string): { file: string; size: number }[] {
  return readdirSync(directory).filter((file) => file.endsWith('.zip')).map((file) => ({ file, size: statSync(join(directory, file)).size }));
}

export function checkZips(zips: readonly { file: string; size: number }[]): string[] {
  return zips.filter(({ size }) => size > MAX_FUNCTION_ZIP_BYTES).map(({ file, size }) => `${file} is ${size} bytes, over the ${MAX_FUNCTION_ZIP_BYTES}-byte limit`);
}

export function readTemplate(directory: string): Template {
  return JSON.parse(readFileSync(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}
