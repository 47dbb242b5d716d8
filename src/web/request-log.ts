// One structured log line per request, with an id of ours (never the client's), sent back as
// X-Request-Id and shown on error pages. Bearer values are cut out of logged URLs (redactUrl):
// codes, tickets, states, tokens and the consent page's `request=` id (which, with the person's
// session, approves a pending authorization), also inside a `return_to` that carries one.
// Headers (Referer, Cookie, Authorization) are never logged.
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from './log.ts';
import { VERIFY_PATH } from '../resource/verify.route.ts';

/** Query parameters whose values are credentials or single-use handles. */
const SECRET_PARAMS: ReadonlySet<string> = new Set([
  'code',
  'ticket',
  'state',
  'token',
  'request',
  'request_uri',
  'access_token',
  'refresh_token',
  'id_token',
  'client_secret',
  'code_verifier',
]);
/** Parameters whose value is itself a URL that may carry the above. */
const NESTED_URL_PARAMS: ReadonlySet<string> = new Set(['return_to']);

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

/**
 * The URL with the values of secret query parameters replaced by `…`. Names are compared decoded
 * (`?req%75est=` is `request` to Express too); no regular expression, linear in the URL's length.
 */
export function redactUrl(url: string, depth = 0): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const hash = url.indexOf('#', q);
  const query = url.slice(q + 1, hash === -1 ? undefined : hash);
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    if (eq === -1) return part;
    const name = decode(part.slice(0, eq)).toLowerCase();
    if (SECRET_PARAMS.has(name)) return `${part.slice(0, eq)}=…`;
    if (NESTED_URL_PARAMS.has(name) && depth === 0) {
      const value = decode(part.slice(eq + 1));
      const redacted = redactUrl(value, 1);
      return redacted === value ? part : `${part.slice(0, eq)}=${encodeURIComponent(redacted)}`;
    }
    return part;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

export function requestLog(log: Logger): RequestHandler {
  return pinoHttp({
    logger: log,
    genReqId: (_req, res) => {
      const id = crypto.randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    customLogLevel: (req, res, err) => {
      // Storage-fault 503s are logged once per kind per minute instead (src/db/faults.ts).
      if ((res as { locals?: { storageFault?: unknown } }).locals?.storageFault !== undefined) return 'silent';
      if (err || res.statusCode >= 500) return 'error';
      // Caddy's forward_auth calls /auth/verify on every wiki request: successes at debug (issue 13 item 4).
      return res.statusCode < 400 && (req.url ?? '').startsWith(VERIFY_PATH) ? 'debug' : 'info';
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string; headers: Record<string, string> }) => ({
        id: req.id,
        method: req.method,
        url: redactUrl(req.url),
        host: req.headers.host,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  });
}
