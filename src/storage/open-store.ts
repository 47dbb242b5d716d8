// Which store a deployment uses (issue 12): SQLite at DATABASE_FILE unless DATABASE_URL names a
// PostgreSQL database (src/config/env.ts validates it: postgres:// or postgresql:// only), with
// DATABASE_POOL_SIZE connections. Migrations are not applied here: the migration runner
// (src/db/migrate.ts, src/db/postgres/migrate.ts) runs before the store is opened.
import type { Config } from '../config/env.ts';
import { openDatabase } from '../db/open.ts';
import type { Logger } from '../web/log.ts';
import { createPostgresStore } from './postgres/postgres-store.ts';
import { createSqliteStore } from './sqlite/sqlite-store.ts';
import type { Store } from './store.ts';

export type StoreConfig = Pick<Config, 'databaseFile' | 'databaseUrl'> & Partial<Pick<Config, 'databasePoolSize'>>;

export function openStore(config: StoreConfig, options: { log?: Pick<Logger, 'warn' | 'error'> } = {}): Store {
  const url = config.databaseUrl;
  if (url === undefined || url === '') return createSqliteStore(openDatabase(config.databaseFile));
  // env.ts already refuses anything else; this guards callers that build a config by hand.
  if (!url.startsWith('postgres://') && !url.startsWith('postgresql://')) {
    throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL (or unset, for SQLite at DATABASE_FILE)');
  }
  return createPostgresStore(url, { poolSize: config.databasePoolSize, log: options.log });
}
