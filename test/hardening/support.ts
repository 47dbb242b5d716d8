// Shared pieces of the hardening suite: a whole app (startTestApp) on a temporary data directory,
// listening on 127.0.0.1 so supertest reuses one server; row-count and content snapshots of every
// table; seeded users, sessions, clients and grants; and the OAuth flow driven over HTTP.
import request from 'supertest';
import { expect } from 'vitest';
import type { User } from '../../src/accounts/users.repo.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { contentDigest as digestRows, countChanges, rowCounts as countRows } from '../support/sql.ts';
import { seedSignedInSession, seedUser } from '../support/seed.ts';
import { browser, type Browser } from '../support/browser-flow.ts';
import {
  approve,
  connect,
  exchangeCode as flowExchangeCode,
  newPkce,
  registerClient as registerFlowClient,
  requestIdOf,
  startAuthorization,
  type Pkce,
  type RegisteredClient as FlowClient,
} from '../support/oauth-flow.ts';

/** PUBLIC_URL of every hardening app: the default, so wiki hosts are `{slug}.localhost:3000`. */
export const ISSUER = 'http://localhost:3000';
export const APEX_HOST = 'localhost:3000';
export const wikiHost = (slug: string): string => `${slug}.${APEX_HOST}`;
export const wikiMcpUrl = (slug: string): string => `http://${wikiHost(slug)}/mcp`;

/** Limits high enough that only the rate-limit tests ever see a 429. */
export const NO_RATE_LIMITS = {
  RATE_LIMIT_LOGIN_PER_MINUTE: '1000000',
  RATE_LIMIT_REGISTER_PER_MINUTE: '1000000',
  RATE_LIMIT_TOKEN_PER_MINUTE: '1000000',
  RATE_LIMIT_DISCOVERY_PER_MINUTE: '1000000',
  RATE_LIMIT_CLIENT_PER_MINUTE: '1000000',
  RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: '1000000',
  RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: '1000000',
  // The daily cap on new wikis: the suites seed many users (test/security/wiki-cap.test.ts tests it).
  NEW_WIKIS_PER_DAY: '1000000',
};

/** A hardening app is a test app on PUBLIC_URL http://localhost:3000, listening on any 127.0.0.1 port. */
export type HardeningApp = TestApp;

/**
 * The real app (startTestApp, listen 'any-port') on a fresh data directory with NO_RATE_LIMITS.
 * Handle and DID resolution go to the local PDS and PLC, so no sign-in attempt ever leaves the machine.
 */
export function startHardeningApp(env: Record<string, string> = {}): Promise<HardeningApp> {
  return startTestApp({ ...NO_RATE_LIMITS, ...env }, { listen: 'any-port' });
}

// ---------------------------------------------------------------------------
// Database snapshots
// ---------------------------------------------------------------------------

// Over the app's own database, whichever store it uses (test/support/sql.ts).

/** `SELECT count(*)` of every table. */
export const rowCounts = (app: Pick<TestApp, 'sql'>): Promise<Record<string, number>> => countRows(app.sql());

/** A digest of every row of every table: it changes on any insert, update or delete. */
export const contentDigest = (app: Pick<TestApp, 'sql'>): Promise<string> => digestRows(app.sql());

export { countChanges };

/** Runs `action` and fails when it changed any row of any table. */
export async function expectNoWrites<T>(app: Pick<TestApp, 'sql'>, action: () => Promise<T>, label = ''): Promise<T> {
  const counts = await rowCounts(app);
  const digest = await contentDigest(app);
  const result = await action();
  expect(countChanges(counts, await rowCounts(app)), `row counts changed ${label}`).toEqual({});
  expect(await contentDigest(app), `rows changed ${label}`).toBe(digest);
  return result;
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

/** RFC 6749 §5.2 and friends: every error code an API endpoint of ours may answer with. */
export const OAUTH_ERROR_CODES = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_redirect_uri',
  'invalid_client_metadata',
  'too_many_requests',
]);

/** What the assertions read of a response (supertest's, or one built from node:http). */
export interface CheckedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON (supertest's `body`), shape unknown until checked. */
  body: unknown;
}

/** No response header may carry a line break or a header smuggled in through one. */
export function expectCleanHeaders(res: CheckedResponse): void {
  for (const [name, value] of Object.entries(res.headers)) {
    for (const v of Array.isArray(value) ? value : [String(value)]) {
      expect(v, `header ${name}`).not.toMatch(/[\r\n\u0000]/);
    }
  }
  expect(res.headers['x-injected'], 'a header injected through a parameter').toBeUndefined();
  for (const line of [res.headers['set-cookie'] ?? []].flat()) expect(line).not.toMatch(/^injected=/i);
}

/** A JSON API error: RFC 6749 §5.2 body with a known `error`, never cached. */
export function expectJsonError(res: CheckedResponse, statuses: readonly number[], codes: ReadonlySet<string> = OAUTH_ERROR_CODES): void {
  expect(statuses, `status ${res.status}: ${(res.text ?? '').slice(0, 300)}`).toContain(res.status);
  expect(res.headers['content-type'], (res.text ?? '').slice(0, 300)).toMatch(/^application\/json/);
  const body = res.body as { error?: unknown; error_description?: unknown };
  expect(typeof body.error === 'string' && codes.has(body.error), `error code ${String(body.error)}`).toBe(true);
  if (body.error_description !== undefined) expect(typeof body.error_description).toBe('string');
  expect(res.headers['cache-control']).toMatch(/no-store/);
  if (res.status === 401) expect(res.headers['www-authenticate']).toMatch(/^(Basic|Bearer)\b/);
  if (res.status === 429) expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
}

/** A browser error: the HTML error page with its status, never a stack trace. */
export function expectErrorPage(res: CheckedResponse, statuses: readonly number[]): void {
  expect(statuses, `status ${res.status}: ${res.text.slice(0, 300)}`).toContain(res.status);
  expect(res.headers['content-type']).toMatch(/^text\/html/);
  expect(res.text).not.toMatch(/\bat .*\.(ts|js):\d+|node_modules|SqliteError|TypeError/);
  expect(res.text).toContain(String(res.headers['x-request-id']));
}

/**
 * RFC 6750 §3 / RFC 9110 §11.6.1 — `Bearer` followed by comma-separated auth-params whose values
 * are quoted-strings (escapes allowed), with resource_metadata on this wiki's PRM.
 */
export function expectBearerChallenge(res: CheckedResponse, slug: string): void {
  const header = String(res.headers['www-authenticate'] ?? '');
  const param = String.raw`[a-z_]+="(?:[^"\\\x00-\x1f\x7f]|\\[\x20-\x7e])*"`;
  expect(header).toMatch(new RegExp(`^Bearer ${param}(?:, ${param})*$`));
  expect(header).toContain(`resource_metadata="http://${wikiHost(slug)}/.well-known/oauth-protected-resource/mcp"`);
}

/** Every 5xx is a bug: fail with the body so the cause is visible. */
export function expectNot5xx(res: CheckedResponse, label = ''): void {
  expect(res.status, `${label} → ${res.status}: ${(res.text ?? '').slice(0, 500)}`).toBeLessThan(500);
}

// ---------------------------------------------------------------------------
// Cookies and forms
// ---------------------------------------------------------------------------

/** Name → value of the cookies a response set (deletions drop the name). */
export function cookiesFrom(res: request.Response, jar: Map<string, string> = new Map()): Map<string, string> {
  for (const line of [res.headers['set-cookie'] ?? []].flat()) {
    const [pair = ''] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const value = pair.slice(eq + 1);
    if (value === '' || /;\s*expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(pair.slice(0, eq));
    else jar.set(pair.slice(0, eq), value);
  }
  return jar;
}

export function cookieHeader(jar: Map<string, string>): string {
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

/** The value of a hidden form field (`_csrf`, `request`). */
export function formField(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`))?.[0];
  return tag?.match(/\bvalue="([^"]*)"/)?.[1]?.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

/** An anonymous CSRF token and its cookie, as the sign-in page hands them out. */
export async function anonymousCsrf(app: HardeningApp): Promise<{ token: string; cookie: string }> {
  const page = await app.http().get('/auth/login');
  expect(page.status).toBe(200);
  const token = formField(page.text, '_csrf');
  const jar = cookiesFrom(page);
  if (!token || !jar.has('csrf')) throw new Error('the sign-in page gave no CSRF token');
  return { token, cookie: `csrf=${jar.get('csrf')}` };
}

// ---------------------------------------------------------------------------
// Seeds
// ---------------------------------------------------------------------------

/** A seeded user (test/support/seed.ts seedUser: a user with their first wiki, slug = username). */
export type SeededUser = Pick<User, 'did' | 'handle' | 'username'>;
export { seedUser };

export interface BrowserSession {
  user: SeededUser;
  /** The same signed-in browser for support/oauth-flow.ts (its cookie jar). */
  browser: Browser;
  /** session=…; csrf=… (the apex session cookie, development name) */
  cookie: string;
  /** The session-bound CSRF token for this browser's forms. */
  csrf: string;
}

/** A signed-in browser (session row + cookie) with its CSRF token, read from the account page. */
export async function signedInBrowser(app: HardeningApp, user: SeededUser): Promise<BrowserSession> {
  const session = await seedSignedInSession(app.ctx, user, 'hardening');
  const jar = new Map([[session.name, session.value]]);
  const page = await app.http().get('/account').set('Cookie', cookieHeader(jar));
  expect(page.status, page.text.slice(0, 300)).toBe(200);
  cookiesFrom(page, jar);
  const csrf = formField(page.text, '_csrf');
  if (!csrf) throw new Error('the account page gave no CSRF token');
  return { user, browser: browser(app, jar), cookie: cookieHeader(jar), csrf };
}

/** RFC 7636 S256 pair (support/oauth-flow.ts newPkce). */
export type PkcePair = Pkce;
export const pkcePair = newPkce;

export const REDIRECT_URI = 'http://127.0.0.1:9/callback';

export interface RegisteredClient {
  clientId: string;
  clientSecret: string | undefined;
}

/** RFC 7591 over HTTP (support/oauth-flow.ts): a public client (auth method none) unless told otherwise. */
export async function registerClient(app: HardeningApp, metadata: Record<string, unknown> = {}): Promise<RegisteredClient> {
  const client = await registerFlowClient(app, {
    client_name: 'Hardening',
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    ...metadata,
  } as Parameters<typeof registerFlowClient>[1]);
  return { clientId: client.clientId, clientSecret: client.clientSecret };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** A well-formed /authorize query for this client (REDIRECT_URI) and wiki; override any parameter. */
export function authorizeQuery(clientId: string, slug: string, overrides: Record<string, string> = {}, pkce: PkcePair = pkcePair()): string {
  return new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    code_challenge: pkce.challenge,
    code_challenge_method: 'S256',
    scope: 'wiki:read wiki:write',
    state: 'st',
    resource: wikiMcpUrl(slug),
    ...overrides,
  }).toString();
}

/** The client as support/oauth-flow.ts knows it: public, redirecting to REDIRECT_URI. */
function flowClient(clientId: string): FlowClient {
  return { clientId, clientSecret: undefined, redirectUri: REDIRECT_URI, authMethod: 'none' };
}

/** GET /authorize → the consent page's request id (the browser is signed in). */
export async function authorize(app: HardeningApp, browser: BrowserSession, clientId: string, pkce: PkcePair, slug: string): Promise<string> {
  const url = `${app.url}/auth/oauth/authorize?${authorizeQuery(clientId, slug, {}, pkce)}`;
  return requestIdOf(await startAuthorization(browser.browser, url));
}

/** GET the consent page (as a browser would), then POST Allow; returns the code. */
export async function consent(_app: HardeningApp, browser: BrowserSession, requestId: string): Promise<string> {
  return (await approve(browser.browser, requestId)).code;
}

export async function exchangeCode(app: HardeningApp, clientId: string, code: string, pkce: PkcePair): Promise<Tokens> {
  return flowExchangeCode(app, flowClient(clientId), { code, pkce, redirectUri: REDIRECT_URI, state: 'st', redirect: new URL(REDIRECT_URI) });
}

export function refresh(app: Pick<HardeningApp, 'http'>, clientId: string, refreshToken: string) {
  return app.http().post('/auth/oauth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
}

/** refresh, expected to succeed: the new tokens. */
export async function refreshSucceeds(app: Pick<HardeningApp, 'http'>, clientId: string, refreshToken: string): Promise<Tokens> {
  const res = await refresh(app, clientId, refreshToken);
  expect(res.status, res.text).toBe(200);
  return res.body as Tokens;
}

/** The grant an access token belongs to (its `gid` claim). */
export const grantIdOf = (accessToken: string): string =>
  (JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as { gid: string }).gid;

/** register → authorize → consent → token, all over HTTP (support/oauth-flow.ts). */
export async function connectClient(
  app: HardeningApp,
  browser: BrowserSession,
  slug = browser.user.username,
): Promise<{ client: RegisteredClient; tokens: Tokens }> {
  const client = await registerClient(app);
  const { tokens } = await connect(app, { browser: browser.browser, mcpUrl: wikiMcpUrl(slug) }, flowClient(client.clientId), { state: 'st' });
  return { client, tokens };
}

/** A JSON-RPC call to a wiki's MCP endpoint with a bearer token. */
export function mcpCall(app: HardeningApp, slug: string, accessToken: string, body: unknown) {
  return app.http()
    .post('/mcp')
    .set('Host', wikiHost(slug))
    .set('Authorization', `Bearer ${accessToken}`)
    .set('Accept', 'application/json, text/event-stream')
    .set('Content-Type', 'application/json')
    .send(JSON.stringify(body));
}

export const WHOAMI = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
