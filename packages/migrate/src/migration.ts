import { createHash } from 'node:crypto';
import { splitStatements } from './split-statements';

/** A migration file's name and text, as read from migrations/ or bundled into code. */
export interface MigrationFile {
  name: string;
  sql: string;
}

export interface Migration extends MigrationFile {
  id: number;
  /** sha256 of the file's text: an applied migration whose file changed afterwards is refused. */
  checksum: string;
  /**
   * false when the file's first line is NO_TRANSACTION_MARKER: its statements then run one by one in
   * autocommit (migrate.ts), for those a transaction refuses (CREATE INDEX CONCURRENTLY, a CALL of a
   * procedure that commits).
   */
  transactional: boolean;
}

const NO_TRANSACTION_MARKER = '-- datastore-pg: no-transaction';

export type MigrationErrorCode =
  | 'BAD_NAME' // a file is not named NNNNNN_words.sql
  | 'BAD_SEQUENCE' // ids do not run 1, 2, 3 ... without gaps or repeats
  | 'CHECKSUM_MISMATCH' // an applied migration's file was edited afterwards
  | 'UNKNOWN_APPLIED' // the database has a migration this code does not know (code older than the DB)
  | 'NO_STATEMENTS' // a no-transaction migration holds nothing to run
  | 'STATEMENT_FAILED'; // a statement of a no-transaction migration failed (cause: the server's error)

export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const FILE_NAME = /^(\d{6})_[a-z0-9_]+\.sql$/;

/** Validates names and order and computes checksums. Files may come in any order. */
export function toMigrations(files: readonly MigrationFile[]): Migration[] {
  const migrations = files.map((file) => {
    const match = FILE_NAME.exec(file.name);
    if (!match) {
      throw new MigrationError('BAD_NAME', `migration ${JSON.stringify(file.name)} is not named NNNNNN_words.sql`);
    }
    const transactional = file.sql.split('\n', 1)[0]!.trimEnd() !== NO_TRANSACTION_MARKER;
    if (!transactional && splitStatements(file.sql).length === 0) {
      throw new MigrationError('NO_STATEMENTS', `migration ${file.name} is marked no-transaction but holds no statements`);
    }
    return { ...file, id: Number(match[1]), checksum: checksumOf(file.sql), transactional };
  });
  migrations.sort((a, b) => a.id - b.id);
  migrations.forEach((migration, index) => {
    if (migration.id !== index + 1) {
      throw new MigrationError('BAD_SEQUENCE', `expected migration ${index + 1} but found ${migration.name}: ids must run 1, 2, 3 ... with no gaps or repeats`);
    }
  });
  return migrations;
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}
