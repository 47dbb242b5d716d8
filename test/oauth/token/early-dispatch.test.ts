// The apex POST /auth/oauth/token is dispatched before the verify, TLS-ask, wiki-host and metadata
// routers (token.route.ts earlyTokenDispatch; docs/benchmarks.md "Round 4: the token endpoint").
// What must not change: a wiki host still answers 404 there (and a valid refresh token sent to it is
// not used), Host/X-Forwarded-Host disagreeing is still the 400 of wikiSlugOfRequest, the issuer's
// answer still carries its CORS headers, and other spellings of the path are still served.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_PATHS } from '../../../src/oauth/paths.ts';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { seedClient, seedGrant, seedUser } from '../../support/seed.ts';

const WIKI_HOST = 'alice.localhost:3000';
let t: TestApp;
let clientId: string;
let refreshToken: string;

beforeAll(async () => {
  t = await startTestApp({}, { listen: false });
  const did = (await seedUser(t.ctx, 'alice')).did;
  clientId = await seedClient(t.ctx);
  refreshToken = (await seedGrant(t.ctx, t.ctx.config, { did, slug: 'alice', clientId })).refreshToken;
});
afterAll(() => t.close());

const refresh = (path: string = OAUTH_PATHS.token) =>
  t.http().post(path).type('form').send({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });

describe('POST /auth/oauth/token dispatched early', () => {
  it('on a wiki host is still a 404, and the refresh token sent there is not used', async () => {
    const res = await refresh().set('Host', WIKI_HOST).set('Origin', 'https://inspector.example');
    expect(res.status).toBe(404);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    const apex = await refresh();
    expect(apex.status, JSON.stringify(apex.body)).toBe(200);
    refreshToken = (apex.body as { refresh_token: string }).refresh_token;
  });

  it('with an X-Forwarded-Host naming a wiki other than Host is still the 400 host mismatch', async () => {
    const res = await refresh().set('X-Forwarded-Host', WIKI_HOST);
    expect(res.status).toBe(400);
    expect(res.text).not.toMatch(/access_token/);
  });

  it('on the issuer answers with its CORS headers, and other spellings of the path are served as before', async () => {
    const res = await refresh().set('Origin', 'https://inspector.example');
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['cache-control']).toMatch(/no-store/);
    refreshToken = (res.body as { refresh_token: string }).refresh_token;
    for (const path of [`${OAUTH_PATHS.token}/`, OAUTH_PATHS.token.toUpperCase()]) {
      const other = await refresh(path);
      expect(other.status, `${path}: ${JSON.stringify(other.body)}`).toBe(200);
      refreshToken = (other.body as { refresh_token: string }).refresh_token;
    }
  });
});
