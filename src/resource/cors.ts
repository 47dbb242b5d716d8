// CORS for browser-based MCP clients (Fetch standard, CORS protocol). Wiki hosts authenticate with
// bearer tokens only, never cookies, so any origin may call them without credentials mode. The same
// holds for the OAuth endpoints a client calls itself (/token, /register, /revoke: client
// authentication is in the body or the Authorization header, and these endpoints never read a
// cookie), so MCP Inspector and other clients running in a browser page can call them directly.
// `Access-Control-Allow-Origin: *` and never Allow-Credentials: a browser then sends no cookies
// with the request, and would not expose the answer to a page that asked for credentials.
import type { RequestHandler } from 'express';

export interface CorsPolicy {
  methods: readonly string[];
  allowHeaders?: readonly string[];
  exposeHeaders?: readonly string[];
}

/** The CORS headers of an answer that is not a preflight, in the order `cors` sets them: [name, value, name, value…]. */
export function corsAnswerHeaders(policy: CorsPolicy): string[] {
  const headers = ['Access-Control-Allow-Origin', '*'];
  if (policy.exposeHeaders?.length) headers.push('Access-Control-Expose-Headers', policy.exposeHeaders.join(', '));
  return headers;
}

/** Sets the CORS response headers; answers a preflight (OPTIONS) with 204 itself. */
export function cors(policy: CorsPolicy): RequestHandler {
  const methods = [...policy.methods, 'OPTIONS'].join(', ');
  const answer = corsAnswerHeaders(policy);
  return (req, res, next) => {
    for (let i = 0; i < answer.length; i += 2) res.setHeader(answer[i]!, answer[i + 1]!);
    if (req.method !== 'OPTIONS') return next();
    res.set({ 'Access-Control-Allow-Methods': methods, 'Access-Control-Max-Age': '600' });
    if (policy.allowHeaders?.length) res.set('Access-Control-Allow-Headers', policy.allowHeaders.join(', '));
    res.status(204).end();
  };
}

/** Protected resource metadata: plain GETs from anywhere. */
export const metadataCors = cors({ methods: ['GET', 'HEAD'] });

/** The MCP endpoint: browser clients must read the challenge and send the MCP headers (MCP 2025-11-25 transports). */
const MCP_CORS: CorsPolicy = {
  methods: ['GET', 'POST', 'DELETE'],
  allowHeaders: ['Authorization', 'Content-Type', 'Mcp-Protocol-Version', 'Mcp-Session-Id', 'Last-Event-ID'],
  exposeHeaders: ['WWW-Authenticate', 'Mcp-Session-Id', 'Mcp-Protocol-Version'],
};
export const mcpCors = cors(MCP_CORS);
/** mcpCors' headers on an answer that is not a preflight (the light path writes them itself). */
export const MCP_CORS_ANSWER = corsAnswerHeaders(MCP_CORS);

/** /token, /register and /revoke (issuer and wiki-host fallbacks), called by browser-based MCP clients. */
export const OAUTH_CLIENT_CORS: CorsPolicy = {
  methods: ['POST'],
  allowHeaders: ['Authorization', 'Content-Type', 'Accept', 'Mcp-Protocol-Version'],
  exposeHeaders: ['WWW-Authenticate', 'Retry-After'],
};
export const oauthClientCors = cors(OAUTH_CLIENT_CORS);
