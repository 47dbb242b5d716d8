// The light path (src/web/machine-endpoints.ts) answers exactly as the Express routes do: each
// machine endpoint and its tricky variants (HEAD, OPTIONS, trailing slash, other case, query
// strings, conditional requests, wiki host vs platform host, a forged X-Forwarded-Host, oversized
// headers, a spent budget, a trusted network) sent once with the light path on and once with it
// off, over a real socket; status, headers (minus Date; the request id and the per-request RateLimit
// figures compared by shape), body, the request log line and the request metric must agree.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { lightPathSwitch } from '../../src/web/light-request.ts';
import { PRM_RECHECK_MS } from '../../src/web/machine-endpoints.ts';
import { mintAccessToken, seedAliceAndBob, seedGrant } from '../support/seed.ts';
import type { TestApp } from '../support/app.ts';
import { both, requestCount, send, started, type LogLine, type Shot } from '../support/light-path.ts';

const ALICE = 'alice.localhost:3000';

describe('the light path answers as the Express routes do', () => {
  let app: TestApp;
  let lines: LogLine[];
  let token: string;
  let readToken: string;

  beforeAll(async () => {
    ({ app, lines } = await started({ TRUST_PROXY: 'loopback' }));
    const { alice } = await seedAliceAndBob(app.ctx, 'test-client');
    const g = await seedGrant(app.ctx, app.config, { id: 'grant-alice', did: alice.did, slug: 'alice', clientId: 'test-client', refreshToken: false });
    token = (await mintAccessToken(app.ctx, { grantId: g.grantId, did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:read wiki:write' })).token;
    const r = await seedGrant(app.ctx, app.config, { id: 'grant-alice-read', did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:read', refreshToken: false });
    readToken = (await mintAccessToken(app.ctx, { grantId: r.grantId, did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:read' })).token;
  });
  afterAll(async () => {
    lightPathSwitch.enabled = true;
    await app.close();
  });

  const documents = ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json'];

  it.each(documents)('GET %s on the platform host: taken by the light path, the same 200', async (path) => {
    const r = await both(app, lines, { path });
    expect(r.light).toBe(true);
    expect(r.answer.status).toBe(200);
    expect(r.answer.headers.ratelimit).toMatch(/^"discovery"; r=\d+; t=\d+$/);
    expect(r.answer.headers['content-security-policy']).toBeDefined();
    expect(r.answer.headers['access-control-allow-origin']).toBe('*');
  });

  it.each(['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource'])('GET %s on a wiki host: taken by the light path, the same 200', async (path) => {
    const r = await both(app, lines, { path, headers: { host: ALICE } });
    expect(r.light).toBe(true);
    expect(r.answer.status).toBe(200);
    expect(JSON.parse(r.answer.body)).toMatchObject({ resource: 'http://alice.localhost:3000/mcp' });
    expect(r.answer.headers.ratelimit).toMatch(/^"wiki-discovery"; r=\d+; t=\d+$/);
  });

  it('PRM on a wiki host named in upper case: taken, the document of the wiki as stored', async () => {
    const r = await both(app, lines, { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: 'ALICE.localhost:3000' } });
    expect(r.light).toBe(true);
    expect(JSON.parse(r.answer.body)).toMatchObject({ resource: 'http://alice.localhost:3000/mcp' });
  });

  const documentVariants: [string, Shot][] = [
    ['HEAD', { method: 'HEAD', path: '/.well-known/oauth-authorization-server' }],
    ['OPTIONS (CORS preflight)', { method: 'OPTIONS', path: '/.well-known/oauth-authorization-server', headers: { origin: 'https://app.example', 'access-control-request-method': 'GET' } }],
    ['POST', { method: 'POST', path: '/.well-known/oauth-authorization-server' }],
    ['a trailing slash', { path: '/.well-known/oauth-authorization-server/' }],
    ['another case', { path: '/.well-known/OAuth-Authorization-Server' }],
    ['a query string', { path: '/.well-known/oauth-authorization-server?x=1' }],
    ['a query string on the JWKS', { path: '/.well-known/jwks.json?kid=x' }],
    ['If-None-Match (304)', { path: '/.well-known/oauth-authorization-server', headers: { 'if-none-match': '*' } }],
    ['If-Modified-Since', { path: '/.well-known/jwks.json', headers: { 'if-modified-since': new Date().toUTCString() } }],
    ['AS metadata on a wiki host (404)', { path: '/.well-known/oauth-authorization-server', headers: { host: ALICE } }],
    ['the JWKS on a wiki host (404)', { path: '/.well-known/jwks.json', headers: { host: ALICE } }],
    ['PRM on the platform host (404)', { path: '/.well-known/oauth-protected-resource/mcp' }],
    ['PRM of an unknown wiki (404)', { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: 'nobody.localhost:3000' } }],
    ['PRM with a forged X-Forwarded-Host (400)', { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: ALICE, 'x-forwarded-host': 'bob.localhost:3000' } }],
    ['PRM with X-Forwarded-Host naming the same host', { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: ALICE, 'x-forwarded-host': ALICE } }],
    ['AS metadata with an oversized Cookie (431)', { path: '/.well-known/oauth-authorization-server', headers: { cookie: `a=${'x'.repeat(9000)}` } }],
    ['PRM with an oversized Origin (431, page for a browser)', { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: ALICE, origin: `https://${'o'.repeat(400)}.example`, accept: 'text/html' } }],
    ['an unknown well-known document', { path: '/.well-known/something-else' }],
    ['X-Forwarded-For from the trusted proxy', { path: '/.well-known/oauth-authorization-server', headers: { 'x-forwarded-for': '203.0.113.9' } }],
  ];

  it.each(documentVariants)('documents, %s: the same answer', async (_name, shot) => {
    await both(app, lines, shot);
  });

  it('documents: HEAD, OPTIONS, other spellings, queries, conditional requests and refusals go to Express', async () => {
    for (const [, shot] of documentVariants.filter(([name]) => !name.startsWith('PRM with X-Forwarded-Host naming') && !name.startsWith('X-Forwarded-For'))) {
      const before = lightPathSwitch.answered;
      await send(app.port, shot);
      expect(lightPathSwitch.answered, JSON.stringify(shot)).toBe(before);
    }
  });

  const verifyVariants = (): [string, Shot][] => [
    ['a valid token (200, X-Auth-*)', { path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['?scope=wiki:write with a read-only token (403)', { path: '/auth/verify?scope=wiki:write', headers: { host: ALICE, authorization: `Bearer ${readToken}` } }],
    ['?scope=bogus (400)', { path: '/auth/verify?scope=bogus', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['no token (401 challenge)', { path: '/auth/verify', headers: { host: ALICE } }],
    ['a forged token (401)', { path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${token.slice(0, -4)}AAAA` } }],
    ["alice's token on bob's wiki (401)", { path: '/auth/verify', headers: { host: 'bob.localhost:3000', authorization: `Bearer ${token}` } }],
    ['an unknown wiki (404)', { path: '/auth/verify', headers: { host: 'nobody.localhost:3000', authorization: `Bearer ${token}` } }],
    ['the platform host (404)', { path: '/auth/verify', headers: { authorization: `Bearer ${token}` } }],
    ['a forged X-Forwarded-Host (400)', { path: '/auth/verify', headers: { host: ALICE, 'x-forwarded-host': 'bob.localhost:3000', authorization: `Bearer ${token}` } }],
    ['POST', { method: 'POST', path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['HEAD', { method: 'HEAD', path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['OPTIONS', { method: 'OPTIONS', path: '/auth/verify', headers: { host: ALICE } }],
    ['a trailing slash', { path: '/auth/verify/', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['another case', { path: '/Auth/Verify', headers: { host: ALICE, authorization: `Bearer ${token}` } }],
    ['an oversized Authorization (431)', { path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${'x'.repeat(5000)}` } }],
    ['a browser without a token (401 as JSON)', { path: '/auth/verify', headers: { host: ALICE, accept: 'text/html' } }],
  ];

  it('/auth/verify and its variants: the same answer; the exact path is taken by the light path', async () => {
    for (const [name, shot] of verifyVariants()) {
      const r = await both(app, lines, shot);
      const exact = shot.path.split('?')[0] === '/auth/verify' && !name.startsWith('an oversized');
      expect(r.light, name).toBe(exact);
      if (name.startsWith('a valid token')) {
        expect(r.answer.status).toBe(200);
        expect(r.answer.headers['x-auth-handle']).toBe('alice.test');
        // Read by the proxy alone: no body and none of a page's security headers; no-store kept.
        expect(r.answer.names.filter((n) => !['date', 'connection', 'keep-alive'].includes(n))).toEqual([
          'x-request-id',
          'cache-control',
          'pragma',
          'x-auth-did',
          'x-auth-handle',
          'x-auth-wiki',
          'x-auth-scopes',
          'x-auth-client-id',
          'content-length',
        ]);
        expect(r.answer.body).toBe('');
      }
      if (name.startsWith('no token')) {
        // A refusal reaches the client through the proxy: every security header.
        expect(r.answer.headers['content-security-policy']).toContain("default-src 'none'");
        expect(r.answer.headers['x-frame-options']).toBe('DENY');
        expect(r.answer.headers['x-content-type-options']).toBe('nosniff');
      }
    }
  });

  it('a 401 from /auth/verify logs at info with its status on both paths; a 200 only at debug', async () => {
    const ok = await both(app, lines, { path: '/auth/verify', headers: { host: ALICE, authorization: `Bearer ${token}` } });
    expect(ok.answer.status).toBe(200);
    const refused = await both(app, lines, { path: '/auth/verify', headers: { host: ALICE } });
    expect(refused.answer.status).toBe(401);
    const mine = lines.filter((l) => l.req?.id === ok.answer.headers['x-request-id'] || l.req?.id === refused.answer.headers['x-request-id']);
    expect(mine.map((l) => [l.level, l.res.statusCode])).toEqual([
      [20, 200],
      [30, 401],
    ]);
  });
});

describe('the light path and the rate limits', () => {
  it('a spent discovery budget: the light path leaves the request to Express, which refuses it the same way (429)', async () => {
    const { app, lines } = await started({ RATE_LIMIT_DISCOVERY_PER_MINUTE: '3' });
    try {
      // Both paths spend one budget: three answers in all, whichever path gives them.
      lightPathSwitch.enabled = true;
      expect((await send(app.port, { path: '/.well-known/oauth-authorization-server' })).status).toBe(200);
      expect((await send(app.port, { path: '/.well-known/jwks.json' })).status).toBe(200);
      lightPathSwitch.enabled = false;
      const third = await send(app.port, { path: '/.well-known/oauth-authorization-server' });
      expect(third.status).toBe(200);
      expect(third.headers.ratelimit).toMatch(/^"discovery"; r=0; t=\d+$/);
      lightPathSwitch.enabled = true;
      const r = await both(app, lines, { path: '/.well-known/oauth-authorization-server' });
      expect(r.light).toBe(false);
      expect(r.answer.status).toBe(429);
      expect(r.answer.headers['retry-after']).toMatch(/^\d+$/);
      expect(await requestCount(app)).toMatchObject({ 'metadata 429': 2 });
    } finally {
      lightPathSwitch.enabled = true;
      await app.close();
    }
  });

  it('a wiki\'s PRM budget is its own, shared by both paths', async () => {
    const { app, lines } = await started({ RATE_LIMIT_DISCOVERY_PER_MINUTE: '2' });
    try {
      await seedAliceAndBob(app.ctx, 'test-client');
      const shot = { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: ALICE } };
      const first = await both(app, lines, shot); // one light, one Express: the budget of 2 spent
      expect(first.answer.status).toBe(200);
      expect(first.other.headers.ratelimit).toMatch(/r=0;/);
      const second = await both(app, lines, shot);
      expect(second.light).toBe(false);
      expect(second.answer.status).toBe(429);
      // The apex's budget is untouched.
      expect((await send(app.port, { path: '/.well-known/oauth-authorization-server' })).status).toBe(200);
    } finally {
      lightPathSwitch.enabled = true;
      await app.close();
    }
  });

  it('a trusted network: no RateLimit headers on either path', async () => {
    const { app, lines } = await started({ RATE_LIMIT_TRUSTED_NETWORKS: '127.0.0.0/8' });
    try {
      const r = await both(app, lines, { path: '/.well-known/oauth-authorization-server' });
      expect(r.light).toBe(true);
      expect(r.answer.status).toBe(200);
      expect(r.answer.headers.ratelimit).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});

describe("PRM: a wiki's row is read again after PRM_RECHECK_MS", () => {
  it('a wiki deleted since its last read is answered until the recheck (its answer is cacheable for 300 s anyway), then 404; an unknown wiki is never remembered', async () => {
    const { app } = await started({});
    try {
      await seedAliceAndBob(app.ctx, 'test-client');
      const prm = { path: '/.well-known/oauth-protected-resource/mcp', headers: { host: ALICE } };
      const first = await send(app.port, prm);
      expect(first.status).toBe(200);
      expect(first.headers['cache-control']).toBe('public, max-age=300');
      expect(await app.sql().run("DELETE FROM wikis WHERE slug = 'alice'")).toBe(1);
      // Within the recheck interval: the same answer, from the light path, without a read.
      const before = lightPathSwitch.answered;
      expect((await send(app.port, prm)).status).toBe(200);
      expect(lightPathSwitch.answered).toBe(before + 1);
      // Past it: read again, gone, and Express answers 404 (every time: nothing is remembered for it).
      const now = Date.now();
      const clock = vi.spyOn(Date, 'now').mockReturnValue(now + PRM_RECHECK_MS + 1);
      try {
        expect((await send(app.port, prm)).status).toBe(404);
        expect((await send(app.port, prm)).status).toBe(404);
      } finally {
        clock.mockRestore();
      }
      expect(lightPathSwitch.answered).toBe(before + 1);
      // A wiki created after a 404 is served at once.
      await app.sql().run("INSERT INTO wikis (slug, owner_did, created_at) SELECT 'alice', did, 0 FROM users WHERE handle = 'alice.test'");
      expect((await send(app.port, prm)).status).toBe(200);
    } finally {
      await app.close();
    }
  });
});
