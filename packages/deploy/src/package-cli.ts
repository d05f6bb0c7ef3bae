// npm run package -- --stage <stage>: `sls package` into .package/<stage>/, then the checks of
// check-package.ts. Needs no AWS account or credentials.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseModels } from '@datastore-pg/schema';
import { checkTemplate, checkZips, readTemplate, zipSizes } from './check-package';
import { stageArgument } from './args';
import { loadStage } from './stages';

const ROOT = resolve(__dirname, '../../..');

export function packageStage(stage: string): { directory: string; problems: string[]; zips: { file: string; size: number }[] } {
  const config = loadStage(stage); // fails early on an unknown stage
  const directory = join('.package', stage);
  const result = spawnSync(join(ROOT, 'node_modules/.bin/sls'), ['package', '--stage', stage, '--package', directory], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' },
  });
  if (result.status !== 0) throw new Error(`sls package --stage ${stage} failed:\n${result.stdout}${result.stderr}`);
  const models = parseModels(readFileSync(join(ROOT, 'schema.graphql'), 'utf8'));
  const absolute = join(ROOT, directory);
  const zips = zipSizes(absolute);
  return { directory: absolute, problems: [...checkTemplate(readTemplate(absolute), models, config.alarms), ...checkZips(zips)], zips };
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
