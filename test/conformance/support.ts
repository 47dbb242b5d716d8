// Protocol-test helpers for the conformance suites: the real app on a loopback port with generous
// limits, a wiki host's /token alias, JWT decoding, and MCP calls on a wiki host. People are seeded
// with support/seed.ts (seedPerson); the authorize → consent → token steps are support/oauth-flow.ts.
import { sha256Hex } from '../../src/lib/secrets.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { postForm, type RegisteredClient, type TokenReply } from '../support/oauth-flow.ts';
import { httpRequest, type HttpResponse } from '../support/pds.ts';

/** Generous limits: these suites send hundreds of requests from one address within a minute. */
export function startConformanceApp(env: Record<string, string> = {}): Promise<TestApp> {
  return startTestApp({
    RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
    RATE_LIMIT_REGISTER_PER_MINUTE: '100000',
    RATE_LIMIT_DISCOVERY_PER_MINUTE: '100000',
    RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
    RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: '100000',
    NEW_WIKIS_PER_DAY: '100000',
    ...env,
  });
}

/** The token endpoint at a wiki host's /token alias. */
export function wikiHostTokenRequest(app: TestApp, host: string, client: RegisteredClient, form: Record<string, string>): Promise<TokenReply> {
  return postForm(app, '/token', client, form, { host });
}

/** Where the authorization code's row lives: its SHA-256 hash. */
export function codeHash(code: string): string {
  return sha256Hex(code);
}

/** Decodes a JWT's header and payload without verifying it. */
export function decodeJwt(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [h = '', p = ''] = token.split('.');
  const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(h), payload: decode(p) };
}

/** GET (or another method) on a wiki host: sent to 127.0.0.1 with the wiki's Host header. */
export function wikiRequest(
  app: TestApp,
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string>; json?: unknown } = {},
): Promise<HttpResponse> {
  return httpRequest(`http://127.0.0.1:${app.port}${path}`, {
    method: opts.method ?? 'GET',
    headers: { host, ...opts.headers },
    ...(opts.json === undefined ? {} : { json: opts.json }),
  });
}

export function wikiHost(app: TestApp, slug: string): string {
  return `${slug}.localhost:${app.port}`;
}

/** Calls the wiki's MCP `whoami` tool with this access token (stateless JSON-RPC POST). */
export async function callWhoami(app: TestApp, slug: string, accessToken: string): Promise<{ status: number; result: Record<string, unknown> | undefined; res: HttpResponse }> {
  const res = await wikiRequest(app, wikiHost(app, slug), '/mcp', {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${accessToken}`,
      'mcp-protocol-version': '2025-11-25',
    },
    json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
  });
  let result: Record<string, unknown> | undefined;
  if (res.status === 200) {
    const body = JSON.parse(res.body) as { result?: { structuredContent?: Record<string, unknown> } };
    result = body.result?.structuredContent;
  }
  return { status: res.status, result, res };
}
