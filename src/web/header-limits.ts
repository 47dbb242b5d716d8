// Request header sizes. Node refuses a request whose headers together exceed MAX_HEADER_BYTES
// (431, before the app runs); below that, each header the app parses has its own cap, so no parser
// (Basic or Bearer credentials, cookies, host names) ever reads more than its limit. Beyond it:
// 431 Request Header Fields Too Large (RFC 6585 §5), as JSON for API clients, a page for browsers.
import type { RequestHandler } from 'express';
import { AppError } from './errors.ts';

/** Node's `maxHeaderSize` for the whole header block (its default, made explicit). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** Credentials: a Bearer JWT or Basic id:secret fits in far less. */
export const MAX_AUTHORIZATION_HEADER_LENGTH = 4096;

/** The headers the app parses, and the most characters it reads from each. */
export const HEADER_LIMITS: Readonly<Record<string, number>> = {
  authorization: MAX_AUTHORIZATION_HEADER_LENGTH,
  cookie: 8192,
  host: 300,
  'x-forwarded-host': 300,
  'x-forwarded-proto': 16,
  'x-forwarded-for': 2048,
  origin: 300,
  'sec-fetch-site': 32,
  'content-type': 256,
};

/** Options for http.createServer, shared by server.ts and the tests. */
export const HTTP_SERVER_OPTIONS = { maxHeaderSize: MAX_HEADER_BYTES } as const;

export class HeaderTooLarge extends AppError {
  constructor(name: string, limit: number) {
    super(431, 'invalid_request', `The ${headerLabel(name)} header is longer than ${limit} characters.`, {
      title: 'Request header too large',
    });
  }
}

function headerLabel(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

export const headerLimits: RequestHandler = (req, res, next) => {
  for (const [name, limit] of Object.entries(HEADER_LIMITS)) {
    const value = req.headers[name];
    const length = Array.isArray(value) ? value.join(', ').length : (value?.length ?? 0);
    if (length > limit) {
      // Browsers navigating ask for text/html; API clients (token, register, MCP) get JSON.
      if (!(req.get('accept') ?? '').includes('text/html')) res.locals.api = true;
      next(new HeaderTooLarge(name, limit));
      return;
    }
  }
  next();
};
