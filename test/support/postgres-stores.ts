// Two app instances on one PostgreSQL database, as issue 12 runs them (they share nothing but the
// database): a fresh database on `server` (test/support/postgres.ts), migrated, with two Store
// instances (two pools) on it and a small admin pool for the tests' own assertions.
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { createPool, type PgPool } from '../../src/db/postgres/pool.ts';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import type { Store } from '../../src/storage/store.ts';
import type { TestPostgres } from './postgres.ts';

export interface TwoPostgresStores {
  url: string;
  a: Store;
  b: Store;
  admin: PgPool;
  /** `SELECT count(*) … FROM table WHERE where` on the admin pool, with $1… bound to `args`. */
  count(table: string, where: string, ...args: unknown[]): Promise<number>;
  /** The `n` column of the first row of `sql` on the admin pool, as a number. */
  number(sql: string, ...args: unknown[]): Promise<number>;
  /** Closes both stores, then the admin pool. */
  close(): Promise<void>;
}

export async function twoPostgresStores(server: Pick<TestPostgres, 'createDatabase'>, poolSize = 10): Promise<TwoPostgresStores> {
  const url = await server.createDatabase();
  const admin = createPool({ url, poolSize: 2 });
  await migratePostgres(admin);
  const a = createPostgresStore(url, { poolSize });
  const b = createPostgresStore(url, { poolSize });
  const number = async (sql: string, ...args: unknown[]) => Number((await admin.query<{ n: string }>(sql, args)).rows[0]!.n);
  return {
    url,
    a,
    b,
    admin,
    count: (table, where, ...args) => number(`SELECT count(*) AS n FROM ${table} WHERE ${where}`, ...args),
    number,
    async close() {
      await a.close();
      await b.close();
      await admin.end();
    },
  };
}
