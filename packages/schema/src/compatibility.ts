// Apps stay in the field for months in old versions: a schema change that removes a model or a field,
// changes a type, removes an enum value, or makes a create need a field old apps do not send, breaks
// every phone not yet updated (their syncs fail, their creates are refused and DataStore drops them).
// `npm run schema:check` compares the AppSync schema generated from schema.graphql with the one of the
// last release (appsync/schema.release.graphql, updated by `npm run schema:release`) and refuses such
// changes, with GraphQL Inspector's rules: comparing the generated schema catches them all, since a
// required model field becomes a required field of Create<Model>Input. A required field added with a
// @default passes: it is optional in Create<Model>Input, and the server fills it in (README, "Adding a
// required field safely").
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CriticalityLevel, diff } from '@graphql-inspector/core';
import { buildSchema } from 'graphql';
import { APPSYNC_DEFINITIONS, renderAppSyncSchema } from './appsync-sdl';
import { readSchema } from './generate';
import { parseModels } from './parse';

export const RELEASED_SCHEMA_PATH = resolve(__dirname, '../../../appsync/schema.release.graphql');

/** The changes from the released AppSync schema to the current one that break apps already installed. */
export async function breakingChanges(released: string, current: string): Promise<string[]> {
  const changes = await diff(buildSchema(APPSYNC_DEFINITIONS + released), buildSchema(APPSYNC_DEFINITIONS + current));
  return changes
    .filter((change) => change.criticality.level === CriticalityLevel.Breaking)
    // The publish mutations are the forwarder's, called by this server only, never by an app.
    .filter((change) => !/^Mutation\.publish/.test(change.path ?? ''))
    .map((change) => change.message);
}

if (require.main === module) {
  const current = renderAppSyncSchema(parseModels(readSchema()));
  if (process.argv.includes('--release')) {
    writeFileSync(RELEASED_SCHEMA_PATH, current);
    console.log(`released: ${RELEASED_SCHEMA_PATH} is now the schema apps in the field are checked against`);
  } else {
    breakingChanges(readFileSync(RELEASED_SCHEMA_PATH, 'utf8'), current).then((breaking) => {
      if (breaking.length === 0) return console.log('schema:check: nothing breaks apps built on the last release');
      console.error(`schema:check: ${breaking.length} change(s) break apps already in the field:\n${breaking.map((b) => `- ${b}`).join('\n')}`);
      process.exitCode = 1;
    });
  }
}
