import { readFileSync } from 'node:fs';
import { BUNDLE_PATH, readMigrationFiles, renderBundle } from '../src/bundle';

test('the bundled migrations match migrations/*.sql (run `npm run generate` after editing one)', () => {
  const files = readMigrationFiles();
  expect(files.length).toBeGreaterThanOrEqual(3);
  expect(readFileSync(BUNDLE_PATH, 'utf8')).toBe(renderBundle(files));
});
