// schema.graphql, with the directives datastore-pg adds (@conflict, @counter), stays valid for Amplify's
// own model generator: the mobile team's `amplify codegen models` must keep working.
import { readFileSync } from 'node:fs';
import { DefaultDirectives } from '@aws-amplify/graphql-directives';
import { APPSYNC_DEFINITIONS, DATASTORE_PG_DIRECTIVES } from '@datastore-pg/schema';
import { buildSchema } from 'graphql';
import { generateClientModels, SCHEMA_PATH } from '../src';

test('the schema generates DataStore models, counters and lists included', async () => {
  const files = await generateClientModels('introspection');
  const introspection = JSON.parse(Object.values(files)[0]!) as { models: Record<string, { fields: Record<string, { type: unknown; isArray: boolean }> }> };

  expect(introspection.models.Part!.fields.quantityOnHand).toMatchObject({ type: 'Int', isArray: false });
  expect(introspection.models.Asset!.fields.tags).toMatchObject({ type: 'String', isArray: true });
});

test('the schema is valid SDL against Amplify\'s directive definitions and ours (a misspelt directive is not)', () => {
  // The generator itself ignores directives it does not know, so validity is checked as GraphQL does.
  const scalars = APPSYNC_DEFINITIONS.split('\n').filter((line) => line.startsWith('scalar ')).join('\n');
  const definitions = scalars + DefaultDirectives.map((d) => d.definition).join('\n') + DATASTORE_PG_DIRECTIVES;
  const schema = readFileSync(SCHEMA_PATH, 'utf8');

  expect(() => buildSchema(definitions + schema)).not.toThrow();
  expect(() => buildSchema(definitions + schema.replace('Int! @counter', 'Int! @counted'))).toThrow(/Unknown directive "@counted"/);
});
