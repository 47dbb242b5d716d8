// ACCESS_TOKEN_ALG end to end, for each algorithm: /token issues a token of that algorithm signed by
// the published key, /mcp whoami and /auth/verify accept it, a token of the other algorithm is refused,
// and the cached verification still sees grant revocation and access-token revocation at once.
import crypto from 'node:crypto';
import * as jose from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generatePrivateJwk, loadPlatformKeys } from '../../../src/config/keys.ts';
import type { AppContext } from '../../../src/context.ts';
import { signAccessToken } from '../../../src/oauth/tokens/access-token.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { seedClient, seedGrant, seedUser } from '../../support/seed.ts';

const HOST = 'alice.localhost:3000';
const MCP_URL = 'http://alice.localhost:3000/mcp';

describe.each(['RS256', 'ES256'] as const)('ACCESS_TOKEN_ALG=%s', (alg) => {
  const other = alg === 'RS256' ? 'ES256' : 'RS256';
  let t: TestApp;
  let ctx: AppContext;
  let clientId: string;
  let refreshToken: string;
  let did: string;

  beforeEach(async () => {
    t = await startTestApp({ ACCESS_TOKEN_ALG: alg }, { listen: false });
    ctx = t.ctx;
    did = (await seedUser(ctx, 'alice')).did;
    clientId = await seedClient(ctx);
    refreshToken = (await seedGrant(ctx, ctx.config, { did, slug: 'alice', clientId })).refreshToken;
  });
  afterEach(() => t.close());

  const refresh = async () => {
    const res = await t.http().post('/auth/oauth/token').type('form').send({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    refreshToken = (res.body as { refresh_token: string }).refresh_token;
    return (res.body as { access_token: string }).access_token;
  };
  const verify = (token: string) => t.http().get('/auth/verify').set('Host', HOST).set('Authorization', `Bearer ${token}`);
  const whoami = (token: string) =>
    t.http()
      .post('/mcp')
      .set('Host', HOST)
      .set('Authorization', `Bearer ${token}`)
      .set('Accept', 'application/json, text/event-stream')
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }));

  it('issues a token of that algorithm that verifies with the published key, and /mcp and /auth/verify accept it', async () => {
    const token = await refresh();
    expect(jose.decodeProtectedHeader(token)).toEqual({ alg, kid: ctx.platformKeys.current.kid, typ: 'at+jwt' });
    // An independent verifier (jose, from the JWKS the service publishes) agrees with the signature and claims.
    const jwks = (await t.http().get('/.well-known/jwks.json')).body as jose.JSONWebKeySet;
    expect(jwks.keys.map((k) => k.alg)).toEqual([alg]);
    const { payload } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
      algorithms: [alg],
      typ: 'at+jwt',
      issuer: t.config.publicUrl,
      audience: MCP_URL,
    });
    expect(payload).toMatchObject({ sub: did, client_id: clientId, scope: 'wiki:read wiki:write' });
    expect(Object.keys(payload).sort()).toEqual(['aud', 'client_id', 'exp', 'gid', 'iat', 'iss', 'jti', 'scope', 'sub']);
    expect(payload.exp! - payload.iat!).toBe(t.config.accessTokenTtlSeconds);

    const verified = await verify(token);
    expect(verified.status).toBe(200);
    expect(verified.headers['x-auth-did']).toBe(did);
    const call = await whoami(token);
    expect(call.status, call.text).toBe(200);
    expect(call.text).toContain(did);
  });

  it(`refuses a token signed ${other} by an access key of its own that is not published`, async () => {
    const stranger = await loadPlatformKeys([await generatePrivateJwk(other)], undefined, 'access', other);
    const forged = signAccessToken({ config: t.config, keys: stranger }, { did, resource: MCP_URL, clientId, scope: 'wiki:read', grantId: 'g' }).token;
    expect(jose.decodeProtectedHeader(forged).alg).toBe(other);
    expect((await verify(forged)).status).toBe(401);
    expect((await whoami(forged)).status).toBe(401);
  });

  it('the cached verification still checks revocation of the token and of the grant on every request', async () => {
    const revokedToken = await refresh();
    expect((await verify(revokedToken)).status).toBe(200);
    expect((await verify(revokedToken)).status).toBe(200); // now from the cache
    const revoked = await t.http().post('/auth/oauth/revoke').type('form').send({ token: revokedToken, client_id: clientId });
    expect(revoked.status).toBe(200);
    expect((await verify(revokedToken)).status).toBe(401);

    const token = await refresh();
    expect((await verify(token)).status).toBe(200);
    expect((await whoami(token)).status).toBe(200);
    expect((await ctx.store.repos.grants.revokeAllForUser(did))).toBe(1);
    expect((await verify(token)).status).toBe(401);
    expect((await whoami(token)).status).toBe(401);
  });

  it('a token whose signature was changed in one bit is refused', async () => {
    const token = await refresh();
    const [h, p, s] = token.split('.');
    const sig = Buffer.from(s!, 'base64url');
    sig[5]! ^= 1;
    expect((await verify(`${h}.${p}.${sig.toString('base64url')}`)).status).toBe(401);
    expect((await verify(`${h}.${p}.${crypto.randomBytes(sig.length).toString('base64url')}`)).status).toBe(401);
  });
});
