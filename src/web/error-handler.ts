// The one place that turns errors into responses. JSON routes (res.locals.api) get an RFC 6749 §5.2
// body; browser routes get the error page (status, plain message, request id). Unexpected errors
// are logged with their stack and shown as a plain 500, never with details.
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from './log.ts';
import { AppError, BadRequest, NotFound } from './errors.ts';

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

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next) => {
    const known = err instanceof AppError ? err : fromHttpError(err);
    const requestId = String(req.id ?? '');
    // A deliberate 503 (temporarily_unavailable: a capacity cap) says why; any other 5xx is a bug.
    const shown = known !== undefined && (known.status < 500 || (err instanceof AppError && known.status === 503));
    if (shown) {
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
