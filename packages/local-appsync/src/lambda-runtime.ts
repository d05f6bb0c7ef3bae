// Runs a function the way its Lambda package does: its handler module bundled with everything it
// imports (esbuild, as serverless-esbuild packages it), then loaded in this process. Bundling also
// makes ES-module-only dependencies (@middy/core) load in any host, Jest and tsx included.
import { buildSync } from 'esbuild';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type LambdaHandler = (event: unknown, context: { awsRequestId: string }) => Promise<unknown>;

export interface LambdaFunction {
  handler: LambdaHandler;
  /** Closes the function's database connection (a container being frozen for good). */
  close(): Promise<void>;
}

/** handlerPath as in serverless.yml: services/work-order/handler.handler */
export function loadLambda(root: string, handlerPath: string): LambdaFunction {
  const dot = handlerPath.lastIndexOf('.');
  const exported = handlerPath.slice(dot + 1);
  const file = ['.ts', '.js'].map((ext) => join(root, handlerPath.slice(0, dot) + ext)).find(existsSync);
  if (!file) throw new Error(`no module for handler ${handlerPath}`);
  const { outputFiles } = buildSync({
    stdin: {
      contents: `export { ${exported} as handler } from ${JSON.stringify(file)};\nexport { closeSharedConnection } from '@datastore-pg/db';\n`,
      resolveDir: root,
      loader: 'ts',
      sourcefile: `${handlerPath}.bundle.ts`,
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    logLevel: 'silent',
  });
  const module = { exports: {} as { handler?: LambdaHandler; closeSharedConnection?: () => Promise<void> } };
  new Function('require', 'module', 'exports', '__filename', '__dirname', outputFiles[0]!.text)(createRequire(file), module, module.exports, file, dirname(file));
  const { handler, closeSharedConnection } = module.exports;
  if (typeof handler !== 'function') throw new Error(`${handlerPath} exports no function ${exported}`);
  return { handler, close: () => closeSharedConnection?.() ?? Promise.resolve() };
}
