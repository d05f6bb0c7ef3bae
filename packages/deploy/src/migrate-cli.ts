// npm run migrate                      applies the migrations to DATABASE_URL
// npm run migrate -- --stage <stage>   ... to the stage's database, as its migration user, with an IAM
//                                      token (no password anywhere), then sets the stage's TTLs
import { readFileSync } from 'node:fs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { awsTokenSigner, connect, databaseUrlFromEnv, iamTarget, type ConnectTarget, type Sql, type TokenSigner } from '@datastore-pg/db';
import { migrate, migrations } from '@datastore-pg/migrate';
import { stageArgument } from './args';
import { loadStage, STAGES_PATH, type StageConfig } from './stages';

export interface MigrateDeps {
  /** Reads an SSM parameter (AWS in production, a stand-in in tests). */
  readParameter: (name: string, region: string) => Promise<string>;
  sign: TokenSigner;
  log: (line: string) => void;
  stagesPath?: string;
}

export const awsDeps: MigrateDeps = {
  readParameter: async (name, region) => {
    const { Parameter } = await new SSMClient({ region }).send(new GetParameterCommand({ Name: name }));
    if (!Parameter?.Value) throw new Error(`SSM parameter ${name} is empty`);
    return Parameter.Value;
  },
  sign: awsTokenSigner,
  log: (line) => console.log(line),
};

export async function runMigrate(argv: readonly string[], env: NodeJS.ProcessEnv, deps: MigrateDeps): Promise<void> {
  const stageName = stageArgument(argv);
  const stage = stageName ? loadStage(stageName, deps.stagesPath ?? STAGES_PATH) : undefined;
  // Two targets named: refuse rather than pick one (a stage's TTLs written into a local database, or
  // a local command that migrates a stage).
  if (stage && env.DATABASE_URL) throw new Error('both --stage and DATABASE_URL are set: unset DATABASE_URL to migrate the stage, or drop --stage');
  const target = stage ? await stageTarget(stage, env, deps) : databaseUrlFromEnv(env);
  const sql = connect(target, { max: 1, applicationName: 'datastore-pg migrate', onNotice: (m) => deps.log(`notice: ${m}`) });
  try {
    await migrate(sql, migrations, { log: deps.log });
    if (stage) await applyStageTtls(sql, stage, deps.log);
  } finally {
    await sql.end();
  }
}

/**
 * The stage's database endpoint (SSM <ssmPrefix>/db-endpoint, "host" or "host:port"), as its migration
 * user with an IAM token, over TLS verified against DB_CA_BUNDLE (the RDS CA bundle) when set.
 */
export async function stageTarget(stage: StageConfig, env: NodeJS.ProcessEnv, deps: MigrateDeps): Promise<ConnectTarget> {
  const endpoint = await deps.readParameter(`${stage.ssmPrefix}/db-endpoint`, stage.region);
  const [host, port = '5432'] = endpoint.split(':');
  const tls = env.DB_TLS === 'off' ? false : env.DB_CA_BUNDLE ? { ca: readFileSync(env.DB_CA_BUNDLE, 'utf8') } : true;
  deps.log(`migrating ${stage.databaseName} on ${host} as ${stage.migrationDbUser} (IAM)`);
  return iamTarget({ host: host!, port: Number(port), database: stage.databaseName, username: stage.migrationDbUser, region: stage.region }, deps.sign, tls);
}

/** Stage TTLs apply to every versioned table (versioning.models): tombstones from the next write on, the journal at the next purge. */
async function applyStageTtls(sql: Sql, stage: StageConfig, log: (line: string) => void): Promise<void> {
  const updated = await sql`
    update versioning.models
       set base_table_ttl = ${stage.baseTableTTL}::interval, delta_sync_table_ttl = ${stage.deltaSyncTableTTL}::interval
     where base_table_ttl <> ${stage.baseTableTTL}::interval or delta_sync_table_ttl <> ${stage.deltaSyncTableTTL}::interval`;
  log(`TTLs: tombstones ${stage.baseTableTTL}, delta ${stage.deltaSyncTableTTL} (${updated.count} table(s) changed)`);
}

if (require.main === module) {
  runMigrate(process.argv.slice(2), process.env, awsDeps).catch((error: unknown) => {
    console.error(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
}
