// A value now, or a Promise of it. The bearer check answers synchronously when every step can (a
// store that reads without waiting, no touch due: src/resource/check-bearer.ts) and through a
// Promise otherwise; each await it saves is a microtask on every request to every wiki
// (docs/benchmarks.md, round 12). Its callers take it with `settle` or `await` (rate-limits.ts
// spendFor, which passes it on in the same form, tests for a Promise itself), so that a
// synchronous throw and a rejection always reach the same handler.
export type MaybePromise<T> = T | Promise<T>;

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
