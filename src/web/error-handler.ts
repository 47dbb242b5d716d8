// The one place that turns errors into responses. JSON routes (res.locals.api) get an RFC 6749 §5.2
// body; browser routes get the error page (status, plain message, request id). Unexpected errors
// are logged with their stack and shown as a plain 500, never with details.
// Storage faults (disk full, read-only, locked, corrupt: src/db/faults.ts) are no bug: 503 with
// Retry-After and `temporarily_unavailable`, logged once per kind per minute by StorageHealth (the
// request log line is left out too, so a full disk is not flooded with one line per request).
// 429s are counted by budget (robot_auth_rate_limited_total).
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from './log.ts';
import { AppError, BadRequest, NotFound } from './errors.ts';
import { RETRY_AFTER_SECONDS, storageFaultKind, type StorageFaultKind, type StorageHealth } from '../db/faults.ts';
import type { Metrics, RateLimitKey } from '../metrics/metrics.ts';

export class StorageUnavailable extends AppError {
  readonly kind: StorageFaultKind;
  constructor(kind: StorageFaultKind, cause: unknown) {
    super(503, 'temporarily_unavailable', 'The service cannot save anything right now. Please try again in a few minutes.', {
      cause,
      headers: { 'Retry-After': String(RETRY_AFTER_SECONDS[kind]) },
      title: 'Temporarily unavailable',
    });
    this.kind = kind;
  }
}

/** The budget name of a 429 (`"token-grant";q=60;w=60`) and what it is keyed by (its name's suffix). */
function rateLimitOf(policy: unknown): { budget: string; key: RateLimitKey } {
  const text = String(policy ?? '');
  const start = text.indexOf('"');
  const end = text.indexOf('"', start + 1);
  const budget = start === -1 || end === -1 ? 'unknown' : text.slice(start + 1, Math.min(end, start + 41));
  return { budget, key: budget.endsWith('-grant') ? 'grant' : budget.endsWith('-client') ? 'client' : 'address' };
}

/** Marks a router's responses as JSON API responses, errors included. */
export const apiResponses: RequestHandler = (_req, res, next) => {
  res.locals.api = true;
  next();
};

export const notFoundHandler: RequestHandler = (_req, _res, next) => next(new NotFound());

/** body-parser and friends throw http-errors with `status`, `expose` and `type`. */
function fromHttpError(err: unknown): AppError | undefined {
  const e = err as { status?: unknown; expose?: unknown; type?: unknown; message?: unknown };
  if (typeof e?.status !== 'number' || e.status >= 500 || e.expose !== true) return undefined;
  if (e.status === 413) return new AppError(413, 'invalid_request', 'The request body is too large.');
  if (e.type === 'entity.parse.failed') return new BadRequest('The request body is not valid.');
  if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') {
    return new AppError(415, 'invalid_request', 'Unsupported request encoding.');
  }
  return new AppError(e.status, 'invalid_request', 'The request could not be read.');
}

export function errorHandler(log: Logger, deps?: { storage: Pick<StorageHealth, 'fault'>; metrics: Pick<Metrics, 'rateLimited'> }): ErrorRequestHandler {
  return (thrown: unknown, req: Request, res: Response, _next) => {
    const fault = thrown instanceof AppError ? undefined : storageFaultKind(thrown);
    let err = thrown;
    if (fault !== undefined) {
      deps?.storage.fault(fault, thrown);
      err = new StorageUnavailable(fault, thrown);
      res.locals.storageFault = fault;
    }
    const known = err instanceof AppError ? err : fromHttpError(err);
    if (known?.status === 429) {
      const { budget, key } = rateLimitOf(known.headers['RateLimit-Policy'] ?? res.getHeader('RateLimit-Policy'));
      deps?.metrics.rateLimited(budget, key);
    }
    const requestId = String(req.id ?? '');
    // A deliberate 503 (temporarily_unavailable: a capacity cap) says why; any other 5xx is a bug.
    const shown = known !== undefined && (known.status < 500 || (err instanceof AppError && known.status === 503));
    if (fault !== undefined) {
      // Logged by StorageHealth, once per kind per minute.
    } else if (shown) {
      log.info({ reqId: requestId, status: known.status, code: known.code, msg: known.message, cause: known.cause }, 'request refused');
    } else {
      log.error({ reqId: requestId, err }, 'request failed');
    }
    const status = known?.status ?? 500;
    const code = known?.code ?? 'server_error';
    const message = shown ? known.message : 'Something went wrong on our side. Please try again in a moment.';
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    res.status(status).set(known?.headers ?? {});
    if (res.locals.api === true) {
      res.set('Cache-Control', 'no-store').json({ error: code, error_description: message });
      return;
    }
    res.set('Cache-Control', 'no-store').render('error', {
      title: known?.title ?? (status === 404 ? 'Not found' : status >= 500 ? 'Something went wrong' : 'That did not work'),
      status,
      message,
      requestId,
    });
  };
}
