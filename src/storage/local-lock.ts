// The ATProto client's request lock within one process (one SQLite instance): calls with the same
// name run one after another, in order. It does what @atproto/oauth-client's `requestLocalLock`
// does, without importing the library: the library is loaded on the first sign-in, not at start
// (src/atproto/client.ts), and the Store is opened at start. Several instances use the PostgreSQL
// advisory lock instead (src/storage/postgres/atproto-lock.ts).
import type { RuntimeLock } from '@atproto/oauth-client-node';

export function createLocalLock(): RuntimeLock {
  const tails = new Map<string, Promise<void>>();
  return async <T>(name: string, fn: () => T | PromiseLike<T>): Promise<T> => {
    const previous = tails.get(name) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    tails.set(name, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (tails.get(name) === tail) tails.delete(name);
    }
  };
}

/** One lock for the whole process, as the library's own: every SQLite Store of this process shares it. */
export const processLocalLock: RuntimeLock = createLocalLock();
