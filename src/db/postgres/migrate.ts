// The PostgreSQL side of the migration runner (src/db/migrate.ts reads the files and says what is
// pending). Each migration runs in its own transaction, which first takes the `migrations` advisory
// lock (src/db/postgres/advisory-locks.ts) and then re-reads schema_migrations: when two instances
// start at once, the second waits, then finds the migration recorded and skips it. PostgreSQL DDL is
// transactional, so a failing migration leaves no table and no schema_migrations row behind.
import type pg from 'pg';
import { notApplied, POSTGRES_MIGRATIONS_DIR, readMigrations, type Migration } from '../migrate.ts';
import { LOCKS, lockForTransaction } from './advisory-locks.ts';

export function readPostgresMigrations(dir = POSTGRES_MIGRATIONS_DIR): Migration[] {
  return readMigrations(dir);
}

const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at bigint NOT NULL
)`;

async function appliedVersions(client: Pick<pg.PoolClient, 'query'>): Promise<number[]> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (exists.rows[0]?.t == null) return [];
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
  return rows.map((r) => r.version);
}

/** The shipped PostgreSQL migrations not yet applied (reads only; creates nothing). */
export async function pendingPostgresMigrations(pool: pg.Pool, migrations = readPostgresMigrations()): Promise<Migration[]> {
  const client = await pool.connect();
  try {
    return notApplied(migrations, await appliedVersions(client));
  } finally {
    client.release();
  }
}

/** Names of the applied migrations, in order ([] on an empty database). */
export async function appliedPostgresMigrations(pool: pg.Pool): Promise<string[]> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t");
  if (exists.rows[0]?.t == null) return [];
  const { rows } = await pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
  return rows.map((r) => r.name);
}

/** Applies pending migrations, one transaction each under the advisory lock; returns the names this call applied. */
export async function migratePostgres(pool: pg.Pool, migrations: Migration[] = readPostgresMigrations()): Promise<string[]> {
  const applied: string[] = [];
  const client = await pool.connect();
  try {
    for (;;) {
      await client.query('BEGIN');
      try {
        await lockForTransaction(client, LOCKS.migrations);
        await client.query(CREATE_MIGRATIONS_TABLE);
        const next = notApplied(migrations, await appliedVersions(client))[0];
        if (!next) {
          await client.query('COMMIT');
          return applied;
        }
        await client.query(next.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          next.version,
          next.name,
          Math.floor(Date.now() / 1000),
        ]);
        await client.query('COMMIT');
        applied.push(next.name);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      }
    }
  } finally {
    client.release();
  }
}
