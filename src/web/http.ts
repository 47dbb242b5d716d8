// Small HTTP building blocks shared by the feature routers.
import type { RequestHandler } from 'express';
import { rateLimit as expressRateLimit } from 'express-rate-limit';
import { AppError } from './errors.ts';

/** RFC 6749 §5.1 / RFC 9700: responses carrying credentials or per-user state must not be cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
  next();
};

/**
 * A per-client-address limit over a one-minute window. The address is Express's req.ip, which
 * honours X-Forwarded-For only from the trusted proxy (TRUST_PROXY). 429 carries Retry-After.
 */
export function rateLimit(name: string, perMinute: number): RequestHandler {
  return expressRateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: name,
    handler: (_req, res, next, options) => {
      const retryAfter = String(Math.ceil(options.windowMs / 1000));
      next(
        new AppError(429, 'too_many_requests', 'Too many requests. Please wait a minute and try again.', {
          headers: { 'Retry-After': res.getHeader('Retry-After')?.toString() ?? retryAfter },
          title: 'Slow down',
        }),
      );
    },
  });
}

/** Express 5 gives query values as string | string[] | object: take one plain string or nothing. */
export function singleString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
