// The token endpoint and what a client holds over time (OAuth 2.1 §4.1.3, §4.3; RFC 6749 §5;
// RFC 7636; RFC 8707; RFC 9068; RFC 7009; RFC 9700 §4.14): code exchange, PKCE, code replay,
// refresh rotation with a grace period and family revocation, concurrent refreshes, scopes,
// client authentication, error format, revocation, and the wiki-host aliases.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { purgeNow } from '../../src/maintenance.ts';
import * as jose from 'jose';
import { nowSeconds } from '../../src/db/open.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { refreshTokenHash } from '../../src/oauth/token/refresh-tokens.repo.ts';
import type { TestApp } from '../support/app.ts';
import { httpRequest } from '../support/pds.ts';
import { callWhoami, codeHash, decodeJwt, startConformanceApp, wikiHost, wikiHostTokenRequest, wikiRequest } from './support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, exchangeCode, newPkce, obtainCode, postForm, refresh, registerClaudeAi, registerClaudeCode, registerClient, tokenRequest, type RegisteredClient, type TokenReply, type Tokens } from '../support/oauth-flow.ts';

let app: TestApp;
let alice: Person;
let bob: Person;
let claudeCode: RegisteredClient;
let claudeAi: RegisteredClient;
let basicClient: RegisteredClient;

beforeAll(async () => {
  app = await startConformanceApp();
  [alice, bob] = [await seedPerson(app, 'alice'), await seedPerson(app, 'bob')];
  [claudeCode, claudeAi, basicClient] = await Promise.all([
    registerClaudeCode(app),
    registerClaudeAi(app),
    registerClient(app, {
      client_name: 'Basic auth client',
      redirect_uris: ['https://app.example.net/oauth/callback'],
      token_endpoint_auth_method: 'client_secret_basic',
    }),
  ]);
});

afterAll(async () => {
  await app?.close();
});

/** RFC 6749 §5.2: an error is JSON with a registered code, never cached, with the right status. */
function expectOAuthError(res: TokenReply, status: number, error: string): void {
  expect(res.status, res.raw).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  expect(res.headers['cache-control']).toBe('no-store');
  expect(res.body.error).toBe(error);
  expect(typeof (res.body.error_description ?? '')).toBe('string');
}

/** A fresh grant for alice × Claude Code: code exchanged, tokens in hand. */
async function freshTokens(client: RegisteredClient = claudeCode, person: Person = alice, overrides: Record<string, string | undefined> = {}): Promise<Tokens> {
  return exchangeCode(app, client, await obtainCode(client, person, app, overrides));
}

function grantIdOf(accessToken: string): string {
  return String(decodeJwt(accessToken).payload.gid);
}

describe('authorization code exchange (OAuth 2.1 §4.1.3, RFC 9068)', () => {
  it('issues a Bearer access token, expires_in, scope and a refresh token (even without offline_access), not cacheable', async () => {
    const issued = await obtainCode(claudeCode, alice, app, { scope: 'wiki:read wiki:write' });
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
      resource: alice.mcpUrl,
    });
    expect(res.status, res.raw).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'wiki:read wiki:write',
      access_token: expect.any(String),
      refresh_token: expect.any(String),
    });
    expect(res.body.refresh_token).not.toBe('');
  });

  it('the access token is an RFC 9068 JWT: typ at+jwt, kid, iss, sub = DID, aud = the wiki MCP URL, client_id, scope, jti, ≈1 h', async () => {
    const tokens = await freshTokens();
    const { header, payload } = decodeJwt(tokens.access_token);
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'RS256', kid: expect.any(String) });
    expect(payload).toMatchObject({
      iss: app.url,
      sub: alice.did,
      aud: alice.mcpUrl,
      client_id: claudeCode.clientId,
      scope: 'wiki:read wiki:write',
      jti: expect.any(String),
    });
    const iat = payload.iat as number;
    const exp = payload.exp as number;
    expect(Math.abs(iat - nowSeconds())).toBeLessThanOrEqual(5);
    expect(exp - iat).toBe(3600);
    // Verifiable with the published keys alone, as a resource server would.
    const jwks = await httpRequest(`${app.url}${OAUTH_PATHS.jwks}`);
    const verified = await jose.jwtVerify(tokens.access_token, jose.createLocalJWKSet(JSON.parse(jwks.body) as jose.JSONWebKeySet), {
      issuer: app.url,
      audience: alice.mcpUrl,
      typ: 'at+jwt',
    });
    expect(verified.payload.sub).toBe(alice.did);
    // Each token has its own jti.
    const again = await freshTokens();
    expect(decodeJwt(again.access_token).payload.jti).not.toBe(payload.jti);
  });

  it('the access token works at the wiki it was issued for, and only there', async () => {
    const tokens = await freshTokens();
    const me = await callWhoami(app, 'alice', tokens.access_token);
    expect(me.status, me.res.body).toBe(200);
    expect(me.result).toEqual({ did: alice.did, handle: alice.handle, wiki: 'alice', scopes: ['wiki:read', 'wiki:write'] });
    const elsewhere = await callWhoami(app, 'bob', tokens.access_token);
    expect(elsewhere.status).toBe(401);
  });

  it('a confidential client (client_secret_post) exchanges its code the same way', async () => {
    const tokens = await freshTokens(claudeAi);
    expect(decodeJwt(tokens.access_token).payload.client_id).toBe(claudeAi.clientId);
  });
});

describe('PKCE (RFC 7636 §4.6)', () => {
  it('missing code_verifier → invalid_request, and the code is not spent', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const res = await tokenRequest(app, claudeCode, { grant_type: 'authorization_code', code: issued.code, redirect_uri: issued.redirectUri });
    expectOAuthError(res, 400, 'invalid_request');
  });

  it('wrong code_verifier → invalid_grant', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: newPkce().verifier,
      redirect_uri: issued.redirectUri,
    });
    expectOAuthError(res, 400, 'invalid_grant');
  });

  it('a malformed (too short) code_verifier → invalid_grant', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: 'short',
      redirect_uri: issued.redirectUri,
    });
    expectOAuthError(res, 400, 'invalid_grant');
  });
});

describe('authorization code binding and single use (RFC 6749 §4.1.2, §10.5; RFC 9700 §4.5)', () => {
  it('code reuse → invalid_grant, and what the first use issued stops working (refresh and access token)', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const first = await exchangeCode(app, claudeCode, issued);
    expect((await callWhoami(app, 'alice', first.access_token)).status).toBe(200);

    const replay = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
    });
    expectOAuthError(replay, 400, 'invalid_grant');

    expect(await app.ctx.store.repos.grants.findLive(grantIdOf(first.access_token))).toBeUndefined();
    expectOAuthError(await refresh(app, claudeCode, first.refresh_token), 400, 'invalid_grant');
    expect((await callWhoami(app, 'alice', first.access_token)).status).toBe(401);
  });

  it('an expired code → invalid_grant', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    await app.sql().run('UPDATE authorization_codes SET expires_at = ? WHERE hash = ?', nowSeconds() - 1, codeHash(issued.code));
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
    });
    expectOAuthError(res, 400, 'invalid_grant');
  });

  it('an unknown code → invalid_grant', async () => {
    const res = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: 'not-a-code',
      code_verifier: newPkce().verifier,
      redirect_uri: claudeCode.redirectUri,
    });
    expectOAuthError(res, 400, 'invalid_grant');
  });

  it('a code presented by another client → invalid_grant', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const thief = await registerClaudeCode(app);
    const res = await tokenRequest(app, thief, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
    });
    expectOAuthError(res, 400, 'invalid_grant');
  });

  it('redirect_uri different from the authorization request → invalid_grant (also when left out)', async () => {
    const issued = await obtainCode(claudeCode, alice, app, { redirect_uri: 'http://127.0.0.1:40001/callback' });
    const other = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: 'http://127.0.0.1:40002/callback',
    });
    expectOAuthError(other, 400, 'invalid_grant');
    const missing = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
    });
    expectOAuthError(missing, 400, 'invalid_grant');
    // The exact one still works: the failed attempts did not spend the code.
    await exchangeCode(app, claudeCode, issued);
  });

  it('resource on /token different from the code\'s → invalid_target; the same one with a trailing slash is fine', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const wrong = await tokenRequest(app, claudeCode, {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
      resource: bob.mcpUrl,
    });
    expectOAuthError(wrong, 400, 'invalid_target');
    const slash = await exchangeCode(app, claudeCode, issued, { resource: `${alice.mcpUrl}/` });
    expect(decodeJwt(slash.access_token).payload.aud).toBe(alice.mcpUrl);
  });
});

describe('refresh token rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2)', () => {
  it('every refresh returns a new refresh token and a new access token for the same wiki', async () => {
    const t0 = await freshTokens();
    const r1 = await refresh(app, claudeCode, t0.refresh_token, { resource: alice.mcpUrl });
    expect(r1.status, r1.raw).toBe(200);
    expect(r1.headers['cache-control']).toBe('no-store');
    expect(r1.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'wiki:read wiki:write' });
    expect(r1.body.refresh_token).not.toBe(t0.refresh_token);
    expect(r1.body.access_token).not.toBe(t0.access_token);
    expect(decodeJwt(String(r1.body.access_token)).payload).toMatchObject({ aud: alice.mcpUrl, sub: alice.did });
    const r2 = await refresh(app, claudeCode, String(r1.body.refresh_token));
    expect(r2.status, r2.raw).toBe(200);
    expect(r2.body.refresh_token).not.toBe(r1.body.refresh_token);
    expect((await callWhoami(app, 'alice', String(r2.body.access_token))).status).toBe(200);
  });

  it('the replaced refresh token still works within the grace period (no false revocation)', async () => {
    const t0 = await freshTokens();
    const r1 = await refresh(app, claudeCode, t0.refresh_token);
    expect(r1.status).toBe(200);
    const again = await refresh(app, claudeCode, t0.refresh_token);
    expect(again.status, again.raw).toBe(200);
    // The same successor again, not a second live refresh token (issue 9 finding 8).
    expect(again.body.refresh_token).toBe(r1.body.refresh_token);
    expect(await app.ctx.store.repos.grants.findLive(grantIdOf(t0.access_token))).toBeDefined();
    expect((await refresh(app, claudeCode, String(r1.body.refresh_token))).status).toBe(200);
  });

  it('reuse after the grace period → invalid_grant and the whole grant is revoked (newest refresh token, current access token)', async () => {
    const t0 = await freshTokens();
    const r1 = await refresh(app, claudeCode, t0.refresh_token);
    expect(r1.status).toBe(200);
    const newestAccess = String(r1.body.access_token);
    const newestRefresh = String(r1.body.refresh_token);
    expect((await callWhoami(app, 'alice', newestAccess)).status).toBe(200);

    // The old token was rotated long ago.
    await app.sql().run('UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ?', nowSeconds() - app.config.refreshGraceSeconds - 10, refreshTokenHash(t0.refresh_token));
    expectOAuthError(await refresh(app, claudeCode, t0.refresh_token), 400, 'invalid_grant');

    expect(await app.ctx.store.repos.grants.findLive(grantIdOf(newestAccess))).toBeUndefined();
    expectOAuthError(await refresh(app, claudeCode, newestRefresh), 400, 'invalid_grant');
    expect((await callWhoami(app, 'alice', newestAccess)).status).toBe(401);
    expect((await callWhoami(app, 'alice', t0.access_token)).status).toBe(401);
  });

  it('30 concurrent refreshes of one token: no 5xx, all get the same successor (one family), the grant survives', async () => {
    const t0 = await freshTokens();
    const replies = await Promise.all(Array.from({ length: 30 }, () => refresh(app, claudeCode, t0.refresh_token)));
    for (const r of replies) expect(r.status, r.raw).toBe(200);
    // RFC 9700 §4.14.2: the grace window returns the one successor, it never forks the family.
    expect(new Set(replies.map((r) => String(r.body.refresh_token))).size).toBe(1);
    expect(await app.ctx.store.repos.grants.findLive(grantIdOf(t0.access_token))).toBeDefined();
    const next = await refresh(app, claudeCode, String(replies[replies.length - 1]!.body.refresh_token));
    expect(next.status, next.raw).toBe(200);
    expect((await callWhoami(app, 'alice', String(next.body.access_token))).status).toBe(200);
  });

  it('a refresh may narrow the scope, never widen it (RFC 6749 §6); unknown values are ignored', async () => {
    const full = await freshTokens();
    const narrow = await refresh(app, claudeCode, full.refresh_token, { scope: 'wiki:read' });
    expect(narrow.status, narrow.raw).toBe(200);
    expect(narrow.body.scope).toBe('wiki:read');
    expect(decodeJwt(String(narrow.body.access_token)).payload.scope).toBe('wiki:read');

    const readOnly = await freshTokens(claudeCode, alice, { scope: 'wiki:read' });
    expect(readOnly.scope).toBe('wiki:read');
    expectOAuthError(await refresh(app, claudeCode, readOnly.refresh_token, { scope: 'wiki:read wiki:write' }), 400, 'invalid_scope');
    expectOAuthError(await refresh(app, claudeCode, readOnly.refresh_token, { scope: 'wiki:write' }), 400, 'invalid_scope');
    expectOAuthError(await refresh(app, claudeCode, readOnly.refresh_token, { scope: 'wiki:read\\' }), 400, 'invalid_scope');
    // RFC 6749 §3.3: a value we do not know is ignored; nothing of ours left means the grant's scope.
    const unknownOnly = await refresh(app, claudeCode, readOnly.refresh_token, { scope: 'wiki:admin' });
    expect(unknownOnly.status, unknownOnly.raw).toBe(200);
    expect(unknownOnly.body.scope).toBe('wiki:read');
    const fullAgain = await freshTokens();
    const withUnknown = await refresh(app, claudeCode, fullAgain.refresh_token, { scope: 'openid wiki:read profile' });
    expect(withUnknown.status, withUnknown.raw).toBe(200);
    expect(withUnknown.body.scope).toBe('wiki:read');
    expect(decodeJwt(String(withUnknown.body.access_token)).payload.scope).toBe('wiki:read');
  });

  it('refresh with a different resource → invalid_target; offline_access in scope is accepted and ignored', async () => {
    const t0 = await freshTokens();
    expectOAuthError(await refresh(app, claudeCode, t0.refresh_token, { resource: bob.mcpUrl }), 400, 'invalid_target');
    const ok = await refresh(app, claudeCode, t0.refresh_token, { scope: 'wiki:read wiki:write offline_access' });
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.body.scope).toBe('wiki:read wiki:write');
  });

  it('an expired refresh token → invalid_grant', async () => {
    const t0 = await freshTokens();
    await app.sql().run('UPDATE refresh_tokens SET expires_at = ? WHERE hash = ?', nowSeconds() - 1, refreshTokenHash(t0.refresh_token));
    expectOAuthError(await refresh(app, claudeCode, t0.refresh_token), 400, 'invalid_grant');
  });

  it('a refresh token of another client → invalid_grant', async () => {
    const t0 = await freshTokens();
    const other = await registerClaudeCode(app);
    expectOAuthError(await refresh(app, other, t0.refresh_token), 400, 'invalid_grant');
    // …and the rightful client is not affected.
    expect((await refresh(app, claudeCode, t0.refresh_token)).status).toBe(200);
  });
});

describe('client authentication (RFC 6749 §2.3, §5.2)', () => {
  it('an unknown client_id → 401 invalid_client with WWW-Authenticate (clients re-register on it)', async () => {
    const res = await tokenRequest(app, { ...claudeCode, clientId: 'rc_unknown_client' }, { grant_type: 'refresh_token', refresh_token: 'x' });
    expectOAuthError(res, 401, 'invalid_client');
    expect(res.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('client_secret_basic works', async () => {
    const tokens = await freshTokens(basicClient);
    expect(decodeJwt(tokens.access_token).payload.client_id).toBe(basicClient.clientId);
    const r = await refresh(app, basicClient, tokens.refresh_token);
    expect(r.status, r.raw).toBe(200);
  });

  it('a wrong secret → 401 invalid_client (basic and post alike), and no tokens', async () => {
    const issued = await obtainCode(claudeAi, alice, app);
    const form = { grant_type: 'authorization_code', code: issued.code, code_verifier: issued.pkce.verifier, redirect_uri: issued.redirectUri };
    expectOAuthError(await tokenRequest(app, claudeAi, form, { secret: 'wrong-secret' }), 401, 'invalid_client');
    expectOAuthError(await tokenRequest(app, claudeAi, form, { auth: 'none' }), 401, 'invalid_client');
    const basic = await freshTokens(basicClient);
    expectOAuthError(await refresh(app, { ...basicClient, clientSecret: 'nope' }, basic.refresh_token), 401, 'invalid_client');
    // The code was not spent by the failed attempts.
    expect((await tokenRequest(app, claudeAi, form)).status).toBe(200);
  });
});

describe('request format and errors (RFC 6749 §4.1.3, §5.2)', () => {
  it('an unsupported grant_type → unsupported_grant_type', async () => {
    for (const grantType of ['password', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code', '__proto__', 'toString']) {
      expectOAuthError(await tokenRequest(app, claudeCode, { grant_type: grantType }), 400, 'unsupported_grant_type');
    }
  });

  it('a missing grant_type → invalid_request', async () => {
    expectOAuthError(await tokenRequest(app, claudeCode, {}), 400, 'invalid_request');
  });

  it('a JSON body instead of a form → invalid_request (JSON, no-store)', async () => {
    const res = await httpRequest(`${app.url}${OAUTH_PATHS.token}`, {
      method: 'POST',
      json: { grant_type: 'refresh_token', refresh_token: 'x', client_id: claudeCode.clientId },
    });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('a repeated parameter → invalid_request', async () => {
    const res = await httpRequest(`${app.url}${OAUTH_PATHS.token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=refresh_token&refresh_token=a&refresh_token=b&client_id=${encodeURIComponent(claudeCode.clientId)}`,
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
  });

  it('errors are JSON even for a browser, and never a 5xx, whatever is thrown at the endpoint', async () => {
    const attempts: { headers: Record<string, string>; body: string }[] = [
      { headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=authorization_code' },
      { headers: { 'content-type': 'text/plain' }, body: 'hello' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '%E0%A4%A' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic !!!' }, body: 'grant_type=refresh_token' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic Og==' }, body: 'grant_type=refresh_token' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a[b]=c&grant_type[x]=y' },
      { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x='.padEnd(20_000, 'x') },
    ];
    for (const attempt of attempts) {
      const res = await httpRequest(`${app.url}${OAUTH_PATHS.token}`, { method: 'POST', headers: attempt.headers, body: attempt.body });
      expect(res.status, `${attempt.body.slice(0, 40)} → ${res.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(JSON.parse(res.body)).toMatchObject({ error: expect.stringMatching(/^(invalid_request|invalid_client|invalid_grant)$/) });
    }
  });
});

describe('revocation (RFC 7009)', () => {
  const revoke = (client: RegisteredClient, token: string, extra: Record<string, string> = {}) =>
    postForm(app, OAUTH_PATHS.revoke, client, { token, ...extra });

  it('revoking the refresh token revokes the grant: its access token is refused at /mcp at once', async () => {
    const tokens = await freshTokens();
    expect((await callWhoami(app, 'alice', tokens.access_token)).status).toBe(200);
    const res = await revoke(claudeCode, tokens.refresh_token, { token_type_hint: 'refresh_token' });
    expect(res.status, res.raw).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await callWhoami(app, 'alice', tokens.access_token)).status).toBe(401);
    expectOAuthError(await refresh(app, claudeCode, tokens.refresh_token), 400, 'invalid_grant');
  });

  it('revoking an access token refuses that token only; another token of the same grant still works', async () => {
    const t0 = await freshTokens();
    const r1 = await refresh(app, claudeCode, t0.refresh_token);
    const other = String(r1.body.access_token);
    expect((await revoke(claudeCode, t0.access_token, { token_type_hint: 'access_token' })).status).toBe(200);
    expect((await callWhoami(app, 'alice', t0.access_token)).status).toBe(401);
    expect((await callWhoami(app, 'alice', other)).status).toBe(200);
    expect((await refresh(app, claudeCode, String(r1.body.refresh_token))).status).toBe(200);
  });

  it('a revoked access token stays refused past its exp, through the clock tolerance, whatever the purge does meanwhile', async () => {
    const tokens = await freshTokens();
    const exp = decodeJwt(tokens.access_token).payload.exp as number;
    expect((await revoke(claudeCode, tokens.access_token, { token_type_hint: 'access_token' })).status).toBe(200);
    // 10 s after exp: the signature check still takes the token (30 s of clock tolerance), the grant is live.
    vi.useFakeTimers({ toFake: ['Date'], now: (exp + 10) * 1000 });
    try {
      await purgeNow(app.ctx);
      expect((await callWhoami(app, 'alice', tokens.access_token)).status).toBe(401);
    } finally {
      vi.useRealTimers();
    }
  });

  it('an unknown token → 200 (§2.2), and a wrong type hint does not matter', async () => {
    expect((await revoke(claudeCode, 'no-such-token')).status).toBe(200);
    const tokens = await freshTokens();
    expect((await revoke(claudeCode, tokens.refresh_token, { token_type_hint: 'access_token' })).status).toBe(200);
    expect((await callWhoami(app, 'alice', tokens.access_token)).status).toBe(401);
  });

  it("another client revoking someone else's tokens gets 200 and changes nothing", async () => {
    const tokens = await freshTokens();
    const other = await registerClaudeCode(app);
    expect((await revoke(other, tokens.refresh_token)).status).toBe(200);
    expect((await revoke(other, tokens.access_token)).status).toBe(200);
    expect((await callWhoami(app, 'alice', tokens.access_token)).status).toBe(200);
    expect((await refresh(app, claudeCode, tokens.refresh_token)).status).toBe(200);
  });

  it('the revocation endpoint authenticates the client: unknown client → 401 invalid_client', async () => {
    const res = await revoke({ ...claudeCode, clientId: 'rc_nobody' }, 'whatever');
    expectOAuthError(res, 401, 'invalid_client');
    const wrongSecret = await postForm(app, OAUTH_PATHS.revoke, claudeAi, { token: 'whatever' }, { secret: 'wrong' });
    expectOAuthError(wrongSecret, 401, 'invalid_client');
  });
});

describe('the authorization server on wiki hosts (clients that build /authorize, /token, /register on the MCP origin)', () => {
  it('POST /token on a wiki host exchanges a code and refreshes exactly as at the issuer', async () => {
    const issued = await obtainCode(claudeCode, alice, app);
    const host = wikiHost(app, 'alice');
    const form = { grant_type: 'authorization_code', code: issued.code, code_verifier: issued.pkce.verifier, redirect_uri: issued.redirectUri };
    const res = await wikiHostTokenRequest(app, host, claudeCode, form);
    expect(res.status, res.raw).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'wiki:read wiki:write' });
    expect(decodeJwt(String(res.body.access_token)).payload).toMatchObject({ iss: app.url, aud: alice.mcpUrl });
    const r = await wikiHostTokenRequest(app, host, claudeCode, { grant_type: 'refresh_token', refresh_token: String(res.body.refresh_token) });
    expect(r.status, r.raw).toBe(200);
    // Errors too: replay → the same invalid_grant as at the issuer, and the grant is revoked.
    expectOAuthError(await wikiHostTokenRequest(app, host, claudeCode, form), 400, 'invalid_grant');
    expect((await callWhoami(app, 'alice', String(r.body.access_token))).status).toBe(401);
    // An unknown client → 401 invalid_client with its challenge.
    const unknown = await wikiHostTokenRequest(app, host, { ...claudeCode, clientId: 'rc_gone' }, { grant_type: 'refresh_token', refresh_token: 'x' });
    expectOAuthError(unknown, 401, 'invalid_client');
    expect(unknown.headers['www-authenticate']).toMatch(/^Basic /);
  });

  it('POST /register on a wiki host registers a client that works at the issuer', async () => {
    const client = await registerClient(
      app,
      { client_name: 'Claude', redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'client_secret_post' },
      wikiHost(app, 'alice'),
    );
    expect(client.clientSecret).toBeTruthy();
    const tokens = await freshTokens(client);
    expect(decodeJwt(tokens.access_token).payload.client_id).toBe(client.clientId);
  });

  it("GET /authorize on a wiki host redirects to the issuer's /authorize with the same query", async () => {
    const params = authorizeParams(claudeCode, alice, newPkce());
    const query = new URLSearchParams(params as Record<string, string>).toString();
    const res = await wikiRequest(app, wikiHost(app, 'alice'), `/authorize?${query}`);
    expect([302, 303, 307]).toContain(res.status);
    expect(res.headers.location).toBe(`${app.url}${OAUTH_PATHS.authorize}?${query}`);
  });

  it('/token on an unknown wiki host is not a way around anything: JSON, never HTML or 5xx', async () => {
    const res = await wikiHostTokenRequest(app, wikiHost(app, 'nosuchwiki'), claudeCode, { grant_type: 'refresh_token', refresh_token: 'x' });
    expect(res.status).toBeLessThan(500);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });
});
