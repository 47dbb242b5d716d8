// The SQLite store (store.ts): one better-sqlite3 connection. A transaction is BEGIN IMMEDIATE …
// COMMIT/ROLLBACK around an async callback, so it must own the connection while the callback
// awaits: a promise mutex queues every other transaction and every call on `store.repos` behind it
// (store.ts rule 3). Calls run in arrival order; the statements themselves stay synchronous.
//
// Group commit (issue 11): transactions that are queued together share ONE BEGIN IMMEDIATE … COMMIT,
// so concurrent refresh rotations pay for one fsync and write the shared index pages once.
//  1. A transaction is queued, and the group starts on the next turn of the event loop
//     (setImmediate): it takes what is queued then, at most MAX_GROUP units, and never waits for more.
//  2. Each unit runs in its own SAVEPOINT: a unit that throws is rolled back to its savepoint only,
//     and rejects its own caller; its neighbours' writes stay.
//  3. Nobody is answered before the shared COMMIT has succeeded (in the WAL, as a lone transaction's
//     would be: synchronous=NORMAL, src/db/open.ts, survives a crash of the process). If the
//     COMMIT fails, every unit of the group rejects with its error. If SQLite itself aborts the whole
//     transaction inside a unit (SQLITE_FULL, an I/O error), that unit and the ones before it reject
//     and the rest run in a new transaction.
//  4. A group of one runs exactly as a lone transaction (no savepoint).
//  5. Temporary storage in memory (PRAGMA temp_store = MEMORY, set here on the store's connection).
//     Each unit's savepoint keeps a sub-journal: the original of every page the unit changes, for
//     ROLLBACK TO. Past 64 KiB SQLite spills it to a temporary file, and a group of exchanges did:
//     two thirds of an exchange's write calls and bytes went to those files (97 → 33 KiB and 47 → 16
//     write calls per exchange at c=16, 15–25 % less CPU per token request; docs/benchmarks.md,
//     round 5). A group's sub-journals are at most MAX_GROUP units' pages (~1 MiB). The one large
//     statement the store runs, the purge (src/db/purge.ts), switches back to temporary files for
//     its own transaction, so that its statement journals never sit in memory. Migrations run before
//     the store exists (src/context.ts), so their index builds sort on disk as before.
// Nothing else touches the connection: the app reaches SQLite only through this store (AppContext has
// no raw database; test/structure/imports.test.ts). A unit sees the writes of the units before it in
// its group, as it would have after their COMMIT; they are undone with it only if the COMMIT fails,
// and then every unit's caller is refused.
import type { Db } from '../../db/open.ts';
import { asyncWriteScope } from '../../db/instrument.ts';
import { storageFaultKind } from '../../db/faults.ts';
import type { Repositories, Store } from '../store.ts';
import { createReentryGuard, transactionScoper, wrapRepositories } from '../wrap.ts';
import { createSqliteRepositories } from './repositories.ts';
import { processLocalLock } from '../local-lock.ts';

/** Rule 1: the most units one COMMIT carries. */
export const MAX_GROUP = 32;

// Taken once: a test that fakes timers must not stall the store.
const nextTurn = globalThis.setImmediate;

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

interface Unit {
  fn: (tx: Repositories) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

export function createSqliteStore(db: Db, options: { closeDatabase?: boolean } = {}): Store {
  db.pragma('temp_store = MEMORY'); // rule 5
  const { repos: direct, lookupBearer } = createSqliteRepositories(db);
  const mutex = createMutex();
  const guard = createReentryGuard();
  const repos: Repositories = wrapRepositories(direct, (call) => guard.outside(() => mutex.run(call)));
  // Prepared once: db.exec would compile the SQL on every transaction. On an instrumented database
  // (src/db/instrument.ts, the app's) a group counts as one timed write (one COMMIT), as db.transaction does.
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  const savepoint = db.prepare('SAVEPOINT unit');
  const release = db.prepare('RELEASE unit');
  const rollbackUnit = db.prepare('ROLLBACK TO unit');
  const observed = asyncWriteScope(db);
  const scoped = transactionScoper(direct);

  /** One unit's callback, with its own `tx` that refuses calls once the callback has settled. */
  async function runUnit(unit: Unit): Promise<unknown> {
    const scope = scoped();
    try {
      return await guard.inside(() => unit.fn(scope.tx));
    } finally {
      scope.end();
    }
  }

  /** Rule 4: a group of one, exactly as a lone transaction. */
  async function runAlone(unit: Unit): Promise<void> {
    observed?.begin();
    let failure: unknown;
    try {
      begin.run();
      const value = await runUnit(unit);
      commit.run();
      unit.resolve(value);
    } catch (err) {
      failure = err ?? new Error('transaction callback threw without an error');
      if (db.inTransaction) rollback.run();
      unit.reject(err);
    } finally {
      observed?.end(failure);
    }
  }

  /** Rules 2–3: the units in one transaction, each in a savepoint; every caller answered after COMMIT. */
  async function runGroup(units: Unit[]): Promise<void> {
    const settled: Settled[] = [];
    let failure: unknown;
    let lost = false;
    observed?.begin();
    try {
      begin.run();
      for (const unit of units) {
        savepoint.run();
        try {
          settled.push({ ok: true, value: await runUnit(unit) });
          release.run();
        } catch (err) {
          settled.push({ ok: false, error: err ?? new Error('transaction callback threw without an error') });
          if (!db.inTransaction) {
            lost = true; // SQLite aborted the whole transaction: rule 3.
            break;
          }
          rollbackUnit.run();
          release.run();
        }
      }
      if (!lost) commit.run();
    } catch (err) {
      failure = err ?? new Error('group commit failed');
      if (db.inTransaction) rollback.run();
    }
    if (failure === undefined && lost) {
      // Lost inside the last settled unit: it and those before it fail, the rest run in a new transaction.
      const last = settled[settled.length - 1];
      const cause = last && !last.ok ? last.error : new Error('transaction aborted');
      observed?.end(cause);
      settled.forEach((outcome, i) => units[i]?.reject(outcome.ok ? cause : outcome.error));
      const rest = units.slice(settled.length);
      if (rest.length === 0) return;
      return rest.length === 1 ? runAlone(rest[0] as Unit) : runGroup(rest);
    }
    const fault = failure ?? settled.find((s): s is { ok: false; error: unknown } => !s.ok && storageFaultKind(s.error) !== undefined)?.error;
    observed?.end(fault);
    units.forEach((unit, i) => {
      const outcome = settled[i];
      if (failure !== undefined) unit.reject(failure);
      else if (outcome?.ok) unit.resolve(outcome.value);
      else unit.reject(outcome?.error);
    });
  }

  // Rule 1: units wait here until the group's turn.
  let queued: Unit[] = [];
  let flushing = false;
  function scheduleFlush(): void {
    if (flushing) return;
    flushing = true;
    void mutex.run(async () => {
      await new Promise<void>((resolve) => nextTurn(resolve));
      flushing = false;
      const units = queued.length > MAX_GROUP ? queued.splice(0, MAX_GROUP) : queued;
      if (units === queued) queued = [];
      else scheduleFlush();
      try {
        if (units.length === 1) await runAlone(units[0] as Unit);
        else await runGroup(units);
      } catch (err) {
        // A ROLLBACK that failed: no caller may be left waiting (a settled promise ignores this).
        for (const unit of units) unit.reject(err);
      }
    });
  }

  return {
    dialect: 'sqlite',
    repos,
    transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
      return guard.outside(
        () =>
          new Promise<T>((resolve, reject) => {
            queued.push({ fn, resolve: resolve as (value: unknown) => void, reject });
            scheduleFlush();
          }),
      );
    },
    // A transaction open on the connection (its callback awaiting) holds the mutex, and its writes
    // may still roll back: then the caller asks repos, which queue behind it. Otherwise the read runs
    // now: a call queued ahead of it has not been answered yet, so the read may come first, as it
    // would have had it been called first.
    lookupBearerNow: (slug, grantId, jti) => (db.inTransaction ? undefined : lookupBearer(slug, grantId, jti)),
    // One process serves everything on SQLite: the in-process lock is enough.
    requestLock: processLocalLock,
    ping: () => mutex.run(async () => void db.prepare('SELECT 1').get()),
    close: () =>
      mutex.run(async () => {
        if (options.closeDatabase !== false) db.close();
      }),
  };
}
