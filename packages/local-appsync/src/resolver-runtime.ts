// Runs the very resolver files the deployed API runs (appsync/resolvers/*.js): bundled as the
// serverless-appsync-plugin bundles them (esbuild, @aws-appsync/utils left external), then evaluated
// with the local @aws-appsync/utils.
import { buildSync } from 'esbuild';
import { appsyncUtilsModule } from './appsync-utils';

export interface ResolverModule {
  request(ctx: Record<string, unknown>): { operation?: string; payload?: unknown } | null;
  response(ctx: Record<string, unknown>): unknown;
}

const cache = new Map<string, ResolverModule>();

export function loadResolver(path: string): ResolverModule {
  const cached = cache.get(path);
  if (cached) return cached;
  const { outputFiles } = buildSync({ entryPoints: [path], bundle: true, write: false, format: 'cjs', platform: 'neutral', external: ['@aws-appsync/utils'] });
  const module = { exports: {} as Record<string, unknown> };
  const requireUtils = (name: string) => {
    if (name !== '@aws-appsync/utils') throw new Error(`${path} imports ${name}, which APPSYNC_JS does not provide`);
    return appsyncUtilsModule;
  };
  new Function('require', 'module', 'exports', outputFiles[0]!.text)(requireUtils, module, module.exports);
  const resolver = module.exports as unknown as ResolverModule;
  if (typeof resolver.request !== 'function' || typeof resolver.response !== 'function') throw new Error(`${path} must export request and response`);
  cache.set(path, resolver);
  return resolver;
}
