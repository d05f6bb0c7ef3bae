// npm run status [-- --json]                what holds sync back, on DATABASE_URL
// npm run status -- --stage <stage>         ... on the stage's database, connecting as `migrate` does
// Exit code 0: no threshold crossed; 1: a problem (each named in the output); 2: the status could not be read.
import { connect, databaseUrlFromEnv } from '@datastore-pg/db';
import { stageArgument } from './args';
import { awsDeps, stageTarget, type MigrateDeps } from './migrate-cli';
import { loadStage, STAGES_PATH } from './stages';
import { collectStatus, DEFAULT_THRESHOLDS, renderStatus, type StatusThresholds } from './status';

export async function runStatus(argv: readonly string[], env: NodeJS.ProcessEnv, deps: MigrateDeps, thresholds: StatusThresholds = DEFAULT_THRESHOLDS): Promise<number> {
  const stageName = stageArgument(argv);
  if (stageName && env.DATABASE_URL) throw new Error('both --stage and DATABASE_URL are set: unset one');
  const target = stageName ? await stageTarget(loadStage(stageName, deps.stagesPath ?? STAGES_PATH), env, { ...deps, log: () => undefined }) : databaseUrlFromEnv(env);
  const sql = connect(target, { max: 1, applicationName: 'datastore-pg status' });
  try {
    const status = await collectStatus(sql, thresholds);
    deps.log(argv.includes('--json') ? JSON.stringify(status, null, 2) : renderStatus(status));
    return status.problems.length > 0 ? 1 : 0;
  } finally {
    await sql.end();
  }
}

if (require.main === module) {
  runStatus(process.argv.slice(2), process.env, awsDeps).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      console.error(`status failed: ${error instanceof Error ? error.message : String(error)}`);
      process.exitCode = 2;
    },
  );
}
