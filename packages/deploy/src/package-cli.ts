// npm run package -- --stage <stage>: `sls package` into .package/<stage>/, then the checks of
// check-package.ts. Needs no AWS account or credentials.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseModels } from '@datastore-pg/schema';
import { checkReaderEnvironment, checkTemplate, checkZips, readTemplate, zipSizes } from './check-package';
import { stageArgument } from './args';
import { loadStage, type StageConfig } from './stages';

const ROOT = resolve(__dirname, '../../..');

/**
 * Packages a stage and checks the result. `overrides` replace stage params for this packaging only (the
 * framework's --param), into a folder of its own: a test packages a stage as if stages.json said so.
 */
export function packageStage(stage: string, overrides: Pick<StageConfig, 'readReplica'> = {}): { directory: string; problems: string[]; zips: { file: string; size: number }[] } {
  const config = { ...loadStage(stage), ...overrides }; // fails early on an unknown stage
  const params = Object.entries(overrides).map(([name, value]) => `${name}=${String(value)}`);
  const directory = join('.package', [stage, ...params].join('-').replace(/=/g, '-'));
  const result = spawnSync(join(ROOT, 'node_modules/.bin/sls'), ['package', '--stage', stage, '--package', directory, ...params.map((param) => `--param=${param}`)], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
  });
  if (result.status !== 0) throw new Error(`sls package --stage ${stage} failed:\n${result.stdout}${result.stderr}`);
  const models = parseModels(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
  const absolute = join(ROOT, directory);
  const zips = zipSizes(absolute);
  const template = readTemplate(absolute);
  return { directory: absolute, problems: [...checkTemplate(template, models, config.alarms), ...checkReaderEnvironment(template, config), ...checkZips(zips)], zips };
}

if (require.main === module) {
  const stage = stageArgument(process.argv.slice(2)) ?? 'dev';
  try {
    const { directory, problems, zips } = packageStage(stage);
    if (problems.length > 0) {
      console.error(`package ${stage}: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join('\n')}`);
      process.exitCode = 1;
    } else {
      const sizes = zips.map(({ file, size }) => `${file} ${Math.round(size / 1024)} KB`).join(', ');
      console.log(`packaged ${stage} into ${directory}; template checks passed; ${sizes}`);
    }
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
