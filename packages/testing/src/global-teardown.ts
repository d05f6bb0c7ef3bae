import { dropDatabase } from './databases';
import { ENV, requireEnv } from './harness';

export default async function globalTeardown(): Promise<void> {
  await dropDatabase(requireEnv(ENV.serverUrl), requireEnv(ENV.template));
  await globalThis.__dspgEmbeddedPostgres?.stop();
}
