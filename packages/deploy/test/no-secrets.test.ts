// No secret in the repository's code or configuration (tests hold deliberately fake ones to check the
// checks, and are left out).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findSecrets } from '../src/check-package';

const ROOT = join(__dirname, '../../..');

test('no tracked file outside the tests holds a secret', () => {
  const files = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n')
    .filter((f) => f && !/(^|\/)test\//.test(f) && !f.endsWith('package-lock.json'));
  expect(files.length).toBeGreaterThan(50);
  const found = files.flatMap((file) => findSecrets(readFileSync(join(ROOT, file), 'utf8')).map((what) => `${file}: ${what}`));
  expect(found).toEqual([]);
});
