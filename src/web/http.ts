// Small HTTP building blocks shared by the feature routers.
import type { RequestHandler } from 'express';

/** RFC 6749 §5.1 / RFC 9700: responses carrying credentials or per-user state must not be cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  next();
};

/** The per-address limit; every rate-limit rule is in rate-limits.ts. */
export { rateLimit } from './rate-limits.ts';

/** Express 5 gives query values as string | string[] | object: take one plain string or nothing. */
export function singleString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
