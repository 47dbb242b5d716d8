// GET /auth/wiki-session: the apex refreshes the wikis' identity cookie from a live apex session and
// sends the person back to a wiki of this platform only; signed out (or revoked), it sends them to
// sign in and gives no identity. And the identity JWKS it is verified with.
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames, IDENTITY_COOKIE } from '../../src/accounts/cookies.ts';
import { createSession } from '../../src/accounts/session.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { browser, location, setCookieLine } from '../support/browser-flow.ts';
import { createWikiIdentityCheck } from '../support/wiki-identity-check.ts';

let app: TestApp;
const alice = { did: 'did:plc:alicewikisession', handle: 'alice.test', username: 'alicews' };
const bob = { did: 'did:plc:bobwikisession', handle: 'bob.test', username: 'bobws' };
const wiki = (slug: string, path = '/some/page?x=1') => `http://${slug}.localhost:${app.port}${path}`;
const refreshUrl = (returnTo: string) => `/auth/wiki-session?return_to=${encodeURIComponent(returnTo)}`;

beforeAll(async () => {
  app = await startTestApp({ COOKIE_DOMAIN: 'localhost', RATE_LIMIT_LOGIN_PER_MINUTE: '100000' });
  for (const u of [alice, bob]) await app.ctx.store.repos.users.insertWithFirstWiki({ ...u, displayName: null });
});
afterAll(async () => {
  await app?.close();
});

async function signedIn(user: { did: string }) {
  return browser(app, new Map([[cookieNames(app.config).session, await createSession(app.ctx, user, 'test')]]));
}

describe('GET /auth/wiki-session', () => {
  it('with a live session: a fresh identity cookie on the domain, and back to the wiki (any existing wiki)', async () => {
    const b = await signedIn(alice);
    for (const target of [wiki(alice.username), wiki(bob.username)]) {
      const res = await b.get(refreshUrl(target));
      expect(res.status).toBe(303);
      expect(location(res)).toBe(target);
      const line = setCookieLine(res, IDENTITY_COOKIE)!;
      expect(line.toLowerCase()).toMatch(/; domain=localhost/);
      expect(line.toLowerCase()).toMatch(/; max-age=900/);
      const token = line.split(';')[0]!.slice(`${IDENTITY_COOKIE}=`.length);
      expect(await createWikiIdentityCheck(app.url)(token)).toEqual({ did: alice.did, handle: alice.handle, username: alice.username });
      expect(jose.decodeProtectedHeader(token).kid).toBe(app.ctx.identityKeys.current.kid);
    }
  });

  it('signed out: to the sign-in page, which comes back here; no identity cookie', async () => {
    const res = await browser(app).get(refreshUrl(wiki(alice.username)));
    expect(res.status).toBe(303);
    expect(location(res)).toBe(`/auth/login?return_to=${encodeURIComponent(refreshUrl(wiki(alice.username)))}`);
    expect(setCookieLine(res, IDENTITY_COOKIE)).toMatch(/^platform_identity=;/);
  });

  it('an identity cookie alone does not refresh itself', async () => {
    const b = await signedIn(alice);
    const first = await b.get(refreshUrl(wiki(alice.username)));
    const token = setCookieLine(first, IDENTITY_COOKIE)!.split(';')[0]!.slice(`${IDENTITY_COOKIE}=`.length);
    const res = await browser(app, new Map([[IDENTITY_COOKIE, token], ['platform_token', token]])).get(refreshUrl(wiki(alice.username)));
    expect(location(res)).toMatch(/^\/auth\/login/);
  });

  it('after the sessions are revoked (admin users revoke-sessions): no new identity', async () => {
    const b = await signedIn(bob);
    expect(location(await b.get(refreshUrl(wiki(bob.username))))).toBe(wiki(bob.username));
    await app.ctx.store.repos.sessions.revokeAllForUser(bob.did);
    const res = await b.get(refreshUrl(wiki(bob.username)));
    expect(location(res)).toMatch(/^\/auth\/login/);
    expect(setCookieLine(res, IDENTITY_COOKIE)).toMatch(/^platform_identity=;/);
  });

  it('never redirects anywhere but an existing wiki host', async () => {
    const b = await signedIn(alice);
    for (const target of [
      'https://evil.example/',
      `http://localhost.evil.example:${app.port}/`,
      wiki('nosuchwiki'),
      `${app.url}/account`,
      '/account',
      '//evil.example/',
    ]) {
      const res = await b.get(refreshUrl(target));
      expect(res.status, target).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(setCookieLine(res, IDENTITY_COOKIE)).toBeUndefined();
    }
  });
});
