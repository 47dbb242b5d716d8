// Plays a browser against the running test app and the local PDS: one cookie jar per "browser"
// (the jar ignores domains, which is fine here: localhost and 127.0.0.1 are the same app).
import { expect, inject } from 'vitest';
import { approveAtPds, httpRequest, type CookieJar, type HttpResponse } from './pds.ts';
import type { TestApp } from './app.ts';

export interface Browser {
  jar: CookieJar;
  get(pathOrUrl: string): Promise<HttpResponse>;
  post(pathOrUrl: string, form: Record<string, string>, headers?: Record<string, string>): Promise<HttpResponse>;
}

export function browser(app: Pick<TestApp, 'url' | 'port'>, jar: CookieJar = new Map()): Browser {
  // An app on the default PUBLIC_URL (startTestApp listen 'any-port') listens elsewhere: its pages
  // are fetched from 127.0.0.1:PORT with the issuer's Host, as Caddy would forward them.
  const issuer = new URL(app.url);
  const remap = issuer.port !== String(app.port);
  return routedBrowser((p): { url: string; headers: Record<string, string> } => {
    const url = /^https?:/.test(p) ? p : `${app.url}${p}`;
    if (!remap || !url.startsWith(`${issuer.origin}/`)) return { url, headers: {} };
    return { url: `http://127.0.0.1:${app.port}${url.slice(issuer.origin.length)}`, headers: { host: issuer.host } };
  }, jar);
}

/** A browser whose every request goes where `target` says: the URL, and headers to add (e.g. a Host). */
export function routedBrowser(target: (pathOrUrl: string) => { url: string; headers: Record<string, string> }, jar: CookieJar = new Map()): Browser {
  return {
    jar,
    get: (p) => {
      const t = target(p);
      return httpRequest(t.url, { jar, headers: t.headers });
    },
    post: (p, form, headers = {}) => {
      const t = target(p);
      return httpRequest(t.url, {
        method: 'POST',
        jar,
        body: new URLSearchParams(form).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...t.headers, ...headers },
      });
    },
  };
}

/** Value of a form field (`<input name=… value=…>`), HTML entities decoded. */
export function fieldValue(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`))?.[0];
  const value = tag?.match(/\bvalue="([^"]*)"/)?.[1];
  return value === undefined ? undefined : decodeEntities(value);
}

/** The visible text of a page: tags dropped, entities decoded, whitespace collapsed. */
export function pageText(html: string): string {
  return decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
}

function decodeEntities(s: string): string {
  return s
    .replace(/&#34;|&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The Set-Cookie line for one cookie, if the response set it. */
export function setCookieLine(res: HttpResponse, name: string): string | undefined {
  return res.headers['set-cookie']?.find((line) => line.startsWith(`${name}=`));
}

export function location(res: HttpResponse): string {
  const value = res.headers.location;
  if (!value) throw new Error(`expected a redirect, got HTTP ${res.status}: ${res.body.slice(0, 500)}`);
  return value;
}

/** GET /auth/login then POST it; returns the PDS authorize URL. */
export async function startLogin(b: Browser, handle: string, opts: { returnTo?: string; bodyReturnTo?: string } = {}): Promise<string> {
  const page = await b.get(`/auth/login${opts.returnTo === undefined ? '' : `?return_to=${encodeURIComponent(opts.returnTo)}`}`);
  expect(page.status).toBe(200);
  const csrf = fieldValue(page.body, '_csrf');
  expect(csrf).toBeTruthy();
  const form: Record<string, string> = { handle, _csrf: csrf! };
  const returnTo = opts.bodyReturnTo ?? fieldValue(page.body, 'return_to');
  if (returnTo !== undefined) form.return_to = returnTo;
  const res = await b.post('/auth/login', form);
  expect(res.status, res.body.slice(0, 500)).toBe(303);
  const authorizeUrl = new URL(location(res));
  expect(authorizeUrl.origin).toBe(new URL(inject('pdsUrl')).origin);
  expect(authorizeUrl.pathname).toBe('/oauth/authorize');
  expect(authorizeUrl.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  return authorizeUrl.href;
}

export interface SignInResult {
  /** The PDS's redirect to our callback (http://127.0.0.1:PORT/auth/callback?…). */
  callbackUrl: string;
  /** The hand-off on PUBLIC_URL: 303 to /auth/signup (first time) or to the return_to/account. */
  handoff: HttpResponse;
}

/** Full sign-in up to and including the hand-off. */
export async function signIn(
  app: TestApp,
  b: Browser,
  account: { handle: string; password: string },
  opts: { returnTo?: string; bodyReturnTo?: string; loginAs?: string } = {},
): Promise<SignInResult> {
  const authorizeUrl = await startLogin(b, opts.loginAs ?? account.handle, opts);
  const callbackUrl = await approveAtPds(authorizeUrl, account);
  expect(callbackUrl.startsWith(`http://127.0.0.1:${app.port}/auth/callback?`)).toBe(true);
  const callback = await b.get(callbackUrl);
  expect(callback.status, callback.body.slice(0, 500)).toBe(303);
  const handoffUrl = location(callback);
  expect(handoffUrl.startsWith(`${app.url}/auth/handoff?ticket=`)).toBe(true);
  const handoff = await b.get(handoffUrl);
  expect(handoff.status, handoff.body.slice(0, 500)).toBe(303);
  return { callbackUrl, handoff };
}

/** GET /auth/signup and POST the chosen (or suggested) username. */
export async function chooseUsername(b: Browser, username?: string): Promise<{ suggested: string | undefined; res: HttpResponse }> {
  const page = await b.get('/auth/signup');
  expect(page.status, page.body.slice(0, 500)).toBe(200);
  const suggested = fieldValue(page.body, 'username');
  const res = await b.post('/auth/signup', { _csrf: fieldValue(page.body, '_csrf') ?? '', username: username ?? suggested ?? '' });
  return { suggested, res };
}

/** First sign-in + signup with the suggested (or given) username; ends signed in. */
export async function signUpNew(
  app: TestApp,
  b: Browser,
  account: { handle: string; password: string },
  username?: string,
): Promise<HttpResponse> {
  const { handoff } = await signIn(app, b, account);
  expect(location(handoff)).toBe('/auth/signup');
  const { res } = await chooseUsername(b, username);
  expect(res.status, pageText(res.body).slice(0, 500)).toBe(303);
  return res;
}
