// What the light paths (machine-endpoints.ts, token-light-path.ts) share to answer a request before
// Express's router exactly as the Express stack would: the prelude every request gets (request id,
// request metric and log line, security headers), `req.ip` with the app's trust-proxy setting, the
// header-limit rule, and, for the answers that go through Express's own code after all, the request
// made an Express one (its prototypes, as app.handle does) and the app's error handler.
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { routeGroup } from '../metrics/route-groups.ts';
import { HEADER_LIMITS } from './header-limits.ts';
import { requestLine } from './request-log.ts';
import { securityHeaderSets } from './security-headers.ts';

export type Flat = string[];

/** For tests: the light paths can be switched off (Express answers everything), and count their answers. */
export const lightPathSwitch = { enabled: true, answered: 0 };

/** headerLimits' rule (src/web/header-limits.ts): every limited header within its length. */
export function withinHeaderLimits(req: IncomingMessage): boolean {
  for (const name in HEADER_LIMITS) {
    const value = req.headers[name];
    if (value === undefined) continue;
    const length = Array.isArray(value) ? value.join(', ').length : value.length;
    if (length > HEADER_LIMITS[name]!) return false;
  }
  return true;
}

/**
 * Reads the body of a request a light path took as plain (its Content-Length within `limit`, checked
 * from the headers): `read` gets the bytes once the body has come, or `aborted` is called instead
 * when the client goes away first; never both.
 */
export function readPlainBody(req: IncomingMessage, limit: number, read: (bytes: Buffer) => void, aborted: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk); // Node's parser stops at Content-Length, itself within the limit
  });
  req.once('error', () => {
    if (ended) return;
    ended = true;
    aborted();
  });
  req.once('end', () => {
    if (ended) return;
    ended = true;
    read(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  });
}

/** What wikiSlugOfRequest reads of a request, from the raw headers. */
export const hostHeaders = (req: IncomingMessage) => ({ get: (name: 'host' | 'x-forwarded-host') => req.headers[name] as string | undefined });

/** Express's `req.ip` getter (proxy-addr with the app's `trust proxy`), called on the raw request. */
const ipGetter = Object.getOwnPropertyDescriptor(express.request, 'ip')?.get;

export interface LightRequestDeps {
  ctx: Pick<AppContext, 'config' | 'log' | 'metrics'>;
  /** The Express app: its trust-proxy setting (req.ip) and its request/response prototypes. */
  app: Express;
  /** The app's error handler. */
  errors: ErrorRequestHandler;
}

export interface LightRequestKit {
  /** The security headers every answer carries (securityHeaders' `everywhere` set), flat. */
  security: Flat;
  requestIp(req: IncomingMessage): string | undefined;
  /**
   * The prelude of requestMetrics and requestLog: a request id (set on the request), and the metric
   * and the log line written when the response closes. Returns the id.
   */
  begin(req: IncomingMessage, res: ServerResponse, path: string, quiet: boolean): string;
  /** The request made an Express one, as app.handle and the router prepare it, with the headers Express's prelude sets. */
  asExpress(req: IncomingMessage, res: ServerResponse, id: string): { r: Request; s: Response };
  /** An error for the app's error handler, on a request made an Express one (asExpress). */
  renderError(err: unknown, r: Request, s: Response, where: string): void;
  /**
   * An error on a request a light path has begun, as the router would pass it on: the request made
   * an Express one, `prepare` sets on the response what the route's chain had set by then, and the
   * app's error handler answers. An answer already begun cannot be taken back: the connection is
   * closed and the operator told.
   */
  fail(req: IncomingMessage, res: ServerResponse, id: string, err: unknown, where: string, prepare: (s: Response) => void): void;
}

export function lightRequestKit({ ctx, app, errors }: LightRequestDeps): LightRequestKit {
  const line = requestLine(ctx.log);
  const security = securityHeaderSets(ctx.config.production, ctx.config.publicUrl).everywhere.flatMap(([name, value]) => [name, value]);
  const kit: LightRequestKit = {
    security,
    requestIp(req) {
      if (!ipGetter) throw new Error('express.request has no ip getter');
      return ipGetter.call({ app, socket: req.socket, headers: req.headers }) as string | undefined;
    },
    begin(req, res, path, quiet) {
      const id = crypto.randomUUID();
      (req as Request).id = id;
      const start = performance.now();
      const url = req.url ?? '';
      res.once('close', () => {
        if (res.writableFinished) ctx.metrics.request(routeGroup(path), res.statusCode, (performance.now() - start) / 1000);
        line(req, res, id, url, start, quiet);
      });
      return id;
    },
    asExpress(req, res, id) {
      const r = req as Request;
      const s = res as Response;
      r.res = s;
      s.req = r;
      Object.setPrototypeOf(req, app.request);
      Object.setPrototypeOf(res, app.response);
      s.locals = Object.create(null) as Response['locals'];
      r.originalUrl = r.url;
      r.baseUrl = '';
      res.setHeader('X-Request-Id', id);
      for (let i = 0; i < security.length; i += 2) res.setHeader(security[i]!, security[i + 1]!);
      return { r, s };
    },
    renderError(err, r, s, where) {
      try {
        errors(err, r, s, () => undefined);
      } catch (thrown) {
        ctx.log.error({ err: thrown }, `the error handler failed on ${where}`);
        s.destroy();
      }
    },
    fail(req, res, id, err, where, prepare) {
      if (res.headersSent) {
        // As the error handler logs it (its own branch for an answer already begun), where added.
        ctx.log.error({ reqId: id, err, where }, 'request failed');
        res.destroy();
        return;
      }
      const { r, s } = kit.asExpress(req, res, id);
      prepare(s);
      kit.renderError(err, r, s, where);
    },
  };
  return kit;
}
