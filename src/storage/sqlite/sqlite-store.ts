// The SQLite store (store.ts): one better-sqlite3 connection. A transaction is BEGIN IMMEDIATE …
// COMMIT/ROLLBACK around an async callback, so it must own the connection while the callback
// awaits: a promise mutex queues every other transaction and every call on `store.repos` behind it
// (store.ts rule 3). Calls run in arrival order; the statements themselves stay synchronous.
// Until the callers switch to the store, code that uses the raw `Db` directly is not queued: do not
// hand the same connection to both while a store transaction may be open.
import type { Db } from '../../db/open.ts';
import type { Repositories, Store } from '../store.ts';
import { createReentryGuard, scopedToTransaction, wrapRepositories } from '../wrap.ts';
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
  return {
    dialect: 'sqlite',
    repos,
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      return guard.outside(() => mutex.run(async () => {
        db.exec('BEGIN IMMEDIATE');
        const scope = scopedToTransaction(direct);
        try {
          const result = await guard.inside(() => fn(scope.tx));
          db.exec('COMMIT');
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        } finally {
          scope.end();
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
