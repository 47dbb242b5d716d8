// The CLI's own connection to the service's database, beside the running server: WAL lets both
// read and write, the busy timeout (db/open.ts) makes a write wait for the server's instead of failing.
// The commands read and write through the Store (src/storage/store.ts) of the configured database:
// PostgreSQL when DATABASE_URL is set (one small pool, checked reachable and migrated), else the SQLite
// file (the same checks as the raw connection, which SQLite-only commands such as backup still use).
import fs from 'node:fs';
import type pg from 'pg';
import type { Config } from '../config/env.ts';
import { postgresKeyRows } from '../config/key-source.postgres.ts';
import { sqliteKeyRows, type PlatformKeyRows } from '../config/key-source.ts';
import { pendingMigrations, readMigrations } from '../db/migrate.ts';
import { openDatabase, type Db } from '../db/open.ts';
import { pendingPostgresMigrations } from '../db/postgres/migrate.ts';
import { openPostgres, PostgresUnavailableError, redactUrl } from '../db/postgres/pool.ts';
import { createPostgresStore } from '../storage/postgres/postgres-store.ts';
import { createSqliteStore } from '../storage/sqlite/sqlite-store.ts';
import type { Store } from '../storage/store.ts';
import { createLogger } from '../web/log.ts';
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

/**
 * DATABASE_URL's database for one CLI run: a small pool (no statement_timeout) opened on first use,
 * checked reachable; close() ends it unless the Store (openAdminStore) took it over and ended it.
 */
export interface AdminPostgres {
  /** DATABASE_URL with the password redacted. */
  readonly database: string;
  pool(): Promise<pg.Pool>;
  close(): Promise<void>;
}

export function adminPostgres(url: string): AdminPostgres {
  let pool: Promise<pg.Pool> | undefined;
  return {
    database: redactUrl(url),
    pool: () =>
      (pool ??= openPostgres({ url, poolSize: 2, statementTimeoutMs: 0 }, createLogger('silent')).catch((err: unknown) => {
        if (err instanceof PostgresUnavailableError) {
          throw new AdminError(`${err.message}. Check that the server is running, the URL (user, password, database) and pg_hba.conf.`);
        }
        throw err;
      })),
    async close() {
      const opened = await pool?.catch(() => undefined);
      // openAdminStore's Store took the pool over and its close() ended it already (pg refuses a second end()).
      if (opened && !opened.ending) await opened.end();
    },
  };
}

/**
 * The Store the commands use. PostgreSQL (`postgres` given, i.e. DATABASE_URL set): refused with what
 * to do when the server is unreachable or its schema is older than this code. SQLite: the CLI's
 * connection (`sqlite()`, openAdminDatabase's checks), which the caller closes.
 */
export async function openAdminStore(sqlite: () => Db, postgres: AdminPostgres | undefined, url: string | undefined, options: OpenAdminDatabaseOptions = {}): Promise<Store> {
  if (!postgres || url === undefined) return createSqliteStore(sqlite(), { closeDatabase: false });
  const pool = await postgres.pool();
  if (!options.allowPendingMigrations) {
    const pending = await pendingPostgresMigrations(pool);
    if (pending.length > 0) {
      throw new AdminError(
        `The PostgreSQL schema of ${postgres.database} is older than this code (pending: ${pending.map((m) => m.name).join(', ')}). ` +
          'Run `npm run admin -- migrate`, or restart the service: it migrates at start-up.',
      );
    }
  }
  // The Store takes this pool over (its close() ends it; AdminPostgres.close() then does not), so
  // one command holds one pool: its statement_timeout stays 0, because an operator's long command
  // (purge after an outage, a large listing) must run to its end rather than be cut after the
  // service's 10 s; the operator can interrupt it, and the service's own requests keep their timeout.
  return createPostgresStore(url, { pool, poolSize: 2 });
}

/** Where the platform keys live with PLATFORM_KEYS_KEK: the configured database's table (PostgreSQL's or SQLite's). */
export async function adminKeyRows(sqlite: () => Db, postgres: AdminPostgres | undefined): Promise<PlatformKeyRows> {
  return postgres ? postgresKeyRows(await postgres.pool()) : sqliteKeyRows(sqlite());
}
