// Every public endpoint's per-address limit holds: the request after the budget gets 429 with
// Retry-After, in the endpoint's own error format, and writes nothing. The address is the real
// client's: behind a trusted proxy each X-Forwarded-For address has its own budget; from an
// untrusted peer the header is ignored and everyone behind that peer shares one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anonymousCsrf,
  connectClient,
  countChanges,
  expectErrorPage,
  expectJsonError,
  rowCounts,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  wikiHost,
  type HardeningApp,
  type Tokens,
} from './support.ts';
import type { Test } from 'supertest';

const LIMIT = 3;
const LOW_LIMITS = {
  RATE_LIMIT_LOGIN_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_REGISTER_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_TOKEN_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_DISCOVERY_PER_MINUTE: String(LIMIT),
};

let app: HardeningApp;
let tokens: Tokens;
let csrf: { token: string; cookie: string };
let nextAddress = 1;
/** A client address nobody has used yet (TEST-NET-3), i.e. a fresh budget. */
const freshAddress = () => `203.0.113.${nextAddress++}`;

beforeAll(async () => {
  app = await startHardeningApp(LOW_LIMITS);
  // The seeding requests come from 127.0.0.1 itself (within every budget); each test below sends
  // from its own forwarded address, so it starts with a fresh budget.
  const alice = seedUser(app.ctx, 'alice');
  const browser = await signedInBrowser(app, alice);
  tokens = (await connectClient(app, browser)).tokens;
  csrf = await anonymousCsrf(app);
});
afterAll(async () => {
  await app?.close();
});

interface LimitedEndpoint {
  name: string;
  /** Requests per minute per address. */
  budget: number;
  format: 'json' | 'html';
  /** One request from `ip` (each call may hit a different path sharing the budget). */
  send(ip: string, i: number): Test;
}

const form = (ip: string, path: string, body: Record<string, string>, host?: string) => {
  const req = app.http().post(path).set('X-Forwarded-For', ip).type('form');
  return (host ? req.set('Host', host) : req).send(body);
};

const endpoints = (): LimitedEndpoint[] => [
  { name: 'POST /auth/login', budget: LIMIT, format: 'html', send: (ip) => form(ip, '/auth/login', { handle: 'nobody.invalid.', _csrf: 'x' }) },
  { name: 'GET /auth/callback', budget: LIMIT, format: 'html', send: (ip) => app.http().get('/auth/callback?state=x&code=y').set('X-Forwarded-For', ip) },
  { name: 'GET /auth/handoff', budget: LIMIT, format: 'html', send: (ip) => app.http().get('/auth/handoff?ticket=x').set('X-Forwarded-For', ip) },
  { name: 'POST /auth/signup', budget: LIMIT, format: 'html', send: (ip) => form(ip, '/auth/signup', { username: 'someone' }).set('Cookie', csrf.cookie) },
  {
    name: 'POST /auth/oauth/register and /register on a wiki host (one budget)',
    budget: LIMIT,
    format: 'json',
    send: (ip, i) =>
      app.http()
        .post(i % 2 === 0 ? '/auth/oauth/register' : '/register')
        .set('Host', i % 2 === 0 ? 'localhost:3000' : wikiHost('alice'))
        .set('X-Forwarded-For', ip)
        .send({ redirect_uris: ['not a uri'] }),
  },
  {
    name: 'POST /auth/oauth/token and /token on a wiki host (one budget)',
    budget: LIMIT,
    format: 'json',
    send: (ip, i) => form(ip, i % 2 === 0 ? '/auth/oauth/token' : '/token', { grant_type: 'refresh_token', refresh_token: 'x', client_id: 'rc_x' }, i % 2 === 0 ? undefined : wikiHost('alice')),
  },
  { name: 'POST /auth/oauth/revoke', budget: LIMIT, format: 'json', send: (ip) => form(ip, '/auth/oauth/revoke', { token: 'x', client_id: 'rc_x' }) },
  {
    name: 'GET /auth/oauth/authorize and POST /auth/oauth/consent (one budget)',
    budget: LIMIT,
    format: 'html',
    send: (ip, i) => (i % 2 === 0 ? app.http().get('/auth/oauth/authorize?client_id=rc_x').set('X-Forwarded-For', ip) : form(ip, '/auth/oauth/consent', { request: 'x' })),
  },
  {
    name: 'GET AS metadata, OpenID configuration and JWKS (one budget)',
    budget: LIMIT,
    format: 'json',
    send: (ip, i) =>
      app.http().get(['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json'][i % 3]!).set('X-Forwarded-For', ip),
  },
  {
    name: 'GET protected resource metadata on a wiki host',
    budget: LIMIT,
    format: 'json',
    send: (ip) => app.http().get('/.well-known/oauth-protected-resource/mcp').set('Host', wikiHost('alice')).set('X-Forwarded-For', ip),
  },
  {
    name: 'POST /mcp (ten times the discovery budget)',
    budget: LIMIT * 10,
    format: 'json',
    send: (ip) =>
      app.http()
        .post('/mcp')
        .set('Host', wikiHost('alice'))
        .set('X-Forwarded-For', ip)
        .set('Authorization', `Bearer ${tokens.access_token}`)
        .set('Accept', 'application/json, text/event-stream')
        .set('Content-Type', 'application/json')
        .send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' })),
  },
  {
    name: 'GET /auth/verify (ten times the discovery budget)',
    budget: LIMIT * 10,
    format: 'json',
    send: (ip) => app.http().get('/auth/verify').set('Host', wikiHost('alice')).set('X-Forwarded-For', ip).set('Authorization', `Bearer ${tokens.access_token}`),
  },
];

describe('each public endpoint has a per-address limit', () => {
  it.each(endpoints().map((e) => [e.name, e] as const))('%s: the request after the budget is a 429 with Retry-After, and writes nothing', async (_name, endpoint) => {
    const ip = freshAddress();
    for (let i = 0; i < endpoint.budget; i++) {
      const res = await endpoint.send(ip, i);
      expect(res.status, `request ${i + 1}: ${res.text.slice(0, 200)}`).not.toBe(429);
      expect(res.status).toBeLessThan(500);
    }
    const before = rowCounts(app.ctx.db);
    const refused = await endpoint.send(ip, endpoint.budget);
    expect(countChanges(before, rowCounts(app.ctx.db))).toEqual({});
    if (endpoint.format === 'json') {
      expectJsonError(refused, [429], new Set(['too_many_requests']));
    } else {
      expectErrorPage(refused, [429]);
      expect(refused.text).toContain('Too many requests');
    }
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(refused.headers.ratelimit).toMatch(/r=0/);
    // Another address is not affected.
    const other = await endpoint.send(freshAddress(), 0);
    expect(other.status).not.toBe(429);
  });
});

describe('the limit keys on the real client address', () => {
  const login = (target: HardeningApp, forwardedFor: string) =>
    target.http().post('/auth/login').set('X-Forwarded-For', forwardedFor).type('form').send({ handle: 'x', _csrf: 'x' });

  it('behind a trusted proxy (TRUST_PROXY=loopback): each forwarded address has its own budget', async () => {
    const a = freshAddress();
    const b = freshAddress();
    for (let i = 0; i < LIMIT; i++) expect((await login(app, a)).status).not.toBe(429);
    expect((await login(app, a)).status).toBe(429);
    for (let i = 0; i < LIMIT; i++) expect((await login(app, b)).status).not.toBe(429);
    expect((await login(app, b)).status).toBe(429);
  });

  it('addresses a client writes in front of the proxy’s own entry are ignored', async () => {
    const real = freshAddress();
    for (let i = 0; i < LIMIT; i++) expect((await login(app, `198.51.100.${i}, ${real}`)).status).not.toBe(429);
    expect((await login(app, `198.51.100.99, ${real}`)).status).toBe(429);
  });

  it('from an untrusted peer (TRUST_PROXY=10.9.9.9): X-Forwarded-For is ignored and all share one budget', async () => {
    const untrusting = await startHardeningApp({ ...LOW_LIMITS, TRUST_PROXY: '10.9.9.9' });
    try {
      for (let i = 0; i < LIMIT; i++) expect((await login(untrusting, `192.0.2.${i + 1}`)).status).not.toBe(429);
      const res = await login(untrusting, '192.0.2.200');
      expectErrorPage(res, [429]);
      expect((await login(untrusting, '192.0.2.201')).status).toBe(429);
    } finally {
      await untrusting.close();
    }
  });
});
