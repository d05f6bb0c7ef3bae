import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './api';
import { newDevCredentials, type DevCredentials } from './auth';

export const CREDENTIALS_PATH = join(ROOT, '.data/local-appsync.json');

/**
 * The dev server's API key and token key, made on first run and kept in .data/ (gitignored), so an app
 * configured against the local API keeps working across restarts.
 */
export function loadDevCredentials(path = CREDENTIALS_PATH): DevCredentials {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as DevCredentials;
  const credentials = newDevCredentials();
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(credentials, null, 2), { mode: 0o600 });
  return credentials;
}
