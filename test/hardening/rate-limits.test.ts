// Every public endpoint's per-address limit holds: the request after the budget gets 429 with
// Retry-After, in the endpoint's own error format, and writes nothing. The address is the real
// client's: behind a trusted proxy each X-Forwarded-For address has its own budget; from an
// untrusted peer the header is ignored and everyone behind that peer shares one. On /token, /revoke,
// /mcp and /auth/verify the address pays only for requests nobody vouched for; known credentials
// spend their grant's or client's budget (src/web/rate-limits.ts), and RATE_LIMIT_TRUSTED_NETWORKS
// lifts the address budgets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  anonymousCsrf,
  authorize,
  connectClient,
  consent,
  exchangeCode,
  pkcePair,
  registerClient,
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
import { parseConfig } from '../../src/config/env.ts';

const LIMIT = 3;
const LOW_LIMITS = {
  RATE_LIMIT_LOGIN_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_REGISTER_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_TOKEN_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_DISCOVERY_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: String(LIMIT),
  RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: String(LIMIT * 2),
};

let app: HardeningApp;
let csrf: { token: string; cookie: string };
let nextAddress = 1;
/** A client address nobody has used yet (TEST-NET-3), i.e. a fresh budget. */
const freshAddress = () => `203.0.113.${nextAddress++}`;

beforeAll(async () => {
  // The seeding requests come from 127.0.0.1 itself, a trusted network here; each test below sends
  // from its own forwarded address, so it starts with a fresh budget.
  app = await startHardeningApp({ ...LOW_LIMITS, RATE_LIMIT_TRUSTED_NETWORKS: '127.0.0.1/32' });
  await seedUser(app.ctx, 'alice');
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
    name: 'POST /mcp without a valid token (ten times the discovery budget)',
    budget: LIMIT * 10,
    format: 'json',
    send: (ip) => mcp(ip, 'not-a-valid-token'),
  },
  {
    name: 'GET /auth/verify without a valid token (ten times the discovery budget)',
    budget: LIMIT * 10,
    format: 'json',
    send: (ip) => verify(ip, 'not-a-valid-token'),
  },
];

function mcp(ip: string, accessToken: string, slug = 'alice'): Test {
  return app.http()
    .post('/mcp')
    .set('Host', wikiHost(slug))
    .set('X-Forwarded-For', ip)
    .set('Authorization', `Bearer ${accessToken}`)
    .set('Accept', 'application/json, text/event-stream')
    .set('Content-Type', 'application/json')
    .send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
}

function verify(ip: string, accessToken: string, slug = 'alice'): Test {
  return app.http().get('/auth/verify').set('Host', wikiHost(slug)).set('X-Forwarded-For', ip).set('Authorization', `Bearer ${accessToken}`);
}

const refreshFrom = (ip: string, clientId: string, refreshToken: string, target: HardeningApp = app) =>
  target.http().post('/auth/oauth/token').set('X-Forwarded-For', ip).type('form').send({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });

describe('each public endpoint has a per-address limit', () => {
  it.each(endpoints().map((e) => [e.name, e] as const))('%s: the request after the budget is a 429 with Retry-After, and writes nothing', async (_name, endpoint) => {
    const ip = freshAddress();
    for (let i = 0; i < endpoint.budget; i++) {
      const res = await endpoint.send(ip, i);
      expect(res.status, `request ${i + 1}: ${res.text.slice(0, 200)}`).not.toBe(429);
      expect(res.status).toBeLessThan(500);
    }
    const before = await rowCounts(app);
    const refused = await endpoint.send(ip, endpoint.budget);
    expect(countChanges(before, await rowCounts(app))).toEqual({});
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

describe('budgets keyed by who is asking (issue 10 item 5)', () => {
  it.each([
    ['POST /mcp', mcp],
    ['GET /auth/verify', verify],
  ] as const)('%s with a valid token spends its grant’s budget, whatever the address; other grants are unaffected', async (_name, send) => {
    const user = await seedUser(app.ctx);
    const mine = (await connectClient(app, await signedInBrowser(app, user))).tokens;
    const other = (await connectClient(app, await signedInBrowser(app, user))).tokens;
    const ip = freshAddress();
    for (let i = 0; i < LIMIT * 2; i++) expect((await send(ip, mine.access_token, user.username)).status).toBe(200);
    const refused = await send(freshAddress(), mine.access_token, user.username);
    expectJsonError(refused, [429], new Set(['too_many_requests']));
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers.ratelimit).toMatch(/r=0/);
    // The same address, another grant: served. The address budget was never spent.
    expect((await send(ip, other.access_token, user.username)).status).toBe(200);
  });

  it('POST /token: a grant’s refreshes spend its own budget from any address, not the address’s', async () => {
    const { client, tokens: t } = await connectClient(app, await signedInBrowser(app, await seedUser(app.ctx)));
    const ip = freshAddress();
    let latest = t.refresh_token;
    for (let i = 0; i < LIMIT; i++) {
      const res = await refreshFrom(ip, client.clientId, latest);
      expect(res.status, res.text).toBe(200);
      latest = (res.body as Tokens).refresh_token;
    }
    const refused = await refreshFrom(freshAddress(), client.clientId, latest);
    expectJsonError(refused, [429], new Set(['too_many_requests']));
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // The address that sent LIMIT good refreshes still has its whole budget for anything else.
    for (let i = 0; i < LIMIT; i++) expect((await refreshFrom(ip, 'rc_unknown', 'x')).status).toBe(401);
    expect((await refreshFrom(ip, 'rc_unknown', 'x')).status).toBe(429);
  });

  it('POST /token: invented client_ids do not escape the address budget', async () => {
    const ip = freshAddress();
    for (let i = 0; i < LIMIT; i++) expect((await refreshFrom(ip, `rc_invented${i}`, 'x')).status).toBe(401);
    expectJsonError(await refreshFrom(ip, 'rc_invented_again', 'x'), [429], new Set(['too_many_requests']));
  });

  it('POST /token: a real client_id with made-up refresh tokens spends the address budget, never the client’s', async () => {
    const { client, tokens: t } = await connectClient(app, await signedInBrowser(app, await seedUser(app.ctx)));
    const attacker = freshAddress();
    for (let i = 0; i < LIMIT; i++) expectJsonError(await refreshFrom(attacker, client.clientId, `forged${i}`), [400], new Set(['invalid_grant']));
    expect((await refreshFrom(attacker, client.clientId, 'forged')).status).toBe(429);
    // The client's real users are not affected.
    expect((await refreshFrom(freshAddress(), client.clientId, t.refresh_token)).status).toBe(200);
  });
});

describe('RATE_LIMIT_TRUSTED_NETWORKS', () => {
  let trusting: HardeningApp;
  beforeAll(async () => {
    trusting = await startHardeningApp({
      ...LOW_LIMITS,
      RATE_LIMIT_TRUSTED_NETWORKS: '160.79.104.0/21, 2001:db8:77::/48, 127.0.0.1/32',
      RATE_LIMIT_CLIENT_PER_MINUTE: String(LIMIT * 2),
    });
  });
  afterAll(async () => {
    await trusting?.close();
  });
  const login = (ip: string) => trusting.http().post('/auth/login').set('X-Forwarded-For', ip).type('form').send({ handle: 'x', _csrf: 'x' });
  const discovery = (ip: string) => trusting.http().get('/.well-known/oauth-authorization-server').set('X-Forwarded-For', ip);
  const register = (ip: string) => trusting.http().post('/auth/oauth/register').set('X-Forwarded-For', ip).send({ redirect_uris: ['not a uri'] });

  it('lifts the address limits of sign-in, discovery and registration for those networks (IPv4 and IPv6)', async () => {
    for (const ip of ['160.79.104.1', '160.79.111.254', '2001:db8:77::1', '::ffff:160.79.105.9']) {
      for (const send of [login, discovery, register]) {
        for (let i = 0; i < LIMIT + 3; i++) expect((await send(ip)).status, ip).not.toBe(429);
      }
    }
  });

  it('keeps them for every other address (the range ends where it says)', async () => {
    for (const ip of ['160.79.112.1', '2001:db8:78::1']) {
      for (let i = 0; i < LIMIT; i++) expect((await login(ip)).status).not.toBe(429);
      expect((await login(ip)).status, ip).toBe(429);
    }
  });

  it('client and grant budgets still apply to a trusted network', async () => {
    const client = await registerClient(trusting);
    /** One more person connects this client: a code exchange, which spends the client's budget. */
    const connect = async (): Promise<Tokens> => {
      const browser = await signedInBrowser(trusting, await seedUser(trusting.ctx));
      const pkce = pkcePair();
      const code = await consent(trusting, browser, await authorize(trusting, browser, client.clientId, pkce, browser.user.username));
      return exchangeCode(trusting, client.clientId, code, pkce);
    };
    const from = '160.79.104.20';
    let latest = (await connect()).refresh_token; // client: 1
    for (let i = 0; i < LIMIT; i++) {
      const res = await refreshFrom(from, client.clientId, latest, trusting); // client: 2..1+LIMIT
      expect(res.status, res.text).toBe(200);
      latest = (res.body as Tokens).refresh_token;
    }
    // The grant's budget is spent (refused before the client pays).
    expectJsonError(await refreshFrom(from, client.clientId, latest, trusting), [429], new Set(['too_many_requests']));
    // Another person's grant of the same client, until the client's budget (LIMIT * 2) is spent.
    let theirs = (await connect()).refresh_token; // client: 2 + LIMIT
    for (let spent = 2 + LIMIT; spent < LIMIT * 2; spent++) {
      const res = await refreshFrom(from, client.clientId, theirs, trusting);
      expect(res.status, res.text).toBe(200);
      theirs = (res.body as Tokens).refresh_token;
    }
    const refused = await refreshFrom(from, client.clientId, theirs, trusting);
    expectJsonError(refused, [429], new Set(['too_many_requests']));
    expect(refused.headers['ratelimit-policy']).toContain(`q=${LIMIT * 2}`);
  });
});

describe('RATE_LIMIT_TRUSTED_NETWORKS is validated at start-up', () => {
  it('accepts IPv4 and IPv6 CIDR lists and refuses anything else, naming the entry', () => {
    const ok = parseConfig({ RATE_LIMIT_TRUSTED_NETWORKS: ' 160.79.104.0/21 , 2001:db8::/32 ' }).rateLimitTrustedNetworks;
    expect(ok.map(([range, bits]) => `${range.toString()}/${bits}`)).toEqual(['160.79.104.0/21', '2001:db8::/32']);
    expect(parseConfig({}).rateLimitTrustedNetworks).toEqual([]);
    for (const bad of ['160.79.104.0', '160.79.104.0/33', 'anthropic.com/21', '2001:db8::/129', '160.79.104.0/21;rm']) {
      expect(() => parseConfig({ RATE_LIMIT_TRUSTED_NETWORKS: bad }), bad).toThrow(/RATE_LIMIT_TRUSTED_NETWORKS: must be a comma-separated list of CIDR ranges/);
    }
  });
});
