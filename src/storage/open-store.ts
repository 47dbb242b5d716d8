// Which store a deployment uses (issue 12): SQLite at DATABASE_FILE unless DATABASE_URL names a
// PostgreSQL database (src/config/env.ts validates it: postgres:// or postgresql:// only), with
// DATABASE_POOL_SIZE connections. `openStore` applies no migrations (the migration runner,
// src/db/migrate.ts / src/db/postgres/migrate.ts, runs before it); `openPostgresStore` is the
// service's start on PostgreSQL (src/context.ts): connect, migrate, store, in that order.
import type { Config } from '../config/env.ts';
import { openDatabase } from '../db/open.ts';
import { migratePostgres } from '../db/postgres/migrate.ts';
import { connectPostgres, type PgPool } from '../db/postgres/pool.ts';
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

export interface OpenedPostgres {
  store: Store;
  /** The store's pool (the platform key rows read through it too: src/config/key-source.postgres.ts). */
  pool: PgPool;
  /** The migrations this start applied. */
  applied: string[];
}

/**
 * The service's PostgreSQL start (DATABASE_URL set): connect (PostgresUnavailableError, naming the
 * server with its password redacted, when it does not answer), apply the pending PostgreSQL
 * migrations (one transaction each, under the migrations advisory lock, so two instances starting at
 * once apply each once), then the store over that same pool. Nothing is left open when it throws.
 */
export async function openPostgresStore(config: Pick<Config, 'databaseUrl' | 'databasePoolSize'>, options: { log?: Pick<Logger, 'warn' | 'error'> } = {}): Promise<OpenedPostgres> {
  const url = config.databaseUrl;
  if (url === undefined || url === '') throw new Error('openPostgresStore needs DATABASE_URL');
  const pool = await connectPostgres({ url, poolSize: config.databasePoolSize });
  let applied: string[];
  try {
    applied = await migratePostgres(pool);
  } catch (err) {
    await pool.end().catch(() => {});
    throw err;
  }
  const store = createPostgresStore(url, { pool, poolSize: config.databasePoolSize, log: options.log });
  return { store, pool, applied };
}
