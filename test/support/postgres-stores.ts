// Two app instances on one PostgreSQL database, as issue 12 runs them (they share nothing but the
// database): a fresh database on `server` (test/support/postgres.ts), migrated, with two Store
// instances (two pools) on it and a small admin pool for the tests' own assertions; with
// onTwoPostgresInstances, also the test app's context on each (domain code run on two instances).
import { afterAll, beforeAll } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { createPool, type PgPool } from '../../src/db/postgres/pool.ts';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { startTestApp, type TestApp } from './app.ts';
import { startPostgres, type TestPostgres } from './postgres.ts';

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

export interface TwoPostgresInstances {
  server: TestPostgres;
  stores: TwoPostgresStores;
  /** The test app (not listening): config, keys, audit log and metrics of both contexts. */
  app: TestApp;
  /** The test app's context with `store` = stores.a, and with stores.b: the two instances. */
  ctxA: AppContext;
  ctxB: AppContext;
}

/**
 * For a test file that runs domain code on two instances: registers its beforeAll (a PostgreSQL
 * server, twoPostgresStores on it, the test app) and afterAll. The fields are set once beforeAll ran.
 */
export function onTwoPostgresInstances(): TwoPostgresInstances {
  const env = {} as TwoPostgresInstances;
  beforeAll(async () => {
    env.server = await startPostgres();
    env.stores = await twoPostgresStores(env.server);
    env.app = await startTestApp({}, { listen: false });
    env.ctxA = { ...env.app.ctx, store: env.stores.a };
    env.ctxB = { ...env.app.ctx, store: env.stores.b };
  }, 60_000);
  afterAll(async () => {
    await env.stores?.close();
    await env.app?.close();
    await env.server?.stop();
  });
  return env;
}
