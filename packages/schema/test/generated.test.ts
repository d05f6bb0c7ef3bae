import { readFileSync } from 'node:fs';
import { MODELS_PATH, readSchema, renderModels } from '../src/generate';
import { parseModels } from '../src/parse';

test('models.generated.ts matches schema.graphql (run `npm run generate` after editing the schema)', () => {
  expect(readFileSync(MODELS_PATH, 'utf8')).toBe(renderModels(parseModels(readSchema())));
});
