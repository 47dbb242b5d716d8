// The body of POST /token and /revoke (RFC 6749 §4.1.3 and §6, RFC 7009 §2.1):
// application/x-www-form-urlencoded, at most FORM_BODY_LIMIT bytes and FORM_BODY_PARAMETERS
// parameters. The Express chain reads it with body-parser (client-post.ts, FORM_BODY_OPTIONS); the
// token endpoint's light path (src/web/token-light-path.ts) reads the plain case itself, and must
// read it into exactly the same object:
//   - plain: no Content-Encoding or Transfer-Encoding, a Content-Length within the limit, and the
//     media type alone or with charset=utf-8 (what MCP clients send). Anything else is Express's.
//   - the bytes decoded as UTF-8 with a leading byte order mark dropped (iconv-lite, as body-parser
//     decodes), then body-parser's urlencoded parse: more than FORM_BODY_PARAMETERS `&`-separated
//     parts is 413, else `qs` with the options body-parser gives it when `extended` is false (keys
//     never nested; a key given twice becomes an array, which token-params.ts refuses).
// qs is loaded from body-parser's own dependencies (body-parser from express's), so that both paths
// parse with the very same module whatever version an install resolves for each.
import { createRequire } from 'node:module';
import type QueryString from 'qs';

const fromExpress = createRequire(createRequire(import.meta.url).resolve('express'));
const qs = createRequire(fromExpress.resolve('body-parser'))('qs') as typeof QueryString;

export const FORM_BODY_LIMIT = 16 * 1024;
export const FORM_BODY_PARAMETERS = 30;

/** express.urlencoded's options (client-post.ts). */
export const FORM_BODY_OPTIONS = { extended: false, limit: FORM_BODY_LIMIT, parameterLimit: FORM_BODY_PARAMETERS } as const;

// Exactly these, in any case: whitespace anywhere else (`charset=utf -8`, `application /x-…`) makes
// body-parser's content-type and type-is read another type or charset (415, or no body at all).
const PLAIN_TYPES = new Set(['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded;charset=utf-8', 'application/x-www-form-urlencoded; charset=utf-8']);

type Headers = { [name: string]: string | string[] | undefined };

/**
 * A light path's rule for a body it reads itself (the headers alone decide): a Content-Type in
 * `types` (compared lower case), no Content-Encoding or Transfer-Encoding, and a Content-Length of
 * `min` to `max` bytes. Shared with json-body.ts.
 */
export function isPlainBody(headers: Headers, types: ReadonlySet<string>, min: number, max: number): boolean {
  const type = headers['content-type'];
  if (typeof type !== 'string' || !types.has(type.toLowerCase())) return false;
  if (headers['content-encoding'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  return typeof length === 'string' && /^[0-9]{1,7}$/.test(length) && Number(length) >= min && Number(length) <= max;
}

/** Whether the request's body is the plain case the light path reads itself (the headers alone decide). */
export function isPlainForm(headers: Headers): boolean {
  return isPlainBody(headers, PLAIN_TYPES, 0, FORM_BODY_LIMIT);
}

/** An error shaped as body-parser's (http-errors: status, expose, type), which the error handler reads the same way. */
export class BodyError extends Error {
  readonly expose = true;
  readonly status: number;
  readonly type: string;
  constructor(message: string, status: number, type: string) {
    super(message);
    this.status = status;
    this.type = type;
  }
}

/** body-parser's error for too many parameters. */
export class TooManyParameters extends BodyError {
  constructor() {
    super('too many parameters', 413, 'parameters.too.many');
  }
}

/** raw-body's error for a client that went away before its whole body came. */
export class RequestAborted extends BodyError {
  constructor() {
    super('request aborted', 400, 'request.aborted');
  }
}

/** The body of a plain form request (isPlainForm), as body-parser's urlencoded parser makes it; throws TooManyParameters. */
export function parseFormBody(bytes: Buffer): Record<string, unknown> {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {};
  let parts = 1;
  for (let at = text.indexOf('&'); at !== -1; at = text.indexOf('&', at + 1)) {
    if (++parts > FORM_BODY_PARAMETERS) throw new TooManyParameters();
  }
  return qs.parse(text, {
    allowPrototypes: true,
    arrayLimit: parts,
    depth: 0,
    charset: 'utf-8',
    parameterLimit: FORM_BODY_PARAMETERS,
    strictDepth: true,
  });
}
