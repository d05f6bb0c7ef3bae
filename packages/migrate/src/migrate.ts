import { setTimeout as sleep } from 'node:timers/promises';
import { isConnectionLost, transaction, type Sql, type Tx } from '@datastore-pg/db';
import { MigrationError, type Migration } from './migration';
import { splitStatements, type Statement } from './split-statements';

// One advisory lock serializes every runner on a database, so two deploys migrating at once apply each
// file exactly once. The key is arbitrary but fixed ("dspgmig" in ASCII).
const MIGRATION_LOCK_KEY = 0x64737067_6d6967n;
// A runner waits for that lock by trying again after a pause, never by blocking in pg_advisory_lock: a
// session blocked there holds a snapshot, and CREATE INDEX CONCURRENTLY waits for every older snapshot to
// end, so the runner building an index and a runner waiting for it would wait for each other (Postgres
// reports a deadlock and fails one of them: the waiter, or the index build, leaving an invalid index).
const LOCK_RETRY_MS = 100;

export interface MigrateResult {
  /** Names of the migrations this run applied, in order. */
  applied: string[];
}

export interface MigrateOptions {
  /**
   * One line per event ("applied 000001_versioning.sql in 40 ms", and one per statement of a
   * no-transaction migration). The server's NOTICEs go where the pool's onNotice sends them (connect()):
   * postgres.js fixes a connection's notice handler when it opens it, out of this function's reach.
   */
  log?: (line: string) => void;
}

interface AppliedRow {
  id: number;
  name: string;
  checksum: string;
}

/**
 * Applies the migrations the database lacks, each in its own transaction that records itself first, or,
 * for a no-transaction migration, statement by statement and recorded last (applyStatementByStatement).
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
    const didApply = migration.transactional
      ? await applyInTransaction(sql, migration, migrations)
      : await applyStatementByStatement(sql, migration, migrations, log);
    if (didApply) {
      applied.push(migration.name);
      log(`applied ${migration.name} in ${Math.round(performance.now() - started)} ms`);
    }
  }
  log(applied.length ? `${applied.length} migration(s) applied` : 'database is up to date');
  return { applied };
}

/** Returns false when another runner applied it while this one waited for the lock. */
async function applyInTransaction(sql: Sql, migration: Migration, migrations: readonly Migration[]): Promise<boolean> {
  return transactionUnderLock(sql, async (tx) => {
    if (await alreadyApplied(tx, migration, migrations)) return false;
    await tx`insert into datastore_pg.migrations (id, name, checksum) values (${migration.id}, ${migration.name}, ${migration.checksum})`;
    await tx.unsafe(migration.sql); // no parameters: sent as a simple query, so a file may hold many statements
    return true;
  });
}

/**
 * A no-transaction migration: each statement on its own, in autocommit, so CREATE INDEX CONCURRENTLY and
 * procedures that COMMIT can run; recorded only after the last one succeeds. One that fails leaves no
 * record, so the next run starts the file again from its first statement: its statements must be safe to
 * run again (IF NOT EXISTS, procedures that resume). Returns false when another runner applied it while
 * this one waited for the lock.
 */
async function applyStatementByStatement(
  sql: Sql,
  migration: Migration,
  migrations: readonly Migration[],
  log: (line: string) => void,
): Promise<boolean> {
  const statements = splitStatements(migration.sql);
  return withSessionLock(sql, async (session) => {
    if (await alreadyApplied(session, migration, migrations)) return false;
    for (const [index, statement] of statements.entries()) {
      const where = `${migration.name} statement ${index + 1}/${statements.length} (line ${statement.line}): ${firstLine(statement)}`;
      const started = performance.now();
      try {
        await session.unsafe(statement.sql); // one statement per simple query: no implicit transaction around it
      } catch (error) {
        throw new MigrationError(
          'STATEMENT_FAILED',
          `${where} failed: ${error instanceof Error ? error.message : String(error)}. Nothing of ${migration.name} was recorded: ` +
            'the next run starts it again from its first statement.',
          { cause: error },
        );
      }
      log(`${where} in ${Math.round(performance.now() - started)} ms`);
    }
    await session`insert into datastore_pg.migrations (id, name, checksum) values (${migration.id}, ${migration.name}, ${migration.checksum})`;
    return true;
  });
}

/** Runs fn in a transaction that holds the lock (transaction-level: the commit releases it). */
async function transactionUnderLock<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  for (;;) {
    // A transaction per attempt: one that lived across the pauses could be caught by an index build's
    // wait for older snapshots during an attempt, and make it wait until this runner gets the lock.
    const attempt = await transaction(sql, async (tx) =>
      (await tryLock(tx, 'transaction')) ? { result: await fn(tx) } : undefined,
    );
    if (attempt) return attempt.result;
    await sleep(LOCK_RETRY_MS);
  }
}

/**
 * Runs fn on one reserved connection holding the session-level lock, which, unlike the transaction-level
 * one, outlives each statement's own transaction. Both levels share one lock space, so it excludes the
 * runners of transactional migrations too. Released even when fn fails; a lost connection's lock the
 * server releases itself, and writing to that connection would crash the process (see transaction()).
 */
async function withSessionLock<T>(sql: Sql, fn: (session: Tx) => Promise<T>): Promise<T> {
  const session = await sql.reserve();
  let locked = false;
  let lost = false;
  try {
    while (!(await tryLock(session, 'session'))) await sleep(LOCK_RETRY_MS);
    locked = true;
    return await fn(session);
  } catch (error) {
    lost = isConnectionLost(error) || isConnectionLost((error as { cause?: unknown } | null)?.cause);
    throw error;
  } finally {
    if (!lost) {
      if (locked) await session`select pg_advisory_unlock(${MIGRATION_LOCK_KEY.toString()}::bigint)`;
      session.release();
    }
  }
}

async function tryLock(session: Tx, level: 'transaction' | 'session'): Promise<boolean> {
  const key = MIGRATION_LOCK_KEY.toString();
  const [row]: [{ locked: boolean }?] =
    level === 'transaction'
      ? await session`select pg_try_advisory_xact_lock(${key}::bigint) as locked`
      : await session`select pg_try_advisory_lock(${key}::bigint) as locked`;
  return row!.locked;
}

/** Re-checked under the lock: another runner may have applied it meanwhile (then it must be the same file). */
async function alreadyApplied(session: Tx, migration: Migration, migrations: readonly Migration[]): Promise<boolean> {
  const [row]: [AppliedRow?] = await session`select id, name, checksum from datastore_pg.migrations where id = ${migration.id}`;
  if (row) verifyApplied([row], migrations);
  return row !== undefined;
}

function firstLine(statement: Statement): string {
  return statement.sql.split('\n', 1)[0]!;
}

async function createJournal(sql: Sql): Promise<void> {
  // Under the lock: concurrent "create ... if not exists" can still collide on the catalog's unique index.
  await transactionUnderLock(sql, async (tx) => {
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
