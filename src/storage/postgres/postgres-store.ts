// The PostgreSQL store (store.ts): a pg.Pool. Outside a transaction each repository call is one
// statement on any pooled connection (autocommit). A transaction takes one client from the pool:
// BEGIN (READ COMMITTED) … COMMIT, or ROLLBACK when the callback throws, then releases it. The
// deciding reads lock their rows (…ForUpdate) or are compare-and-swap writes (store.ts rule 2), so
// READ COMMITTED is enough; a serialization failure or deadlock (40001/40P01) retries the whole
// callback, at most MAX_ATTEMPTS times, after a short random pause.
// bigint columns (the integer-seconds timestamps, counts) come back as JS numbers: every value we
// store is far below 2^53.
import pg from 'pg';
import type { Logger } from '../../web/log.ts';
import type { Repositories, Store } from '../store.ts';
import { scopedToTransaction } from '../wrap.ts';
import { createAdvisoryRequestLock } from './atproto-lock.ts';
import { createPostgresRepositories, type Queryable } from './repositories.ts';

export const MAX_ATTEMPTS = 5;
const RETRYABLE = new Set(['40001', '40P01']);
const INT8_OID = 20;

/** Parsers for this store's pools only (pg's global parsers stay as they are). */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export interface PostgresStoreOptions {
  /** Pool size of the store (default 10). */
  max?: number;
  /** Connections for the ATProto request lock (default 4); each holder of a lock keeps one. */
  lockConnections?: number;
  lockTimeoutMs?: number;
  log?: Pick<Logger, 'warn' | 'error'>;
}

export function isRetryable(err: unknown): boolean {
  return RETRYABLE.has(String((err as { code?: unknown } | null)?.code));
}

export function createPostgresStore(url: string, options: PostgresStoreOptions = {}): Store {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10, types });
  const lockPool = new pg.Pool({ connectionString: url, max: options.lockConnections ?? 4, types });
  // An idle connection that the server drops emits 'error' on the pool; without a listener it would crash the process.
  for (const p of [pool, lockPool]) {
    p.on('error', (err) => options.log?.warn({ err }, 'PostgreSQL dropped an idle connection; the pool opens a new one when needed (check the server if this repeats)'));
  }
  const q = pool as unknown as Queryable;

  let savepoints = 0;
  const repos: Repositories = createPostgresRepositories({
    q,
    async atomic(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await fn(client as unknown as Queryable);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    isolated: (fn) => fn(q),
  });

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
    const client = await pool.connect();
    const scope = scopedToTransaction(transactionRepositories(client));
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await fn(scope.tx);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      throw err;
    } finally {
      scope.end();
      client.release(broken);
    }
  }

  return {
    dialect: 'postgres',
    repos,
    async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      for (let n = 1; ; n++) {
        try {
          return await attempt(fn);
        } catch (err) {
          if (!isRetryable(err) || n >= MAX_ATTEMPTS) throw err;
          options.log?.warn({ code: (err as { code?: string }).code, attempt: n }, 'PostgreSQL transaction conflicted with another; retrying it');
          await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * n));
        }
      }
    },
    requestLock: createAdvisoryRequestLock(lockPool, { timeoutMs: options.lockTimeoutMs }),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await Promise.all([pool.end(), lockPool.end()]);
    },
  };
}
