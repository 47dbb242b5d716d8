// The ATProto OAuth client's request lock across instances (issue 12 item 2). @atproto/oauth-client
// takes `requestLock(name, fn)` to keep the token refreshes of one DID serial: two refreshes of one
// ATProto session with the same refresh token would have the PDS revoke the session. One process can
// use the in-process lock (src/atproto/client.ts); several instances need one lock for all of them:
//  - a PostgreSQL session-level advisory lock on lockKey(LOCKS.atprotoRequestPrefix + name)
//    (src/db/postgres/advisory-locks.ts: the service's one key scheme), taken on
//    a connection of a small pool of its own (never the store's pool: `fn` uses the store while it
//    holds the lock, and a lock per connection must not starve it);
//  - within one instance (one Store), an in-memory queue per name first, so waiters of one name hold
//    no connection (the queue is the Store's own, not the process-wide requestLocalLock, so that two
//    Stores in one process, as in the tests, meet only in PostgreSQL);
//  - waiting is bounded (lock_timeout): past it the call fails with a message naming the lock, and
//    the ATProto client reports the refresh as failed (the person signs in again at worst);
//  - released in `finally`; when the unlock cannot be sent, the connection is destroyed, which ends
//    every lock it held (a session-level lock never outlives its connection, nor a crashed instance).
import type { RuntimeLock } from '@atproto/oauth-client-node';
import type pg from 'pg';
import { LOCKS, lockKey } from '../../db/postgres/advisory-locks.ts';

/** The advisory-lock name of one ATProto request lock (the DID's token refresh, etc.). */
export const atprotoLockName = (name: string): string => `${LOCKS.atprotoRequestPrefix}${name}`;
export const DEFAULT_ATPROTO_LOCK_TIMEOUT_MS = 30_000;

export class AtprotoLockTimeout extends Error {
  constructor(name: string, timeoutMs: number) {
    super(`waited ${timeoutMs} ms for the ATProto request lock "${name}" (another instance holds it); the request was not made`);
    this.name = 'AtprotoLockTimeout';
  }
}

/** One queue per name: `fn` runs when every earlier holder of the name has finished. */
export function createLocalLock() {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const previous = tails.get(name) ?? Promise.resolve();
    const result = previous.then(fn);
    const tail = result.catch(() => undefined);
    tails.set(name, tail);
    void tail.then(() => {
      if (tails.get(name) === tail) tails.delete(name);
    });
    return result;
  };
}

export function createAdvisoryRequestLock(pool: pg.Pool, options: { timeoutMs?: number } = {}): RuntimeLock {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ATPROTO_LOCK_TIMEOUT_MS;
  const local = createLocalLock();
  return <T>(name: string, fn: () => T | PromiseLike<T>): Promise<T> =>
    Promise.resolve(
      local(name, async () => {
        const key = lockKey(atprotoLockName(name));
        let client: pg.PoolClient;
        try {
          client = await pool.connect();
        } catch (err) {
          throw new Error(
            `no PostgreSQL connection for the ATProto request lock "${name}" (every lock connection is held by a refresh in progress, or the server is unreachable)`,
            { cause: err },
          );
        }
        let broken: Error | undefined;
        try {
          await client.query(`SELECT set_config('lock_timeout', $1, false)`, [`${timeoutMs}ms`]);
          try {
            await client.query('SELECT pg_advisory_lock($1::bigint)', [key]);
          } catch (err) {
            // 55P03 lock_not_available: lock_timeout ran out.
            if ((err as { code?: string }).code === '55P03') throw new AtprotoLockTimeout(name, timeoutMs);
            throw err;
          }
          try {
            return await fn();
          } finally {
            try {
              await client.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
            } catch (err) {
              broken = err as Error;
            }
          }
        } finally {
          client.release(broken);
        }
      }),
    );
}
