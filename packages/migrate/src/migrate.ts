import { transaction, type Sql } from '@datastore-pg/db';
import { MigrationError, type Migration } from './migration';

// One advisory lock serializes every runner on a database, so two deploys migrating at once apply each
// file exactly once. The key is arbitrary but fixed ("dspgmig" in ASCII).
const MIGRATION_LOCK_KEY = 0x64737067_6d6967n;

export interface MigrateResult {
  /** Names of the migrations this run applied, in order. */
  applied: string[];
}

export interface MigrateOptions {
  /** One line per event ("applied 000001_versioning.sql in 40 ms"). */
  log?: (line: string) => void;
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

/**
 * Applies the migrations the database lacks, each in its own transaction that records itself first.
 * Refuses to run when an applied migration's file changed since (checksum) or when the database has a
 * migration this code does not know.
 */
export async function migrate(sql: Sql, migrations: readonly Migration[], options: MigrateOptions = {}): Promise<MigrateResult> {
  const log = options.log ?? (() => undefined);
  await createJournal(sql);
  const recorded = await sql<AppliedRow[]>`select id, name, checksum from datastore_pg.migrations order by id`;
  verifyApplied(recorded, migrations);
  const recordedIds = new Set(recorded.map((row) => row.id));

  const applied: string[] = [];
  for (const migration of migrations.filter((m) => !recordedIds.has(m.id))) {
    const started = performance.now();
    const didApply = await transaction(sql, async (tx) => {
      await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
      // Another runner may have applied it while this one waited for the lock.
      const [row]: [AppliedRow?] = await tx`select id, name, checksum from datastore_pg.migrations where id = ${migration.id}`;
      if (row) {
        verifyApplied([row], migrations);
        return false;
      }
      await tx`insert into datastore_pg.migrations (id, name, checksum) values (${migration.id}, ${migration.name}, ${migration.checksum})`;
      await tx.unsafe(migration.sql); // no parameters: sent as a simple query, so a file may hold many statements
      return true;
    });
    if (didApply) {
      applied.push(migration.name);
      log(`applied ${migration.name} in ${Math.round(performance.now() - started)} ms`);
    }
  }
  log(applied.length ? `${applied.length} migration(s) applied` : 'database is up to date');
  return { applied };
}

async function createJournal(sql: Sql): Promise<void> {
  // Under the lock: concurrent "create ... if not exists" can still collide on the catalog's unique index.
  await transaction(sql, async (tx) => {
    await tx`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
    await tx`set local client_min_messages = warning`; // not "already exists, skipping" on every run
    await tx`create schema if not exists datastore_pg`;
    await tx`
      create table if not exists datastore_pg.migrations (
        id         integer primary key,
        name       text not null,
        checksum   text not null,
        applied_at timestamptz not null default now()
      )`;
  });
}

function verifyApplied(rows: readonly AppliedRow[], migrations: readonly Migration[]): void {
  for (const row of rows) {
    const migration = migrations.find((m) => m.id === row.id);
    if (!migration) {
      throw new MigrationError('UNKNOWN_APPLIED', `the database has migration ${row.name}, which this code does not know: deploy the newer code instead`);
    }
    if (migration.checksum !== row.checksum) {
      throw new MigrationError('CHECKSUM_MISMATCH', `migration ${row.name} was edited after it was applied; migrations are forward-only: undo the edit and add a new migration`);
    }
  }
}
