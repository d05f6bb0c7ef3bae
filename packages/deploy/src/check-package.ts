// Checks what `sls package` produced, before anything is deployed: the wiring is complete and points at
// things that exist, the template holds no secret, and every function is small enough.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { renderAppSyncSchema, renderWiring, type ModelMeta } from '@datastore-pg/schema';

const MAX_FUNCTION_ZIP_BYTES = 1024 * 1024;

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type Template = { Resources: Record<string, Resource> };

/** Every problem found in a packaged template; an empty list means it may be deployed. */
export function checkTemplate(template: Template, models: readonly ModelMeta[]): string[] {
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

  problems.push(...findSecrets(JSON.stringify(template)).map((what) => `the template ${what}`));
  problems.push(...splitDynamicReferences(template).map((ref) => `the template splits ${ref}, which CloudFormation splits before resolving it (use a parameter of type AWS::SSM::Parameter::Value<List<...>>)`));
  return problems;
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
