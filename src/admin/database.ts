// The CLI's own connection to the service's database, beside the running server: WAL lets both
// read and write, the busy timeout (db/open.ts) makes a write wait for the server's instead of failing.
import fs from 'node:fs';
import type { Config } from '../config/env.ts';
import { pendingMigrations, readMigrations } from '../db/migrate.ts';
import { openDatabase, type Db } from '../db/open.ts';
import { AdminError } from './errors.ts';

export interface OpenAdminDatabaseOptions {
  /** Commands that only copy or inspect the file (backup, status) work on an older schema too. */
  allowPendingMigrations?: boolean;
}

/**
 * Run as root, SQLite would create -wal/-shm files (and key files) the service's user cannot open:
 * refuse, and say which user to run as.
 */
export function requireFileOwner(file: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid } = fs.statSync(file);
  if (uid !== 0) {
    throw new AdminError(
      `${file} belongs to uid ${uid}, not root. Run the CLI as the service's user, e.g. \`sudo -u robot-auth node src/admin/cli.ts …\`.`,
    );
  }
}

export function openAdminDatabase(config: Pick<Config, 'databaseFile'>, options: OpenAdminDatabaseOptions = {}): Db {
  const file = config.databaseFile;
  if (!fs.existsSync(file)) {
    throw new AdminError(`There is no database at ${file}. Check DATA_DIR / DATABASE_FILE (and --env-file); the service creates it on first start.`);
  }
  requireFileOwner(file);
  const db = openDatabase(file);
  if (!options.allowPendingMigrations) {
    const pending = pendingMigrations(db, readMigrations());
    if (pending.length > 0) {
      db.close();
      throw new AdminError(
        `The database schema is older than this code (pending: ${pending.map((m) => m.name).join(', ')}). ` +
          'Restart the service first: it backs the database up and migrates it at start-up.',
      );
    }
  }
  return db;
}
