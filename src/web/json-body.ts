// The body of POST /mcp (a JSON-RPC message): the Express chain reads it with express.json
// (body-parser, strict, MCP_BODY_LIMIT); the MCP light path (src/web/mcp-light-path.ts) reads the
// plain case itself, and must read it into exactly the same value, or the same error:
//   - plain: no Content-Encoding or Transfer-Encoding, a Content-Length from 1 to
//     JSON_LIGHT_BODY_LIMIT, and the media type application/json alone or with charset=utf-8.
//     Anything else (an empty body, which body-parser makes `{}`, a larger one, another charset,
//     a compressed one) is Express's.
//   - the bytes decoded as UTF-8 with a leading byte order mark dropped (as body-parser decodes);
//     body-parser's strict rule (the first character past JSON whitespace is `{` or `[`), then
//     JSON.parse; a body that decodes to nothing (a byte order mark alone) is `{}`. A failure is
//     body-parser's `entity.parse.failed`, which the error handler answers 400 "The request body
//     is not valid." either way.
import { BodyError, isPlainBody } from '../oauth/token/form-body.ts';

/** The largest body the light path reads itself; larger ones (up to express.json's 1 MiB) go through Express. */
export const JSON_LIGHT_BODY_LIMIT = 64 * 1024;

// Exactly these, in any case (see form-body.ts: other whitespace makes body-parser read another type).
const PLAIN_TYPES = new Set(['application/json', 'application/json;charset=utf-8', 'application/json; charset=utf-8']);

/** Whether the request's body is the plain case the light path reads itself (the headers alone decide). */
export function isPlainJson(headers: { [name: string]: string | string[] | undefined }): boolean {
  return isPlainBody(headers, PLAIN_TYPES, 1, JSON_LIGHT_BODY_LIMIT);
}

/** body-parser's error for a body that is not JSON (or not an object or array). */
class JsonParseFailed extends BodyError {
  constructor() {
    super('the body is not valid JSON', 400, 'entity.parse.failed');
  }
}

const isJsonWhitespace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

/** The body of a plain JSON request (isPlainJson), as express.json makes it; throws JsonParseFailed. */
export function parseJsonBody(bytes: Buffer): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.length === 0) return {}; // body-parser's special case (a body of a byte order mark alone)
  let at = 0;
  while (at < text.length && isJsonWhitespace(text.charCodeAt(at))) at++;
  const first = text[at];
  if (first !== '{' && first !== '[') throw new JsonParseFailed();
  try {
    return JSON.parse(text);
  } catch {
    throw new JsonParseFailed();
  }
}
