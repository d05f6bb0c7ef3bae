// An endpoint root for a schema other than schema.graphql: what `npm run generate` derives from it (the
// AppSync SDL, the wiring, the subscription rules), the resolver files the stack deploys, and one handler
// per model with its metadata inline. Lets a test serve, say, the next release's schema to a device built
// on the current one (startLocalAppSync({ root })). The directory must lie inside this repository, so
// that the handlers' imports resolve to its packages.
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseModels, renderAppSyncSchema, renderSubscriptionRules, renderWiring, serviceDirectory } from '@datastore-pg/schema';
import { ROOT } from './api';

export function writeSchemaRoot(dir: string, schema: string): void {
  const models = parseModels(schema);
  const custom = models.find((m) => m.conflictHandler === 'CUSTOM');
  if (custom) throw new Error(`${custom.name}: a CUSTOM conflict handler needs its hook, which a generated handler cannot pass`);
  cpSync(join(ROOT, 'appsync/resolvers'), join(dir, 'appsync/resolvers'), { recursive: true });
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const files: Record<string, string> = {
    'appsync/schema.graphql': renderAppSyncSchema(models),
    'appsync/wiring.generated.json': json(renderWiring(models)),
    'appsync/resolvers/subscription-rules.generated.json': json(renderSubscriptionRules(models)),
  };
  for (const model of models) {
    files[`services/${serviceDirectory(model.name)}/handler.ts`] = [
      "import { modelHandler } from '@datastore-pg/versioning/handler';",
      '',
      `export const handler = modelHandler(${JSON.stringify(model, null, 2)});`,
      '',
    ].join('\n');
  }
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
}
