// The SQLite store (store.ts): one better-sqlite3 connection. A transaction is BEGIN IMMEDIATE …
// COMMIT/ROLLBACK around an async callback, so it must own the connection while the callback
// awaits: a promise mutex queues every other transaction and every call on `store.repos` behind it
// (store.ts rule 3). Calls run in arrival order; the statements themselves stay synchronous.
// Until every caller has switched, the app's context (src/context.ts) shares this connection with
// the synchronous repositories, which the mutex does not queue. A store transaction's callback awaits
// only the store's repositories, which resolve at once, so it runs to COMMIT within one turn of the
// microtask queue; another request's continuation that runs in between, and writes through the raw
// `Db`, writes inside the open transaction (a nested db.transaction becomes a SAVEPOINT). It then
// commits with it, as it would have alone; it is rolled back with it only when the callback throws.
// So the domain transactions return refusals as outcomes and throw only on a fault (store.ts rule 1).
// Once every caller uses the store, nothing else touches the connection.
import type { Db } from '../../db/open.ts';
import { asyncWriteScope } from '../../db/instrument.ts';
import type { Repositories, Store } from '../store.ts';
import { createReentryGuard, transactionScoper, wrapRepositories } from '../wrap.ts';
import { createSqliteRepositories } from './repositories.ts';
import { processLocalLock } from '../local-lock.ts';

/** Runs one task at a time, in the order they were queued; a failed task does not block the next. */
export function createMutex() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    run<T>(task: () => Promise<T>): Promise<T> {
      const result = tail.then(task);
      tail = result.catch(() => undefined);
      return result;
    },
  };
}

export function createSqliteStore(db: Db, options: { closeDatabase?: boolean } = {}): Store {
  const direct = createSqliteRepositories(db);
  const mutex = createMutex();
  const guard = createReentryGuard();
  const repos: Repositories = wrapRepositories(direct, (call) => guard.outside(() => mutex.run(call)));
  // Prepared once: db.exec would compile the SQL on every transaction. On an instrumented database
  // (src/db/instrument.ts, the app's) the transaction counts as one timed write, as db.transaction does.
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const observed = asyncWriteScope(db);
  const scoped = transactionScoper(direct);
  return {
    dialect: 'sqlite',
    repos,
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      return guard.outside(() => mutex.run(async () => {
        observed?.begin();
        let failure: unknown;
        const scope = scoped();
        try {
          begin.run();
          const result = await guard.inside(() => fn(scope.tx));
          commit.run();
          return result;
        } catch (err) {
          failure = err ?? new Error('transaction callback threw without an error');
          if (db.inTransaction) rollback.run();
          throw err;
        } finally {
          scope.end();
          observed?.end(failure);
        }
      }));
    },
    // One process serves everything on SQLite: the in-process lock is enough.
    requestLock: processLocalLock,
    ping: () => mutex.run(async () => void db.prepare('SELECT 1').get()),
    close: () =>
      mutex.run(async () => {
        if (options.closeDatabase !== false) db.close();
      }),
  };
}
