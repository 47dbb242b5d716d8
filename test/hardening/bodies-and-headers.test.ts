// Every body limit, endpoint by endpoint: one byte over is a 413 in the endpoint's own format (JSON
// for APIs, the error page for browsers), as are too many parameters and a compressed body that
// inflates past the limit; nothing is written. And parameters that end up in headers (Location,
// WWW-Authenticate) cannot add a line or a header.
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpRequest } from '../support/pds.ts';
import {
  anonymousCsrf,
  APEX_HOST,
  connectClient,
  expectBearerChallenge,
  expectCleanHeaders,
  expectErrorPage,
  expectJsonError,
  expectNoWrites,
  ISSUER,
  pkcePair,
  REDIRECT_URI,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  wikiHost,
  type BrowserSession,
  type CheckedResponse,
  type HardeningApp,
  type RegisteredClient,
  type Tokens,
} from './support.ts';

const KB = 1024;

let app: HardeningApp;
let browser: BrowserSession;
let client: RegisteredClient;
let tokens: Tokens;
let anon: { token: string; cookie: string };

beforeAll(async () => {
  app = await startHardeningApp();
  browser = await signedInBrowser(app, await seedUser(app.ctx, 'alice'));
  ({ client, tokens } = await connectClient(app, browser));
  anon = await anonymousCsrf(app);
});
afterAll(async () => {
  await app?.close();
});

interface BodyEndpoint {
  path: string;
  host?: string;
  limit: number;
  type: 'json' | 'form';
  format: 'json' | 'html';
  headers?: () => Record<string, string>;
  /** Form parameters allowed (body-parser's parameterLimit). */
  parameterLimit?: number;
}

const bodyEndpoints: BodyEndpoint[] = [
  { path: '/auth/oauth/register', limit: 16 * KB, type: 'json', format: 'json' },
  { path: '/register', host: wikiHost('alice'), limit: 16 * KB, type: 'json', format: 'json' },
  { path: '/auth/oauth/token', limit: 16 * KB, type: 'form', format: 'json', parameterLimit: 30 },
  { path: '/token', host: wikiHost('alice'), limit: 16 * KB, type: 'form', format: 'json', parameterLimit: 30 },
  { path: '/auth/oauth/revoke', limit: 16 * KB, type: 'form', format: 'json', parameterLimit: 30 },
  { path: '/auth/login', limit: 8 * KB, type: 'form', format: 'html', parameterLimit: 20 },
  { path: '/auth/signup', limit: 8 * KB, type: 'form', format: 'html', parameterLimit: 20 },
  { path: '/auth/oauth/consent', limit: 8 * KB, type: 'form', format: 'html', parameterLimit: 20, headers: () => ({ Cookie: browser.cookie }) },
  { path: '/auth/logout', limit: 8 * KB, type: 'form', format: 'html', parameterLimit: 20, headers: () => ({ Cookie: browser.cookie }) },
  { path: '/account/apps/revoke', limit: 8 * KB, type: 'form', format: 'html', parameterLimit: 20, headers: () => ({ Cookie: browser.cookie }) },
  {
    path: '/mcp',
    host: wikiHost('alice'),
    limit: 1024 * KB,
    type: 'json',
    format: 'json',
    headers: () => ({ Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/json, text/event-stream' }),
  },
];

/** A body of exactly `bytes` bytes of the endpoint's type. */
function bodyOf(type: 'json' | 'form', bytes: number): string {
  if (type === 'form') return `pad=${'a'.repeat(bytes - 4)}`;
  return `{"pad":"${'a'.repeat(bytes - 10)}"}`;
}

function post(e: BodyEndpoint, body: string, extra: Record<string, string> = {}) {
  let req = app.http().post(e.path).set('Content-Type', e.type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded');
  if (e.host) req = req.set('Host', e.host);
  return req.set({ ...e.headers?.(), ...extra }).send(body);
}

/** Binary bodies go over plain node:http (superagent re-encodes Buffers). */
async function postBytes(e: BodyEndpoint, body: Buffer, extra: Record<string, string>): Promise<CheckedResponse> {
  const port = app.port;
  const res = await httpRequest(`http://127.0.0.1:${port}${e.path}`, {
    method: 'POST',
    body,
    headers: {
      host: e.host ?? APEX_HOST,
      'content-type': e.type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      ...e.headers?.(),
      ...extra,
    },
  });
  const json = /^application\/json/.test(String(res.headers['content-type'])) ? (JSON.parse(res.body) as unknown) : undefined;
  return { status: res.status, headers: res.headers as Record<string, string>, text: res.body, body: json };
}

function expectTooLarge(e: BodyEndpoint, res: CheckedResponse): void {
  if (e.format === 'json') expectJsonError(res, [413], new Set(['invalid_request']));
  else expectErrorPage(res, [413]);
}

describe.each(bodyEndpoints.map((e) => [`${e.host ?? 'apex'} ${e.path}`, e] as const))('POST %s', (_name, e) => {
  it(`a body at the limit is read; one byte over is a 413 (${e.limit} bytes)`, async () => {
    const atLimit = await post(e, bodyOf(e.type, e.limit));
    expect(atLimit.status, atLimit.text.slice(0, 200)).not.toBe(413);
    expect(atLimit.status).toBeLessThan(500);
    const over = await expectNoWrites(app, () => post(e, bodyOf(e.type, e.limit + 1)));
    expectTooLarge(e, over);
  });

  it('a gzip body that inflates past the limit is a 413; a corrupt one a 400', async () => {
    const bomb = zlib.gzipSync(Buffer.from(bodyOf(e.type, e.limit * 64)));
    expect(bomb.length).toBeLessThan(e.limit);
    const res = await expectNoWrites(app, () => postBytes(e, bomb, { 'content-encoding': 'gzip' }));
    expectTooLarge(e, res);
    const corrupt = await expectNoWrites(app, () => postBytes(e, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' }));
    if (e.format === 'json') expectJsonError(corrupt, [400], new Set(['invalid_request']));
    else expectErrorPage(corrupt, [400]);
  });

  it('an unknown content encoding or charset is a 415', async () => {
    const encoding = await expectNoWrites(app, () => post(e, 'x', { 'Content-Encoding': 'x-unknown' }));
    const charset = await expectNoWrites(app, () =>
      post(e, 'x', { 'Content-Type': `${e.type === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'}; charset=x-klingon` }),
    );
    for (const res of [encoding, charset]) {
      if (e.format === 'json') expectJsonError(res, [415], new Set(['invalid_request']));
      else expectErrorPage(res, [415]);
    }
  });

  if (e.parameterLimit !== undefined) {
    it(`more than ${e.parameterLimit} form parameters is a 413`, async () => {
      const body = Array.from({ length: e.parameterLimit! + 1 }, (_, i) => `p${i}=1`).join('&');
      const res = await expectNoWrites(app, () => post(e, body));
      expectTooLarge(e, res);
    });
  }
});

describe('a huge body to /mcp without a token', () => {
  it('gets the 401 challenge without the body being read, and the connection stays usable', async () => {
    const res = await app.http()
      .post('/mcp')
      .set('Host', wikiHost('alice'))
      .set('Content-Type', 'application/json')
      .send(bodyOf('json', 4 * 1024 * KB));
    expect(res.status).toBe(401);
    expectBearerChallenge(res, 'alice');
    expect((await app.http().get('/.well-known/oauth-authorization-server')).status).toBe(200);
  });
});

describe('header injection through parameters', () => {
  const CRLF = ['\r\nX-Injected: 1', '%0d%0aX-Injected:%201', '\r\nSet-Cookie: injected=1', '\n\nbody', '\u2028', '\u0085'];

  it.each(CRLF)('state %j on a refused /authorize reaches no header (a page, no Location: RFC 9700 §4.11.2)', async (evil) => {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: REDIRECT_URI,
      code_challenge: pkcePair().challenge,
      code_challenge_method: 'S256',
      scope: 'ad"min', // malformed (RFC 6749 §3.3): refused, as a page
      state: evil,
    });
    const res = await app.http().get(`/auth/oauth/authorize?${query}`);
    expect(res.status).toBe(400);
    expectCleanHeaders(res);
    expect(res.headers.location).toBeUndefined();
    expect(res.text).toContain('invalid_scope');
  });

  it.each(CRLF)('return_to %j on the sign-in page and form is dropped, never echoed into a header', async (evil) => {
    const page = await app.http().get(`/auth/login?return_to=${encodeURIComponent(`/account${evil}`)}`);
    expect(page.status).toBe(200);
    expectCleanHeaders(page);
    const signedIn = await app.http().get(`/auth/login?return_to=${encodeURIComponent(`/account${evil}`)}`).set('Cookie', browser.cookie);
    expect(signedIn.status).toBe(303);
    expectCleanHeaders(signedIn);
    // Control characters drop the return_to; anything else stays a path here, percent-encoded.
    const location = String(signedIn.headers.location);
    expect(location.startsWith('/account')).toBe(true);
    expect(new URL(location, ISSUER).origin).toBe(ISSUER);
    if (/[\r\n]/.test(evil)) expect(location).toBe('/account');
  });

  it.each(CRLF)('a consent request id %j goes into the sign-in redirect encoded', async (evil) => {
    const res = await app.http().get(`/auth/oauth/consent?request=${encodeURIComponent(evil)}`);
    expect(res.status).toBe(303);
    expectCleanHeaders(res);
    expect(decodeURIComponent(decodeURIComponent(String(res.headers.location).split('return_to=')[1] ?? ''))).toContain(`request=${evil}`);
  });

  it('the wiki host /authorize alias keeps the query byte for byte, still one header', async () => {
    const res = await app.http().get('/authorize?state=%0d%0aX-Injected:%201&x=%22%3E%3C').set('Host', wikiHost('alice'));
    expect(res.status).toBe(302);
    expectCleanHeaders(res);
    expect(res.headers.location).toBe(`${ISSUER}/auth/oauth/authorize?state=%0d%0aX-Injected:%201&x=%22%3E%3C`);
  });

  it('Host and scope on /auth/verify cannot shape the challenge', async () => {
    for (const host of ['alice.localhost:3000", error="x', 'alice.localhost:3000\\', 'ALICE.localhost:3000']) {
      const res = await app.http().get('/auth/verify').set('Host', host).set('Authorization', 'Bearer "quoted"');
      expectCleanHeaders(res);
      if (res.status === 401) expectBearerChallenge(res, 'alice');
      else expectJsonError(res, [404], new Set(['not_found']));
    }
    const scoped = await app.http().get(`/auth/verify?scope=${encodeURIComponent('wiki:read"\r\nX-Injected: 1')}`).set('Host', wikiHost('alice'));
    expectJsonError(scoped, [400], new Set(['invalid_request']));
    expectCleanHeaders(scoped);
  });

  it('a refused sign-in re-renders the handle escaped', async () => {
    const res = await app.http()
      .post('/auth/login')
      .type('form')
      .set('Cookie', anon.cookie)
      .send({ _csrf: anon.token, handle: '"><script>alert(1)</script>', return_to: '"><img src=x onerror=alert(1)>' });
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('<script>alert(1)</script>');
    expect(res.text).not.toContain('<img src=x');
  });
});
