import { bundledMigrationFiles } from './bundled.generated';
import { toMigrations } from './migration';

export { migrate, type MigrateOptions, type MigrateResult } from './migrate';
export { MigrationError, toMigrations, checksumOf, type Migration, type MigrationErrorCode, type MigrationFile } from './migration';

/** The project's migrations, bundled from migrations/*.sql. */
export const migrations = toMigrations(bundledMigrationFiles);
