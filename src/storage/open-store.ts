// Which store a deployment uses (issue 12): SQLite at DATABASE_PATH unless DATABASE_URL names a
// PostgreSQL database (postgres:// or postgresql://). Migrations are not applied here: the
// migration runner does that before the store is opened.
import { openDatabase } from '../db/open.ts';
import type { Logger } from '../web/log.ts';
import { createPostgresStore } from './postgres/postgres-store.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

export interface StoreConfig {
  databasePath: string;
  /** Unset: SQLite. */
  databaseUrl?: string | undefined;
}

export function openStore(config: StoreConfig, options: { log?: Pick<Logger, 'warn' | 'error'> } = {}): Store {
  const url = config.databaseUrl;
  if (url === undefined || url === '') return createSqliteStore(openDatabase(config.databasePath));
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL (or unset, for SQLite at DATABASE_PATH)');
  }
  return createPostgresStore(url, { log: options.log });
}
