// The bearer check at a wiki's /mcp: every way a token can be wrong gets 401 with the wiki's
// challenge (403 for a missing scope), and revocation takes effect at once.
import crypto from 'node:crypto';
import * as jose from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowSeconds } from '../../src/db/open.ts';
import { bearerCredentials, checkBearer } from '../../src/resource/check-bearer.ts';
import { InsufficientScope, InvalidToken } from '../../src/resource/errors.ts';
import { WikiNotFound } from '../../src/resource/require-wiki.ts';
import {
  ALICE_HOST,
  ALICE_MCP,
  ALICE_PRM,
  BOB_HOST,
  CLIENT_ID,
  createResourceFixture,
  INITIALIZE,
  MCP_POST_HEADERS,
  SERVER_DISCOVER,
  type ResourceFixture,
} from './support.ts';
import { mintAccessToken, seedGrant, seedWiki } from '../support/seed.ts';

const NO_TOKEN_CHALLENGE = `Bearer resource_metadata="${ALICE_PRM}", scope="wiki:read wiki:write"`;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let f: ResourceFixture;
beforeAll(async () => {
  f = await createResourceFixture();
});
afterAll(() => f.close());

/** checkBearer's answer as a Promise: it throws synchronously when it refuses without a read. */
const check = (...args: Parameters<typeof checkBearer>) => Promise.resolve().then(() => checkBearer(...args));

function postMcp(host: string, body: unknown, authorization?: string, path = '/mcp') {
  const req = request(f.app).post(path).set('Host', host).set(MCP_POST_HEADERS);
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req.send(JSON.stringify(body));
}

/** A token signed by the current platform key with these claims (defaults: a valid alice token). */
async function signWith(claims: Partial<jose.JWTPayload & { scope: string; client_id: string; gid: string }>, header: Partial<jose.JWTHeaderParameters> = {}) {
  const key = f.ctx.platformKeys.current;
  const now = nowSeconds();
  return new jose.SignJWT({ client_id: CLIENT_ID, scope: 'wiki:read wiki:write', gid: f.aliceGrant.id, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt', ...header })
    .setIssuer(f.ctx.config.publicUrl)
    .setSubject(f.alice.did)
    .setAudience(ALICE_MCP)
    .setJti(crypto.randomUUID())
    .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now)
    .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 600)
    .sign(key.privateKey);
}

function expectInvalidToken(res: request.Response) {
  expect(res.status).toBe(401);
  const challenge = res.headers['www-authenticate'];
  expect(challenge).toMatch(new RegExp(`^Bearer resource_metadata="${ALICE_PRM}", scope="wiki:read wiki:write", error="invalid_token", error_description="(?:[^"\\\\]|\\\\.)+"$`));
  expect(res.body.error).toBe('invalid_token');
}

describe('no token: 401 with the challenge and no error code (RFC 6750 §3.1)', () => {
  it('initialize', async () => {
    const res = await postMcp(ALICE_HOST, INITIALIZE);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it('server/discover with MCP-Protocol-Version 2026-07-28', async () => {
    const res = await postMcp(ALICE_HOST, SERVER_DISCOVER).set('MCP-Protocol-Version', '2026-07-28');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  });

  it('GET and DELETE too', async () => {
    for (const method of ['get', 'delete'] as const) {
      const res = await request(f.app)[method]('/mcp').set('Host', ALICE_HOST);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
    }
  });

  it('another authentication scheme counts as no token', async () => {
    const res = await postMcp(ALICE_HOST, INITIALIZE, 'Basic dXNlcjpwYXNz');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  });

  it('/mcp/ is served like /mcp, without a redirect', async () => {
    const res = await postMcp(ALICE_HOST, INITIALIZE, undefined, '/mcp/');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(NO_TOKEN_CHALLENGE);
  });

  it('the challenge names the wiki of the host', async () => {
    const res = await postMcp(BOB_HOST, INITIALIZE);
    expect(res.headers['www-authenticate']).toBe(
      'Bearer resource_metadata="http://bob.localhost:3000/.well-known/oauth-protected-resource/mcp", scope="wiki:read wiki:write"',
    );
  });

  it('an unknown wiki is a 404, not a challenge', async () => {
    const res = await postMcp('nobody.localhost:3000', INITIALIZE);
    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
    expect(res.headers['www-authenticate']).toBeUndefined();
  });
});

describe('bad tokens: 401 invalid_token', () => {
  it('garbage', async () => {
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, 'Bearer not-a-jwt'));
  });

  it('a malformed Authorization header (two tokens, or none after the scheme)', async () => {
    const { token } = await f.mint(f.aliceGrant);
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token} ${token}`));
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, 'Bearer'));
  });

  it('a token for wiki bob at wiki alice (RFC 8707 audience)', async () => {
    const { token } = await f.mint(f.bobGrant);
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`));
    const atBob = await postMcp(BOB_HOST, INITIALIZE, `Bearer ${token}`);
    expect(atBob.status).toBe(200);
  });

  it('a token for wiki alice at wiki bob', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await postMcp(BOB_HOST, INITIALIZE, `Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('resource_metadata="http://bob.localhost:3000/.well-known/oauth-protected-resource/mcp"');
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('expired', async () => {
    const now = nowSeconds();
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${await signWith({ iat: now - 7200, exp: now - 3600 })}`));
  });

  it('a tampered payload (more scope, same signature)', async () => {
    const { token } = await f.mint(f.aliceReadOnlyGrant);
    const [header, payload, signature] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>;
    const tampered = `${header}.${b64({ ...claims, sub: f.bob.did })}.${signature}`;
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${tampered}`));
  });

  it('alg none', async () => {
    const now = nowSeconds();
    const unsigned = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64({
      iss: f.ctx.config.publicUrl,
      sub: f.alice.did,
      aud: ALICE_MCP,
      iat: now,
      exp: now + 600,
      jti: 'none-jti',
      client_id: CLIENT_ID,
      scope: 'wiki:read wiki:write',
      gid: f.aliceGrant.id,
    })}.`;
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${unsigned}`));
  });

  it('an unknown kid (signed by a key that is not ours)', async () => {
    const { privateKey } = await jose.generateKeyPair('RS256');
    const now = nowSeconds();
    const foreign = await new jose.SignJWT({ client_id: CLIENT_ID, scope: 'wiki:read wiki:write', gid: f.aliceGrant.id })
      .setProtectedHeader({ alg: 'RS256', kid: 'someone-else', typ: 'at+jwt' })
      .setIssuer(f.ctx.config.publicUrl)
      .setSubject(f.alice.did)
      .setAudience(ALICE_MCP)
      .setJti('foreign')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(privateKey);
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${foreign}`));
  });

  it('HS256 keyed with our public key (algorithm confusion)', async () => {
    const publicKey = crypto.createPublicKey({ key: f.ctx.platformKeys.current.publicJwk as crypto.JsonWebKey, format: 'jwk' });
    const secret = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const now = nowSeconds();
    const confused = await new jose.SignJWT({ client_id: CLIENT_ID, scope: 'wiki:read wiki:write', gid: f.aliceGrant.id })
      .setProtectedHeader({ alg: 'HS256', kid: f.ctx.platformKeys.current.kid, typ: 'at+jwt' })
      .setIssuer(f.ctx.config.publicUrl)
      .setSubject(f.alice.did)
      .setAudience(ALICE_MCP)
      .setJti('confused')
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(secret);
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${confused}`));
  });

  it('a wrong typ (an ID token or session JWT is not an access token)', async () => {
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${await signWith({}, { typ: 'JWT' })}`));
  });

  it('a token naming a grant of another user', async () => {
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${await signWith({ gid: f.bobGrant.id })}`));
  });
});

describe('revocation takes effect at once', () => {
  it('revoked grant', async () => {
    const grant = { ...f.aliceGrant, id: 'grant-to-revoke' };
    (await f.ctx.store.repos.grants.insert({ id: grant.id, clientId: CLIENT_ID, userDid: f.alice.did, wikiSlug: 'alice', resource: ALICE_MCP, scope: grant.scope, expiresAt: nowSeconds() + 3600 }));
    const { token } = await f.mint(grant);
    expect((await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`)).status).toBe(200);
    expect((await f.ctx.store.repos.grants.revoke(grant.id))).toBe(true);
    const res = await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`);
    expectInvalidToken(res);
    expect(res.headers['www-authenticate']).toContain('error_description="The access token has been revoked."');
  });

  it('revoked jti (RFC 7009)', async () => {
    const { token, jti } = await f.mint(f.aliceGrant);
    expect((await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`)).status).toBe(200);
    (await f.ctx.store.repos.revokedAccessTokens.add(jti, nowSeconds() + 600));
    expectInvalidToken(await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`));
  });
});

describe('scope', () => {
  it('a token without wiki:read gets 403 insufficient_scope naming wiki:read', async () => {
    const { token } = await f.mint(f.aliceWriteOnlyGrant);
    const res = await postMcp(ALICE_HOST, INITIALIZE, `Bearer ${token}`);
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${ALICE_PRM}", scope="wiki:read", error="insufficient_scope", error_description="This request needs the wiki:read scope."`,
    );
    expect(res.body).toEqual({ error: 'insufficient_scope', error_description: 'This request needs the wiki:read scope.' });
  });

  it('scopes the grant no longer allows are dropped', async () => {
    const token = await signWith({ gid: f.aliceWriteOnlyGrant.id, scope: 'wiki:read wiki:write' });
    await expect(check(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read')).rejects.toBeInstanceOf(InsufficientScope);
  });
});

describe('checkBearer', () => {
  it('returns the caller', async () => {
    const { token, jti } = await f.mint(f.aliceGrant);
    const caller = await checkBearer(f.ctx, `bEaReR ${token}`, 'alice', 'wiki:write');
    expect(caller).toEqual({
      did: f.alice.did,
      handle: f.alice.handle,
      wiki: 'alice',
      scopes: ['wiki:read', 'wiki:write'],
      clientId: CLIENT_ID,
      grantId: f.aliceGrant.id,
      jti,
    });
  });

  it('throws typed errors', async () => {
    await expect(check(f.ctx, undefined, 'alice', 'wiki:read')).rejects.toSatisfy((e) => e instanceof InvalidToken && !e.tokenSent);
    await expect(check(f.ctx, 'Bearer x', 'alice', 'wiki:read')).rejects.toSatisfy((e) => e instanceof InvalidToken && e.tokenSent);
    await expect(check(f.ctx, 'Bearer x', 'nobody', 'wiki:read')).rejects.toBeInstanceOf(WikiNotFound);
  });

  it('an unknown or deleted wiki is a 404 whatever the token (none, malformed, garbage, valid for it, for another wiki)', async () => {
    const { token: aliceToken } = await f.mint(f.aliceGrant);
    for (const authorization of [undefined, 'Bearer', 'Bearer x', `Bearer ${aliceToken}`]) {
      await expect(check(f.ctx, authorization, 'nobody', 'wiki:read'), String(authorization)).rejects.toBeInstanceOf(WikiNotFound);
    }
    // A wiki deleted after its token was issued (the grant goes with it: ON DELETE CASCADE).
    await seedWiki(f.ctx, 'doomed', f.alice.did);
    await seedGrant(f.ctx, f.ctx.config, { id: 'grant-doomed', did: f.alice.did, slug: 'doomed', clientId: CLIENT_ID, refreshToken: false });
    const { token } = await mintAccessToken(f.ctx, { grantId: 'grant-doomed', did: f.alice.did, slug: 'doomed', clientId: CLIENT_ID, scope: 'wiki:read wiki:write' });
    await expect(check(f.ctx, `Bearer ${token}`, 'doomed', 'wiki:read')).resolves.toMatchObject({ wiki: 'doomed', grantId: 'grant-doomed' });
    f.ctx.sqlite!.db.prepare('DELETE FROM wikis WHERE slug = ?').run('doomed');
    await expect(check(f.ctx, `Bearer ${token}`, 'doomed', 'wiki:read')).rejects.toBeInstanceOf(WikiNotFound);
  });

  it('a grant row of another wiki is not live here, even when its resource names this wiki (defence in depth beside the audience)', async () => {
    f.ctx.sqlite!.db
      .prepare('INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run('grant-crossed', CLIENT_ID, f.alice.did, 'bob', ALICE_MCP, 'wiki:read wiki:write', nowSeconds(), nowSeconds(), nowSeconds() + 600);
    const token = await signWith({ gid: 'grant-crossed' });
    await expect(check(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read')).rejects.toBeInstanceOf(InvalidToken);
  });

  it('answers synchronously once the token is verified and the store reads now; through the store queue inside a transaction', async () => {
    const { token, jti } = await f.mint(f.aliceGrant);
    await check(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read'); // verified, last use recorded
    const now = checkBearer(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read');
    expect(now).not.toBeInstanceOf(Promise);
    expect(now).toMatchObject({ jti, grantId: f.aliceGrant.id });
    // A synchronous refusal is thrown: a revoked grant's remembered answer is not served.
    const { token: doomed } = await f.mint(f.aliceWriteOnlyGrant);
    await check(f.ctx, `Bearer ${doomed}`, 'alice', 'wiki:write');
    expect(checkBearer(f.ctx, `Bearer ${doomed}`, 'alice', 'wiki:write')).toMatchObject({ grantId: f.aliceWriteOnlyGrant.id });
    await f.ctx.store.repos.grants.revoke(f.aliceWriteOnlyGrant.id);
    expect(() => checkBearer(f.ctx, `Bearer ${doomed}`, 'alice', 'wiki:write')).toThrow(InvalidToken);
    // While a transaction is open on the connection its writes may still roll back: a check from
    // outside it queues behind it, and sees what it left (here: nothing, it rolls back).
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const rolledBack = f.ctx.store
      .transaction(async (tx) => {
        await tx.grants.revoke(f.aliceGrant.id);
        entered();
        await new Promise<void>((resolve) => (release = resolve));
        throw new Error('roll back');
      })
      .catch((err: unknown) => String(err));
    await inside;
    const during = checkBearer(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read');
    expect(during).toBeInstanceOf(Promise);
    release();
    expect(await rolledBack).toContain('roll back');
    await expect(during).resolves.toMatchObject({ jti });
  });

  it('records last use at most once a minute', async () => {
    const setLastUsed = f.ctx.sqlite!.db.prepare('UPDATE oauth_grants SET last_used_at = ? WHERE id = ?');
    const lastUsed = async () => (await f.ctx.store.repos.grants.findById(f.aliceGrant.id))?.lastUsedAt;
    const { token } = await f.mint(f.aliceGrant);
    const old = nowSeconds() - 3600;
    setLastUsed.run(old, f.aliceGrant.id);
    await checkBearer(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read');
    expect(await lastUsed()).toBeGreaterThanOrEqual(nowSeconds() - 1);
    const recent = nowSeconds() - 30;
    setLastUsed.run(recent, f.aliceGrant.id);
    await checkBearer(f.ctx, `Bearer ${token}`, 'alice', 'wiki:read');
    expect(await lastUsed()).toBe(recent);
  });
});

describe('bearerCredentials (RFC 6750 §2.1)', () => {
  it.each([
    [undefined, { kind: 'none' }],
    ['', { kind: 'none' }],
    ['Basic abc', { kind: 'none' }],
    ['Bearer abc.def-_~+/==', { kind: 'token', token: 'abc.def-_~+/==' }],
    ['Bearer abc=def', { kind: 'malformed' }],
    ['Bearer abc.DEF-_~+/', { kind: 'token', token: 'abc.DEF-_~+/' }],
    ['bearer tok==', { kind: 'token', token: 'tok==' }],
    ['BEARER  tok', { kind: 'token', token: 'tok' }],
    ['Bearer', { kind: 'malformed' }],
    ['Bearer a b', { kind: 'malformed' }],
    ['Bearer a"b', { kind: 'malformed' }],
    ['Bearer\ttok', { kind: 'token', token: 'tok' }],
    [' Bearer \t tok ', { kind: 'token', token: 'tok' }],
    ['Bearer a\tb', { kind: 'malformed' }],
    // Only spaces and tabs separate: another whitespace character is part of the scheme or token.
    ['Bearer \u00a0tok', { kind: 'malformed' }],
    ['Bearer\u00a0tok', { kind: 'none' }],
    ['Bearers tok', { kind: 'none' }],
  ])('%j', (header, expected) => {
    expect(bearerCredentials(header)).toEqual(expected);
  });
});
