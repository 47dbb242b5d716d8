// The one helper for the OAuth 2.1 authorization-code flow with PKCE, as an MCP client and the
// person's browser drive it over HTTP against a listening test app (support/app.ts):
//   register (RFC 7591) → /authorize → consent page → Allow → code → token → refresh.
// Each step is its own function, so a test can stop anywhere, change one parameter, or race two
// steps; `connect()` runs them all. Requests go to 127.0.0.1:PORT with the issuer's Host header,
// so the same helpers serve apps on their own port and apps on the default PUBLIC_URL.
// Redirects are never followed: every step asserts the status the flow requires.
import crypto from 'node:crypto';
import { expect } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import type { TestApp } from './app.ts';
import { fieldValue, location, type Browser } from './browser-flow.ts';
import { httpRequest, type HttpResponse } from './pds.ts';
import type { Person } from './seed.ts';

/** What the flow needs of a test app: where it listens and what it calls itself. */
export type FlowApp = Pick<TestApp, 'url' | 'port'>;

/** The Host the app answers as its issuer (PUBLIC_URL's host). */
export function apexHost(app: FlowApp): string {
  return new URL(app.url).host;
}

// ── RFC 7636 PKCE ─────────────────────────────────────────────────────────────────────────────

export interface Pkce {
  verifier: string;
  challenge: string;
}

/** RFC 7636 §4.1-4.2: a 43-character verifier and its S256 challenge. */
export function newPkce(): Pkce {
  const verifier = crypto.randomBytes(32).toString('base64url');
  return { verifier, challenge: crypto.createHash('sha256').update(verifier).digest('base64url') };
}

// ── RFC 7591 registration ─────────────────────────────────────────────────────────────────────

export interface RegisteredClient {
  clientId: string;
  clientSecret: string | undefined;
  redirectUri: string;
  authMethod: 'none' | 'client_secret_post' | 'client_secret_basic';
}

/** POST /auth/oauth/register (RFC 7591) on the given host (default: the issuer; a wiki host uses its /register alias). */
export async function registerClient(
  app: FlowApp,
  metadata: { client_name: string; redirect_uris: string[]; token_endpoint_auth_method: RegisteredClient['authMethod']; scope?: string } & Record<string, unknown>,
  host?: string,
): Promise<RegisteredClient> {
  const res = await httpRequest(`http://127.0.0.1:${app.port}${host ? '/register' : OAUTH_PATHS.register}`, {
    method: 'POST',
    headers: { host: host ?? apexHost(app) },
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
export function registerClaudeCode(app: FlowApp): Promise<RegisteredClient> {
  return registerClient(app, {
    client_name: 'Claude Code (wiki)',
    redirect_uris: ['http://localhost:54321/callback'],
    token_endpoint_auth_method: 'none',
  });
}

/** Claude.ai registers a confidential client with client_secret_post. */
export function registerClaudeAi(app: FlowApp): Promise<RegisteredClient> {
  return registerClient(app, {
    client_name: 'Claude',
    redirect_uris: ['https://claude.ai/api/mcp/auth_callback'],
    token_endpoint_auth_method: 'client_secret_post',
  });
}

// ── Front channel: /authorize and consent ─────────────────────────────────────────────────────

/** The issuer's /authorize URL with these parameters (values may repeat: pass arrays). */
export function authorizeUrl(app: FlowApp, params: Record<string, string | string[] | undefined>): string {
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

/** GET /authorize (signed in): expects the 303 to the consent page; returns the consent path. */
export async function startAuthorization(b: Browser, url: string): Promise<string> {
  const start = await b.get(url);
  expect(start.status, start.body.slice(0, 500)).toBe(303);
  const consentPath = location(start);
  expect(consentPath).toMatch(/^\/auth\/oauth\/consent\?request=/);
  return consentPath;
}

/** The pending request's id in a consent path. */
export function requestIdOf(consentPath: string): string {
  const id = new URL(consentPath, 'http://x').searchParams.get('request');
  if (!id) throw new Error(`no request id in ${consentPath}`);
  return id;
}

/** GET /authorize and follow the 303 to the consent page (signed in). */
export async function openConsent(b: Browser, url: string): Promise<HttpResponse> {
  return openConsentPage(b, await startAuthorization(b, url));
}

/** GET a consent page (its path, or the request id) and expect it to render. */
export async function openConsentPage(b: Browser, consentPathOrRequestId: string): Promise<HttpResponse> {
  const consentPath = consentPathOrRequestId.startsWith('/') ? consentPathOrRequestId : `${OAUTH_PATHS.consent}?request=${encodeURIComponent(consentPathOrRequestId)}`;
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

/** Opens the consent page of a pending request, presses Allow, and returns the code from the redirect. */
export async function approve(b: Browser, consentPathOrRequestId: string): Promise<{ code: string; redirect: URL }> {
  const page = await openConsentPage(b, consentPathOrRequestId);
  const done = await submitConsent(b, page, 'allow');
  expect(done.status, done.body.slice(0, 500)).toBe(303);
  const redirect = new URL(location(done));
  const code = redirect.searchParams.get('code');
  expect(code, redirect.href).toBeTruthy();
  return { code: code!, redirect };
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
  person: Pick<Person, 'browser' | 'mcpUrl'>,
  app: FlowApp,
  overrides: Record<string, string | string[] | undefined> = {},
  pkce: Pkce = newPkce(),
): Promise<IssuedCode> {
  const params = authorizeParams(client, person, pkce, overrides);
  const { code, redirect } = await approve(person.browser, await startAuthorization(person.browser, authorizeUrl(app, params)));
  return {
    code,
    state: String(params.state),
    pkce,
    redirectUri: typeof params.redirect_uri === 'string' ? params.redirect_uri : client.redirectUri,
    redirect,
  };
}

// ── Back channel: the token endpoint ──────────────────────────────────────────────────────────

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
  app: FlowApp,
  path: string,
  client: RegisteredClient | undefined,
  form: Record<string, string>,
  opts: { host?: string; auth?: 'registered' | 'none'; secret?: string } = {},
): Promise<TokenReply> {
  const body: Record<string, string> = { ...form };
  const headers: Record<string, string> = {
    host: opts.host ?? apexHost(app),
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
  app: FlowApp,
  client: RegisteredClient | undefined,
  form: Record<string, string>,
  opts: { host?: string; auth?: 'registered' | 'none'; secret?: string } = {},
): Promise<TokenReply> {
  return postForm(app, OAUTH_PATHS.token, client, form, opts);
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
  scope: string;
}

/** Exchanges a code (with its PKCE verifier and redirect URI) and expects success. */
export async function exchangeCode(app: FlowApp, client: RegisteredClient, issued: IssuedCode, extra: Record<string, string> = {}): Promise<Tokens> {
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
export function refresh(app: FlowApp, client: RegisteredClient, refreshToken: string, extra: Record<string, string> = {}): Promise<TokenReply> {
  return tokenRequest(app, client, { grant_type: 'refresh_token', refresh_token: refreshToken, ...extra });
}

/** Revokes a token (RFC 7009) and returns the raw reply. */
export function revoke(app: FlowApp, client: RegisteredClient, token: string, extra: Record<string, string> = {}): Promise<TokenReply> {
  return postForm(app, OAUTH_PATHS.revoke, client, { token, ...extra });
}

/** The whole flow for a signed-in person: register (unless a client is given) → code → tokens. */
export async function connect(
  app: FlowApp,
  person: Pick<Person, 'browser' | 'mcpUrl'>,
  client?: RegisteredClient,
  overrides: Record<string, string | string[] | undefined> = {},
): Promise<{ client: RegisteredClient; issued: IssuedCode; tokens: Tokens }> {
  const registered = client ?? (await registerClaudeCode(app));
  const issued = await obtainCode(registered, person, app, overrides);
  return { client: registered, issued, tokens: await exchangeCode(app, registered, issued) };
}
