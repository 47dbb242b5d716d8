// The one place that sees every database write: `db.transaction(…)` functions and lone
// `statement.run(…)` calls are wrapped here, once, when the context is built. Each OUTERMOST write
// is timed (robot_auth_db_write_duration_seconds; writes nested in a transaction are part of it),
// a storage fault is reported to StorageHealth (db/faults.ts), and a successful write ends
// `degraded`. Transactions are IMMEDIATE unless a call site asks for `.deferred`. The repositories
// and call sites are untouched.
import type Database from 'better-sqlite3';
import type { Db } from './open.ts';
import { markStoreFault, postgresFaultKind, storageFaultKind, type StorageHealth } from './faults.ts';
import type { Repositories, Store } from '../storage/store.ts';
import { wrapRepositories } from '../storage/wrap.ts';

export interface WriteObserver {
  metrics: { databaseWrite(seconds: number): void };
  storage: Pick<StorageHealth, 'fault' | 'writeSucceeded'>;
}

type AnyFn = (...args: unknown[]) => unknown;
const INSTRUMENTED = Symbol('robot-auth.instrumented');
const ASYNC_WRITE = Symbol('robot-auth.async-write');

/** An async transaction's bracket (src/storage/sqlite/sqlite-store.ts): its statements are one write, like a db.transaction's. */
export interface AsyncWriteScope {
  begin(): void;
  /** After COMMIT (no error) or ROLLBACK (the error that caused it). */
  end(err?: unknown): void;
}

/** The bracket of an instrumented database; undefined when it is not instrumented (tests, scripts). */
export function asyncWriteScope(db: Db): AsyncWriteScope | undefined {
  return (db as Db & { [ASYNC_WRITE]?: AsyncWriteScope })[ASYNC_WRITE];
}

export function instrumentWrites(db: Db, observer: WriteObserver): void {
  const target = db as Db & { [INSTRUMENTED]?: true; [ASYNC_WRITE]?: AsyncWriteScope };
  if (target[INSTRUMENTED]) return;
  target[INSTRUMENTED] = true;
  let depth = 0;
  let asyncStart = 0n;
  target[ASYNC_WRITE] = {
    begin() {
      if (depth++ === 0) asyncStart = process.hrtime.bigint();
    },
    end(err) {
      if (--depth > 0) return;
      if (err === undefined) {
        observer.metrics.databaseWrite(Number(process.hrtime.bigint() - asyncStart) / 1e9);
        observer.storage.writeSucceeded();
        return;
      }
      const kind = storageFaultKind(err);
      if (kind !== undefined) observer.storage.fault(kind, err);
    },
  };

  function timed<T>(run: () => T): T {
    if (depth > 0) return run();
    depth++;
    const start = process.hrtime.bigint();
    try {
      const result = run();
      observer.metrics.databaseWrite(Number(process.hrtime.bigint() - start) / 1e9);
      observer.storage.writeSucceeded();
      return result;
    } catch (err) {
      const kind = storageFaultKind(err);
      if (kind !== undefined) observer.storage.fault(kind, err);
      throw err;
    } finally {
      depth--;
    }
  }

  const transaction = db.transaction.bind(db);
  db.transaction = ((fn: AnyFn) => {
    const tx = transaction(fn) as unknown as Database.Transaction<AnyFn>;
    const wrap = (variant: AnyFn) => (...args: unknown[]) => timed(() => variant(...args));
    // A plain call is BEGIN IMMEDIATE, not SQLite's deferred default: a deferred transaction that
    // reads and then writes fails at once with SQLITE_BUSY(_SNAPSHOT) when another connection wrote in
    // between (busy_timeout does not apply to that upgrade): another process on the same file (a
    // second instance, the admin CLI). IMMEDIATE waits for the write lock up front, within
    // busy_timeout. One connection alone sees no difference.
    const wrapped = wrap(tx.immediate) as Database.Transaction<AnyFn>;
    wrapped.deferred = wrap(tx.deferred) as Database.Transaction<AnyFn>['deferred'];
    wrapped.immediate = wrap(tx.immediate) as Database.Transaction<AnyFn>['immediate'];
    wrapped.exclusive = wrap(tx.exclusive) as Database.Transaction<AnyFn>['exclusive'];
    return wrapped;
  }) as Db['transaction'];

  const prepare = db.prepare.bind(db);
  db.prepare = ((source: string) => {
    const statement = prepare(source) as Database.Statement<unknown[]>;
    if (statement.reader) return statement;
    const run = statement.run;
    // Hot path: a statement inside a transaction (depth > 0) costs one comparison, no closure.
    statement.run = function (this: unknown, ...args: unknown[]) {
      return depth > 0 ? run.apply(statement, args) : timed(() => run.apply(statement, args));
    } as typeof statement.run;
    return statement;
  }) as Db['prepare'];
}

/**
 * The same observation for the PostgreSQL store (DATABASE_URL): each `store.transaction` is one
 * timed write and a commit ends `degraded`; an error the store throws (a transaction's or a lone
 * repository call's) that db/faults.ts classifies as a PostgreSQL storage fault (connection lost,
 * server down, disk full, …) is marked, reported to StorageHealth, and then answers 503 with
 * Retry-After through the error handler, like SQLite's.
 */
export function instrumentStore(store: Store, observer: WriteObserver): Store {
  const observe = (err: unknown): void => {
    const kind = postgresFaultKind(err);
    if (kind === undefined) return;
    markStoreFault(err, kind);
    observer.storage.fault(kind, err);
  };
  const repos = wrapRepositories(store.repos, (call) =>
    call().catch((err: unknown) => {
      observe(err);
      throw err;
    }),
  );
  return {
    dialect: store.dialect,
    repos,
    async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      const start = process.hrtime.bigint();
      try {
        const result = await store.transaction(fn);
        observer.metrics.databaseWrite(Number(process.hrtime.bigint() - start) / 1e9);
        observer.storage.writeSucceeded();
        return result;
      } catch (err) {
        observe(err);
        throw err;
      }
    },
    requestLock: store.requestLock,
    lookupBearerNow(slug, grantId, jti) {
      try {
        return store.lookupBearerNow(slug, grantId, jti);
      } catch (err) {
        observe(err);
        throw err;
      }
    },
    async ping() {
      try {
        await store.ping();
      } catch (err) {
        const kind = postgresFaultKind(err);
        if (kind !== undefined) markStoreFault(err, kind);
        throw err;
      }
    },
    close: () => store.close(),
  };
}
