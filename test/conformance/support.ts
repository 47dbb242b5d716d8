// Protocol-test helpers for the conformance suites: the real app on a loopback port, people seeded
// straight into the database (user + wiki + signed session cookie, no PDS round trip), clients
// registered through POST /register, and the authorize → consent → token steps driven as a
// cookie-keeping browser would (node:http, redirects not followed).
import crypto from 'node:crypto';
import { expect } from 'vitest';
import { cookieNames } from '../../src/accounts/cookies.ts';
import { createSession } from '../../src/accounts/session.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';
import { browser, fieldValue, location, type Browser } from '../support/browser-flow.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
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

export interface Person {
  did: string;
  handle: string;
  /** Also the slug of their wiki. */
  username: string;
  /** The wiki's RFC 8707 resource identifier: http://{username}.localhost:PORT/mcp */
  mcpUrl: string;
  /** A browser signed in as this person (session cookie in its jar). */
  browser: Browser;
}

/** A person with an account and a wiki, signed in in a fresh browser, as if they had signed up. */
export async function seedPerson(app: TestApp, username: string): Promise<Person> {
  const did = `did:plc:${crypto.randomBytes(12).toString('hex')}`;
  const handle = `${username}.test`;
  const user = app.ctx.users.insertWithFirstWiki({ did, handle, displayName: null, username });
  if (user === 'taken') throw new Error(`seedPerson: username ${username} is taken`);
  const token = createSession(app.ctx, user, 'conformance');
  const b = browser(app);
  b.jar.set(cookieNames(app.config).session, token);
  return { did, handle, username, mcpUrl: wikiMcpUrl(app.config, username), browser: b };
}

export interface RegisteredClient {
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
  authMethod: 'none' | 'client_secret_post' | 'client_secret_basic';
}

/** POST /auth/oauth/register (RFC 7591) on the given host (default: the issuer). */
export async function registerClient(
  app: TestApp,
  metadata: { client_name: string; redirect_uris: string[]; token_endpoint_auth_method: RegisteredClient['authMethod']; scope?: string },
  host?: string,
): Promise<RegisteredClient> {
  const res = await httpRequest(`http://127.0.0.1:${app.port}${host ? '/register' : OAUTH_PATHS.register}`, {
    method: 'POST',
    headers: { host: host ?? `localhost:${app.port}` },
    json: { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], ...metadata },
  });
  expect(res.status, res.body).toBe(201);
  const body = JSON.parse(res.body) as { client_id: string; client_secret?: string };
  return {
    clientId: body.client_id,
    clientSecret: body.client_secret,
    redirectUri: metadata.redirect_uris[0]!,
    authMethod: metadata.token_endpoint_auth_method,
  };
}

/** Claude Code registers a public client with a loopback redirect (the port changes between runs). */
export function registerClaudeCode(app: TestApp): Promise<RegisteredClient> {
  return registerClient(app, {
    client_name: 'Claude Code (wiki)',
    redirect_uris: ['http://localhost:54321/callback'],
    token_endpoint_auth_method: 'none',
  });
}

/** Claude.ai registers a confidential client with client_secret_post. */
export function registerClaudeAi(app: TestApp): Promise<RegisteredClient> {
  return registerClient(app, {
    client_name: 'Claude',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'client_secret_post',
  });
}

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** RFC 7636 §4.1-4.2: a 43-character verifier and its S256 challenge. */
export function newPkce(): Pkce {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

/** The issuer's /authorize URL with these parameters (values may repeat: pass arrays). */
export function authorizeUrl(app: TestApp, params: Record<string, string | string[] | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    for (const v of value === undefined ? [] : Array.isArray(value) ? value : [value]) query.append(name, v);
  }
  return `${app.url}${OAUTH_PATHS.authorize}?${query}`;
}

/** The parameters a well-behaved client sends; override or drop (undefined) any of them. */
export function authorizeParams(
  client: RegisteredClient,
  person: Pick<Person, 'mcpUrl'>,
  pkce: Pkce,
  overrides: Record<string, string | string[] | undefined> = {},
): Record<string, string | string[] | undefined> {
  return {
    response_type: 'code',
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    scope: 'wiki:read wiki:write',
    resource: person.mcpUrl,
    state: crypto.randomBytes(12).toString('base64url'),
    ...overrides,
  };
}

/** GET /authorize and follow the 303 to the consent page (signed in). */
export async function openConsent(b: Browser, url: string): Promise<HttpResponse> {
  const start = await b.get(url);
  expect(start.status, start.body.slice(0, 500)).toBe(303);
  const consentPath = location(start);
  expect(consentPath).toMatch(/^\/auth\/oauth\/consent\?request=/);
  const page = await b.get(consentPath);
  expect(page.status, page.body.slice(0, 500)).toBe(200);
  return page;
}

/** Presses a button on the consent page; returns the 303 (or the refusal). */
export function submitConsent(b: Browser, page: HttpResponse, decision: 'allow' | 'deny', extra: Record<string, string> = {}): Promise<HttpResponse> {
  return b.post(OAUTH_PATHS.consent, {
    _csrf: fieldValue(page.body, '_csrf') ?? '',
    request: fieldValue(page.body, 'request') ?? '',
    decision,
    ...extra,
  });
}

export interface IssuedCode {
  code: string;
  state: string;
  pkce: Pkce;
  redirectUri: string;
  /** The full redirect back to the client. */
  redirect: URL;
}

/** The whole front channel: /authorize → consent → Allow → the client's redirect with a code. */
export async function obtainCode(
  client: RegisteredClient,
  person: Person,
  app: TestApp,
  overrides: Record<string, string | string[] | undefined> = {},
): Promise<IssuedCode> {
  const pkce = newPkce();
  const params = authorizeParams(client, person, pkce, overrides);
  const page = await openConsent(person.browser, authorizeUrl(app, params));
  const done = await submitConsent(person.browser, page, 'allow');
  expect(done.status, done.body.slice(0, 500)).toBe(303);
  const redirect = new URL(location(done));
  const code = redirect.searchParams.get('code');
  expect(code, redirect.href).toBeTruthy();
  return {
    code: code!,
    state: String(params.state),
    pkce,
    redirectUri: typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUri,
    redirect,
  };
}

export interface TokenReply {
  status: number;
  headers: HttpResponse['headers'];
  body: Record<string, unknown>;
  raw: string;
}

/**
 * POST a form to the token (or revocation) endpoint as the client would, authenticating with its
 * registered method unless `auth` says otherwise. `host` sends it to a wiki host's alias instead.
 */
export async function postForm(
  app: TestApp,
  path: string,
  client: RegisteredClient | undefined,
  form: Record<string, string>,
  opts: { host?: string; auth?: 'registered' | 'none'; secret?: string } = {},
): Promise<TokenReply> {
  const body: Record<string, string> = { ...form };
  const headers: Record<string, string> = {
    host: opts.host ?? `localhost:${app.port}`,
    'content-type': 'application/x-www-form-urlencoded',
  };
  if (client && opts.auth !== 'none') {
    const secret = opts.secret ?? client.clientSecret ?? '';
    if (client.authMethod === 'client_secret_basic') {
      const enc = (s: string) => encodeURIComponent(s);
      headers.authorization = `Basic ${Buffer.from(`${enc(client.clientId)}:${enc(secret)}`).toString('base64')}`;
    } else {
      body.client_id = client.clientId;
      if (client.authMethod === 'client_secret_post') body.client_secret = secret;
    }
  } else if (client) {
    body.client_id = client.clientId;
  }
  const res = await httpRequest(`http://127.0.0.1:${app.port}${path}`, {
    method: 'POST',
    headers,
    body: new URLSearchParams(body).toString(),
  });
  let parsed: Record<string, unknown> = {};
  try {
    parsed = res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {};
  } catch {
    parsed = {};
  }
  return { status: res.status, headers: res.headers, body: parsed, raw: res.body };
}

export function tokenRequest(
  app: TestApp,
  client: RegisteredClient | undefined,
  form: Record<string, string>,
  opts: { host?: string; auth?: 'registered' | 'none'; secret?: string } = {},
): Promise<TokenReply> {
  return postForm(app, OAUTH_PATHS.token, client, form, opts);
}

/** The token endpoint at a wiki host's /token alias. */
export function wikiHostTokenRequest(app: TestApp, host: string, client: RegisteredClient, form: Record<string, string>): Promise<TokenReply> {
  return postForm(app, '/token', client, form, { host });
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Exchanges a code (with its PKCE verifier and redirect URI) and expects success. */
export async function exchangeCode(app: TestApp, client: RegisteredClient, issued: IssuedCode, extra: Record<string, string> = {}): Promise<Tokens> {
  const res = await tokenRequest(app, client, {
    grant_type: 'authorization_code',
    code: issued.code,
    code_verifier: issued.pkce.verifier,
    redirect_uri: issued.redirectUri,
    ...extra,
  });
  expect(res.status, res.raw).toBe(200);
  return res.body as unknown as Tokens;
}

/** Refreshes and returns the raw reply. */
export function refresh(app: TestApp, client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenReply> {
  return tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
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
