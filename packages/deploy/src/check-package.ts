// Checks what `sls package` produced, before anything is deployed: the wiring is complete and points at
// things that exist, the template holds no secret, and every function is small enough.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelMeta } from '@datastore-pg/schema';

export const MAX_FUNCTION_ZIP_BYTES = 1024 * 1024;

type Resource = { Type: string; Properties?: Record<string, unknown> };
export type Template = { Resources: Record<string, Resource> };

/** The fields DataStore calls for a model: each needs a resolver. */
export function dataStoreFields(model: ModelMeta): string[] {
  return [
    `Query.get${model.name}`, `Query.sync${model.pluralName}`,
    ...['create', 'update', 'delete'].map((op) => `Mutation.${op}${model.name}`),
    ...['Create', 'Update', 'Delete'].map((op) => `Subscription.on${op}${model.name}`),
  ];
}

/** Every problem found in a packaged template; an empty list means it may be deployed. */
export function checkTemplate(template: Template, models: readonly ModelMeta[], sdl: string): string[] {
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
  for (const model of models) {
    for (const field of dataStoreFields(model)) if (!resolved.has(field)) problems.push(`${field} has no resolver`);
  }

  for (const [name, dataSource] of ofType('AWS::AppSync::DataSource')) {
    const lambda = (dataSource.Properties?.LambdaConfig as { LambdaFunctionArn?: unknown } | undefined)?.LambdaFunctionArn;
    if (dataSource.Properties?.Type !== 'AWS_LAMBDA') continue;
    const fn = getAttTarget(lambda);
    if (!fn || resources[fn]?.Type !== 'AWS::Lambda::Function') problems.push(`data source ${name} points at function ${fn ?? '?'}, which the template does not define`);
  }

  const [schema] = ofType('AWS::AppSync::GraphQLSchema');
  if (!schema || schema[1].Properties?.Definition !== sdl) problems.push('the packaged schema is not the generated appsync/schema.graphql (run `npm run generate`)');

  problems.push(...findSecrets(JSON.stringify(template)).map((what) => `the template ${what}`));
  return problems;
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

export function checkZips(directory: string): string[] {
  return readdirSync(directory)
    .filter((file) => file.endsWith('.zip'))
    .filter((file) => statSync(join(directory, file)).size > MAX_FUNCTION_ZIP_BYTES)
    .map((file) => `${file} is ${statSync(join(directory, file)).size} bytes, over the ${MAX_FUNCTION_ZIP_BYTES}-byte limit`);
}

export function readTemplate(directory: string): Template {
  return JSON.parse(readFileSync(join(directory, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}
