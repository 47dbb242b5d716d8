// /auth/verify — Caddy forward_auth: 200 with X-Auth-* for a valid token, the wiki's challenge otherwise.
import Database from 'better-sqlite3';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE_HOST, ALICE_PRM, BOB_HOST, CLIENT_ID, createResourceFixture, type ResourceFixture } from './support.ts';

let f: ResourceFixture;
beforeAll(async () => {
  f = await createResourceFixture();
});
afterAll(() => f.close());

/** As Caddy sends it: GET to the auth service, original Host kept, X-Forwarded-* set. */
function forwardAuth(forwardedHost: string, authorization?: string, query = '') {
  const req = request(f.app)
    .get(`/auth/verify${query}`)
    .set('Host', forwardedHost)
    .set('X-Forwarded-Host', forwardedHost)
    .set('X-Forwarded-Proto', 'http')
    .set('X-Forwarded-Method', 'GET')
    .set('X-Forwarded-Uri', '/wiki/Home');
  if (authorization !== undefined) req.set('Authorization', authorization);
  return req;
}

describe('GET /auth/verify', () => {
  it('a storage fault in the bearer check\'s synchronous read answers 503 with Retry-After, on the light path and through Express', async () => {
    const { token } = await f.mint(f.aliceGrant);
    expect((await forwardAuth(ALICE_HOST, `Bearer ${token}`)).status).toBe(200); // verified: the next read is the synchronous one
    const store = f.ctx.store;
    const lookupBearerNow = store.lookupBearerNow;
    store.lookupBearerNow = () => {
      throw new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_READ');
    };
    try {
      // No query: the light path (machine-endpoints.ts). ?scope=: Express's route (verify.route.ts).
      for (const query of ['', '?scope=wiki:read']) {
        const res = await forwardAuth(ALICE_HOST, `Bearer ${token}`, query);
        expect(res.status, query).toBe(503);
        expect(res.headers['retry-after'], query).toBeDefined();
        expect(res.headers['x-auth-did'], query).toBeUndefined();
      }
    } finally {
      store.lookupBearerNow = lookupBearerNow;
    }
    expect((await forwardAuth(ALICE_HOST, `Bearer ${token}`)).status).toBe(200);
  });

  it('200 with the caller in X-Auth-* headers, not cacheable', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await forwardAuth(ALICE_HOST, `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-did']).toBe(f.alice.did);
    expect(res.headers['x-auth-handle']).toBe(f.alice.handle);
    expect(res.headers['x-auth-wiki']).toBe('alice');
    expect(res.headers['x-auth-scopes']).toBe('wiki:read wiki:write');
    expect(res.headers['x-auth-client-id']).toBe(CLIENT_ID);
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('401 without a token, with the forwarded wiki’s challenge', async () => {
    const res = await forwardAuth(ALICE_HOST);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe(`Bearer resource_metadata="${ALICE_PRM}", scope="wiki:read wiki:write"`);
    expect(res.headers['x-auth-did']).toBeUndefined();
  });

  it('401 invalid_token for a bad token', async () => {
    const res = await forwardAuth(ALICE_HOST, 'Bearer nope');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('403 insufficient_scope when ?scope=wiki:write is needed and the token has wiki:read only', async () => {
    const { token } = await f.mint(f.aliceReadOnlyGrant);
    const res = await forwardAuth(ALICE_HOST, `Bearer ${token}`, '?scope=wiki:write');
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="${ALICE_PRM}", scope="wiki:write", error="insufficient_scope", error_description="This request needs the wiki:write scope."`,
    );
    expect((await forwardAuth(ALICE_HOST, `Bearer ${token}`)).status).toBe(200);
  });

  it('takes the wiki from Host (the one Caddy routes by and the wiki sees), never from X-Forwarded-Host', async () => {
    const { token } = await f.mint(f.bobGrant);
    const at = (host: string, forwarded?: string) => {
      const req = request(f.app).get('/auth/verify').set('Host', host).set('Authorization', `Bearer ${token}`);
      return forwarded === undefined ? req : req.set('X-Forwarded-Host', forwarded);
    };
    const atBob = await at(BOB_HOST, BOB_HOST);
    expect(atBob.status).toBe(200);
    expect(atBob.headers['x-auth-wiki']).toBe('bob');
    const atAlice = await at(ALICE_HOST);
    expect(atAlice.status).toBe(401);
    expect(atAlice.headers['www-authenticate']).toContain(`resource_metadata="${ALICE_PRM}"`);
    // Host and X-Forwarded-Host disagree (in any entry, either way round, apex included): 400, no identity.
    for (const [host, forwarded] of [
      [ALICE_HOST, BOB_HOST],
      [BOB_HOST, ALICE_HOST],
      [ALICE_HOST, `${ALICE_HOST}, ${BOB_HOST}`],
      ['localhost:3000', BOB_HOST],
    ] as const) {
      const res = await at(host, forwarded);
      expect(res.status, `${host} / ${forwarded}`).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_request' });
      expect(res.headers['x-auth-did']).toBeUndefined();
    }
    // The same host spelled differently (case, port, trailing dot) is not a disagreement.
    expect((await at(BOB_HOST, 'BOB.localhost.')).status).toBe(200);
  });

  it('falls back to Host without X-Forwarded-Host', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await request(f.app).get('/auth/verify').set('Host', ALICE_HOST).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-wiki']).toBe('alice');
  });

  it('accepts the original method too', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await request(f.app).post('/auth/verify').set('Host', ALICE_HOST).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
  });

  it('404 JSON for an unknown wiki or a host that is no wiki', async () => {
    for (const host of ['nobody.localhost:3000', 'localhost:3000']) {
      const res = await forwardAuth(host, 'Bearer x');
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body.error).toBe('not_found');
    }
  });

  it('400 for a scope that is not a wiki scope', async () => {
    const res = await forwardAuth(ALICE_HOST, 'Bearer x', '?scope=admin');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });

  it('a revoked grant is refused at once', async () => {
    const { token } = await f.mint(f.bobGrant);
    expect((await forwardAuth(BOB_HOST, `Bearer ${token}`)).status).toBe(200);
    (await f.ctx.store.repos.grants.revoke(f.bobGrant.id));
    expect((await forwardAuth(BOB_HOST, `Bearer ${token}`)).status).toBe(401);
  });
});
