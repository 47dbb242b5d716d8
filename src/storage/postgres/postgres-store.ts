// The PostgreSQL store (store.ts): a pg.Pool. Outside a transaction each repository call is one
// statement on any pooled connection (autocommit). A transaction takes one client from the pool:
// BEGIN (READ COMMITTED) … COMMIT, or ROLLBACK when the callback throws, then releases it. The
// deciding reads lock their rows (…ForUpdate) or are compare-and-swap writes (store.ts rule 2), so
// READ COMMITTED is enough; a serialization failure or deadlock (40001/40P01) retries the whole
// callback, at most MAX_ATTEMPTS times, after a short random pause.
// The pools are src/db/postgres/pool.ts's (bigint as numbers, statement_timeout, application_name).
import type pg from 'pg';
import { createPool, DEFAULT_POOL_SIZE, inTransaction } from '../../db/postgres/pool.ts';
import type { Logger } from '../../web/log.ts';
import type { Repositories, Store } from '../store.ts';
import { createReentryGuard, scopedToTransaction, wrapRepositories } from '../wrap.ts';
import { createAdvisoryRequestLock, DEFAULT_ATPROTO_LOCK_TIMEOUT_MS } from './atproto-lock.ts';
import { createPostgresRepositories, type Queryable } from './repositories.ts';

export const MAX_ATTEMPTS = 5;
const RETRYABLE = new Set(['40001', '40P01']);

export interface PostgresStoreOptions {
  /** DATABASE_POOL_SIZE (default 10). */
  poolSize?: number;
  statementTimeoutMs?: number;
  /**
   * Connections for the ATProto request lock (default: half of the pool, at least 2): each DID whose
   * ATProto tokens are being refreshed holds one while it is (waiters of one DID queue in memory).
   * An instance opens up to poolSize + lockConnections connections to the server.
   */
  lockConnections?: number;
  lockTimeoutMs?: number;
  log?: Pick<Logger, 'warn' | 'error'>;
  /**
   * A pool already opened (and checked) by the caller, e.g. src/context.ts's, which also migrates
   * through it and reads the platform keys from it; the store then owns it (close() ends it).
   */
  pool?: pg.Pool;
}

export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has(String((err as { code?: unknown } | null)?.code));
}

export function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Store {
  const poolSize = options.poolSize ?? DEFAULT_POOL_SIZE;
  const pool = options.pool ?? createPool({ url, poolSize, statementTimeoutMs: options.statementTimeoutMs });
  const lockTimeoutMs = options.lockTimeoutMs ?? DEFAULT_ATPROTO_LOCK_TIMEOUT_MS;
  // The lock's wait is bounded by lock_timeout; the statement timeout must not cut it shorter.
  const lockPool = createPool({ url, poolSize: options.lockConnections ?? Math.max(2, Math.ceil(poolSize / 2)), statementTimeoutMs: lockTimeoutMs + 5_000 });
  const q = pool as unknown as Queryable;

  let savepoints = 0;
  const guard = createReentryGuard();
  const autocommit: Repositories = createPostgresRepositories({
    q,
    atomic: (fn) => inTransaction(pool, (client) => fn(client as unknown as Queryable)),
    isolated: (fn) => fn(q),
  });
  const repos = wrapRepositories(autocommit, (call) => guard.outside(call));

  function transactionRepositories(client: pg.PoolClient): Repositories {
    const t = client as unknown as Queryable;
    const inSavepoint = async <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
      const name = `s${++savepoints}`;
      await client.query(`SAVEPOINT ${name}`);
      try {
        const result = await fn(t);
        await client.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (err) {
        await client.query(`ROLLBACK TO SAVEPOINT ${name}`);
        await client.query(`RELEASE SAVEPOINT ${name}`);
        throw err;
      }
    };
    return createPostgresRepositories({ q: t, atomic: inSavepoint, isolated: inSavepoint });
  }

  async function attempt<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    // The scope ends once the transaction has ended (COMMIT or ROLLBACK), after the client is back in the pool.
    let scope: ReturnType<typeof scopedToTransaction> | undefined;
    try {
      return await inTransaction(pool, (client) => {
        const opened = (scope = scopedToTransaction(transactionRepositories(client)));
        return guard.inside(() => fn(opened.tx));
      });
    } finally {
      scope?.end();
    }
  }

  async function retrying<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(fn);
      } catch (err) {
        if (!isRetryable(err) || n >= MAX_ATTEMPTS) throw err;
        options.log?.warn({ code: (err as { code?: string }).code, attempt: n }, 'PostgreSQL transaction conflicted with another; retrying it');
        await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * n));
      }
    }
  }

  return {
    dialect: 'postgres',
    repos,
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      return guard.outside(() => retrying(fn));
    },
    requestLock: createAdvisoryRequestLock(lockPool, { timeoutMs: lockTimeoutMs }),
    // Every read is a round trip: the bearer check asks repos.grants.lookupBearer.
    lookupBearerNow: () => undefined,
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await Promise.all([pool.end(), lockPool.end()]);
    },
  };
}
