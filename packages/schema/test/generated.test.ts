import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { generatedFiles, readSchema } from '../src/generate';
import { parseModels } from '../src/parse';

test.each(Object.entries(generatedFiles(parseModels(readSchema()))).map(([path, content]) => [relative(process.cwd(), path), path, content]))(
  '%s matches schema.graphql (run `npm run generate` after editing the schema)',
  (_name, path, content) => {
    expect(readFileSync(path, 'utf8')).toBe(content);
  },
);
