import { createHash } from 'node:crypto';

/** A migration file's name and text, as read from migrations/ or bundled into code. */
export interface MigrationFile {
  name: string;
  sql: string;
}

export interface Migration extends MigrationFile {
  id: number;
  /** sha256 of the file's text: an applied migration whose file changed afterwards is refused. */
  checksum: string;
}

export type MigrationErrorCode =
  | 'BAD_NAME' // a file is not named NNNNNN_words.sql
  | 'BAD_SEQUENCE' // ids do not run 1, 2, 3 ... without gaps or repeats
  | 'CHECKSUM_MISMATCH' // an applied migration's file was edited afterwards
  | 'UNKNOWN_APPLIED'; // the database has a migration this code does not know (code older than the DB)

export class MigrationError extends Error {
  override name = 'MigrationError';
  constructor(
    readonly code: MigrationErrorCode,
    message: string,
  ) {
    super(message);
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
    return { ...file, id: Number(match[1]), checksum: checksumOf(file.sql) };
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
