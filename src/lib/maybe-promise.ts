// A value now, or a Promise of it. The bearer check answers synchronously when every step can (a
// token already verified, a store that reads without waiting: src/resource/check-bearer.ts) and
// through a Promise otherwise; each await it saves is a microtask on every request to every wiki
// (docs/benchmarks.md, round 12). These two functions are the only way its callers take it, so that
// a synchronous throw and a rejection always reach the same handler.
export type MaybePromise<T> = T | Promise<T>;

/** `next(value)`: now when `value` is here, once it resolves otherwise. A throw of `next` is thrown, or rejects. */
export function andThen<T, U>(value: MaybePromise<T>, next: (value: T) => MaybePromise<U>): MaybePromise<U> {
  return value instanceof Promise ? value.then(next) : next(value);
}

/**
 * Runs `run` and hands its outcome to `onValue` or `onError`: synchronously when it answers so. A
 * throw of `run` goes to `onError`; `onValue` and `onError` must not throw (as in a `then`, whose
 * rejection nobody would handle).
 */
export function settle<T>(run: () => MaybePromise<T>, onValue: (value: T) => void, onError: (err: unknown) => void): void {
  let value: MaybePromise<T>;
  try {
    value = run();
  } catch (err) {
    onError(err);
    return;
  }
  if (value instanceof Promise) value.then(onValue, onError);
  else onValue(value);
}
