// One structured log line per request, with an id of ours (never the client's), sent back as
// X-Request-Id and shown on error pages. Bearer values are cut out of logged URLs (redactUrl):
// codes, tickets, states, tokens and the consent page's `request=` id (which, with the person's
// session, approves a pending authorization), also inside a `return_to` that carries one.
// Headers (Referer, Cookie, Authorization) are never logged.
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { withoutRedaction, type Logger } from './log.ts';

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

declare module 'node:http' {
  interface IncomingMessage {
    /** Our request id (X-Request-Id), set by requestLog. */
    id: string;
  }
}

/** Successful forward_auth checks: one per request to every wiki page, which Caddy logs already (issue 13). */
export const QUIET_PATH = '/auth/verify';

/**
 * Writes a request's line when its response closes. `url` is the request's URL as received
 * (req.originalUrl), `quiet` whether its path is QUIET_PATH. Shared by the middleware below and
 * the light path (src/web/machine-endpoints.ts), so both write the same line.
 */
export type RequestLine = (req: IncomingMessage, res: ServerResponse, id: string, url: string, start: number, quiet: boolean) => void;

export function requestLine(root: Logger): RequestLine {
  // This line never carries a header or a body, only the fields below; the URL's secrets are cut by redactUrl.
  const log = withoutRedaction(root);
  return (req, res, id, url, start, quiet) => {
    // Storage-fault 503s are logged once per kind per minute instead (src/db/faults.ts).
    if ((res as { locals?: { storageFault?: unknown } }).locals?.storageFault !== undefined) return;
    const status = res.statusCode;
    const level = status >= 500 ? 'error' : status < 400 && quiet ? 'debug' : 'info';
    if (!root.isLevelEnabled(level)) return;
    if (log.level !== root.level) log.level = root.level; // follows a level changed at run time
    log[level](
      {
        req: { id, method: req.method, url: redactUrl(url), host: req.headers.host },
        res: { statusCode: status },
        responseTime: Math.round(performance.now() - start),
      },
      res.writableFinished ? 'request completed' : 'request aborted',
    );
  };
}

/**
 * One line per finished request, in the shape pino-http wrote it (`req`, `res`, `responseTime`,
 * "request completed" or "request aborted"), without pino-http's per-request child logger: at
 * `error` for a 5xx, `debug` for a 2xx/3xx answer of /auth/verify, `info` otherwise. Measured
 * (docs/benchmarks.md, "Where the time goes"): logging was ~28% of an /auth/verify request's CPU.
 */
export function requestLog(root: Logger): RequestHandler {
  const line = requestLine(root);
  return (req, res, next) => {
    const id = crypto.randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    const start = performance.now();
    const quiet = req.path === QUIET_PATH;
    const url = req.originalUrl;
    res.once('close', () => line(req, res, id, url, start, quiet));
    next();
  };
}
