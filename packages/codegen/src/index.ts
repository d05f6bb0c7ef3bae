// The app's DataStore models, generated from schema.graphql by Amplify's own generator
// (@aws-amplify/graphql-generator, the code behind `amplify codegen models`), exactly as a mobile
// team would get them: `npm run codegen -- --target javascript --out src/models`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateModels, type ModelsTarget } from '@aws-amplify/graphql-generator';
import { DefaultDirectives } from '@aws-amplify/graphql-directives';
import { DATASTORE_PG_DIRECTIVES } from '@datastore-pg/schema';

export const SCHEMA_PATH = resolve(__dirname, '../../../schema.graphql');

/** javascript, typescript, android, swift, dart, introspection (Amplify's model targets). */
export type ModelTarget = ModelsTarget;

/** The generated files, by relative path. */
export async function generateClientModels(target: ModelTarget = 'javascript', schema = readFileSync(SCHEMA_PATH, 'utf8')): Promise<Record<string, string>> {
  // Amplify's directive definitions, plus the one datastore-pg adds (@conflict), so the generator
  // validates the schema as written.
  const directives = DefaultDirectives.map((d) => d.definition).join('\n') + DATASTORE_PG_DIRECTIVES;
  return generateModels({ schema, target, directives, isDataStoreEnabled: true });
}

/** Writes the models into outDir; from schema.graphql unless another schema is given (an older release's). */
export async function writeClientModels(outDir: string, target: ModelTarget = 'javascript', schema?: string): Promise<string[]> {
  const files = await generateClientModels(target, schema);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(outDir, path)), { recursive: true });
    writeFileSync(join(outDir, path), content);
  }
  return Object.keys(files);
}

if (require.main === module) {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'models' }, target: { type: 'string', default: 'javascript' } } });
  writeClientModels(resolve(values.out), values.target as ModelTarget)
    .then((files) => console.log(`generated ${files.length} files into ${resolve(values.out)}: ${files.join(', ')}`))
    .catch((error: unknown) => {
      console.error(`codegen failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 1;
    });
}
