// Every model's real handler module, found by convention at services/<model-name-in-kebab-case>/handler.ts:
// a model added to schema.graphql with its handler file is covered by the contract suite with no edit here.
import { serviceDirectory } from '@datastore-pg/schema';
import { models } from '@datastore-pg/schema/models';
import type { Handler } from './appsync';

export const handlers: Record<string, Handler> = Object.fromEntries(
  Object.keys(models).map((name) => {
    const module = require(`../${serviceDirectory(name)}/handler`) as { handler?: Handler };
    if (!module.handler) throw new Error(`services/${serviceDirectory(name)}/handler.ts exports no handler`);
    return [name, module.handler];
  }),
);
