// Small HTTP building blocks shared by the feature routers.
import crypto from 'node:crypto';
import type { RequestHandler, Response } from 'express';

/** RFC 6749 §5.1 / RFC 9700: responses carrying credentials or per-user state must not be cached. */
export const NO_STORE_HEADERS = [
  ['Cache-Control', 'no-store'],
  ['Pragma', 'no-cache'],
] as const;

/** Sets NO_STORE_HEADERS on `res`. */
export function setNoStore(res: Pick<Response, 'setHeader'>): void {
  for (const [name, value] of NO_STORE_HEADERS) res.setHeader(name, value);
}

export const noStore: RequestHandler = (_req, res, next) => {
  setNoStore(res);
  next();
};

/** The per-address limit; every rate-limit rule is in rate-limits.ts. */
export { discoveryRateLimit, rateLimit } from './rate-limits.ts';

/** Express 5 gives query values as string | string[] | object: take one plain string or nothing. */
export function singleString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * A JSON document served many times unchanged (AS metadata, JWKS, PRM): serialised, and its ETag
 * computed, once instead of on every request (res.json does both each time). Express still answers
 * a matching If-None-Match with 304.
 */
export interface PrecomputedJson {
  body: Buffer;
  etag: string;
}

export function precomputeJson(value: unknown): PrecomputedJson {
  const body = Buffer.from(JSON.stringify(value));
  // The weak ETag Express would have generated for the same body.
  return { body, etag: `W/"${body.length.toString(16)}-${crypto.createHash('sha1').update(body).digest('base64').slice(0, 27)}"` };
}

export function sendJson(res: Response, doc: PrecomputedJson): void {
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('ETag', doc.etag);
  res.send(doc.body);
}
