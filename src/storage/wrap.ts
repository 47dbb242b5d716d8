// Wraps every repository method of a Repositories object in `around`: the SQLite store uses it to
// queue calls behind its transaction mutex, and both stores to refuse a `tx` used after its
// transaction ended (store.ts, transaction rules 3 and 1).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Repositories } from './store.ts';

type Method = (...args: unknown[]) => Promise<unknown>;

export function wrapRepositories(repos: Repositories, around: (call: () => Promise<unknown>) => Promise<unknown>): Repositories {
  const wrapped: Record<string, Record<string, Method>> = {};
  for (const [name, repo] of Object.entries(repos) as [string, Record<string, Method>][]) {
    const methods: Record<string, Method> = {};
    for (const [method, fn] of Object.entries(repo)) {
      methods[method] = (...args) => around(() => fn.apply(repo, args));
    }
    wrapped[name] = methods;
  }
  return wrapped as unknown as Repositories;
}

/** A `tx` that rejects every call once its transaction has committed or rolled back. */
export function scopedToTransaction(repos: Repositories): { tx: Repositories; end(): void } {
  let open = true;
  const tx = wrapRepositories(repos, (call) =>
    open ? call() : Promise.reject(new Error('a transaction repository was used after its transaction ended; use store.repos or a new transaction')),
  );
  return { tx, end: () => void (open = false) };
}

/**
 * scopedToTransaction for a store whose repositories are the same object in every transaction
 * (SQLite): the wrappers are built once, as prototypes, and each transaction only creates one small
 * object per repository pointing at its own open flag (the refresh path's seam cost; see
 * scripts/bench/profile-token.ts). Methods must be called on their repository (`tx.grants.revoke(…)`).
 */
export function transactionScoper(repos: Repositories): () => { tx: Repositories; end(): void } {
  const scope = Symbol('transaction scope');
  type Scoped = { [scope]?: { open: boolean } };
  const ended = () => new Error('a transaction repository was used after its transaction ended; use store.repos or a new transaction');
  const prototypes = (Object.entries(repos) as [string, Record<string, Method>][]).map(([name, repo]) => {
    const proto: Record<string, Method> = {};
    for (const [method, fn] of Object.entries(repo)) {
      proto[method] = function (this: Scoped | undefined, ...args: unknown[]) {
        const state = this?.[scope];
        if (state === undefined) return Promise.reject(new Error(`call tx.${name}.${method}() on its repository, not detached from it`));
        return state.open ? fn.apply(repo, args) : Promise.reject(ended());
      };
    }
    return [name, proto] as const;
  });
  return () => {
    const state = { open: true };
    const tx: Record<string, Scoped> = {};
    for (const [name, proto] of prototypes) {
      const scoped = Object.create(proto) as Scoped;
      scoped[scope] = state;
      tx[name] = scoped;
    }
    return { tx: tx as unknown as Repositories, end: () => void (state.open = false) };
  };
}

/** Unique-constraint violation, in either dialect (SQLite's result code, PostgreSQL's SQLSTATE 23505). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === '23505';
}

/**
 * Store rule 3: inside a transaction callback, `store.repos` and `store.transaction` would wait for
 * the transaction itself (SQLite: the mutex; PostgreSQL: a row the transaction locked, until the
 * statement timeout). `inside` marks the callback's async context; `outside` makes such a call
 * reject at once with what to do instead.
 */
export function createReentryGuard() {
  const context = new AsyncLocalStorage<true>();
  const misuse = () =>
    Promise.reject(new Error('store.repos or store.transaction was called inside a transaction callback; use the `tx` repositories the callback was given'));
  return {
    inside<T>(fn: () => Promise<T>): Promise<T> {
      return context.run(true, fn);
    },
    outside<T>(call: () => Promise<T>): Promise<T> {
      return context.getStore() ? misuse() : call();
    },
  };
}
