// The apex session: the cookie carries a random secret, the sessions row is keyed by its SHA-256
// and is what makes it live. And the cookie policy table (src/accounts/cookies.ts).
import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys } from '../../src/config/keys.ts';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { createSession, readSession } from '../../src/accounts/session.ts';
import { cookieNames, hostOnlyCookieOptions, identityCookieOptions } from '../../src/accounts/cookies.ts';
import { IDENTITY_TOKEN_TTL_SECONDS } from '../../src/lifetimes.ts';
import { identityAudience, IDENTITY_TOKEN_TYP, signIdentityToken } from '../../src/accounts/identity-token.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';

const config: Config = parseConfig({});
let db: Db;
let store: Store;

const alice = { did: 'did:plc:alice', handle: 'alice.test', username: 'alice' };
const bob = { did: 'did:plc:bob', handle: 'bob.test', username: 'bob' };

beforeAll(async () => {
  db = openDatabase(':memory:');
  migrate(db);
  store = createSqliteStore(db);
  for (const u of [alice, bob]) await store.repos.users.insertWithFirstWiki({ ...u, displayName: null });
});

describe('a session cookie names a live session row', () => {
  it('a fresh secret reads back as the signed-in user; the database holds only its hash', async () => {
    const secret = await createSession({ config, store }, alice, 'test-agent');
    const user = await readSession({ store }, secret);
    expect(user).toEqual({ did: alice.did, handle: alice.handle, username: alice.username, sessionId: sha256Hex(secret) });
    const ids = db.prepare<[], { id: string }>('SELECT id FROM sessions').all().map((r) => r.id);
    expect(ids).toContain(sha256Hex(secret));
    expect(ids).not.toContain(secret);
    // A copy of the database does not sign anyone in: the row id is not a working cookie.
    expect(await readSession({ store }, sha256Hex(secret))).toBeUndefined();
  });

  it('a revoked session is signed out at once', async () => {
    const secret = await createSession({ config, store }, alice, null);
    await store.repos.sessions.revoke((await readSession({ store }, secret))!.sessionId);
    expect(await readSession({ store }, secret)).toBeUndefined();
  });

  it('revoking all sessions of a user signs out every browser of that user only', async () => {
    const a1 = await createSession({ config, store }, alice, null);
    const a2 = await createSession({ config, store }, alice, null);
    const b1 = await createSession({ config, store }, bob, null);
    expect(await store.repos.sessions.revokeAllForUser(alice.did)).toBeGreaterThanOrEqual(2);
    expect(await readSession({ store }, a1)).toBeUndefined();
    expect(await readSession({ store }, a2)).toBeUndefined();
    expect(await readSession({ store }, b1)).toMatchObject({ did: bob.did });
  });

  it('an expired row is signed out', async () => {
    const secret = await createSession({ config: { sessionTtlSeconds: -1 }, store }, alice, null);
    expect(await readSession({ store }, secret)).toBeUndefined();
  });

  it('refuses unknown, non-string and oversized values', async () => {
    for (const value of [undefined, '', 'no-such-session', 42, ['x'], 'a'.repeat(5000)]) {
      expect(await readSession({ store }, value)).toBeUndefined();
    }
  });
});

describe('cookie policy', () => {
  const prod = parseConfig({ PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: 'p.json', ATPROTO_CLIENT_KEYS_FILE: 'a.json', COOKIE_DOMAIN: 'wiki.example' });

  it('production: every acting cookie is __Host- (Secure, Path=/, no Domain) even with COOKIE_DOMAIN set', () => {
    expect(cookieNames(prod)).toEqual({
      session: '__Host-session',
      signup: '__Host-signup_ticket',
      binding: '__Host-signin_binding',
      csrf: '__Host-csrf',
      identity: 'platform_identity',
    });
    expect(hostOnlyCookieOptions(prod, 60)).toEqual({ httpOnly: true, secure: true, sameSite: 'lax', path: '/', maxAge: 60_000 });
  });

  it('production: only the identity cookie goes on COOKIE_DOMAIN, for IDENTITY_TOKEN_TTL_SECONDS', () => {
    expect(identityCookieOptions(prod, IDENTITY_TOKEN_TTL_SECONDS)).toEqual({
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
      path: '/',
      domain: 'wiki.example',
      maxAge: IDENTITY_TOKEN_TTL_SECONDS * 1000,
    });
  });

  it('development over http: the same cookies without the __Host- prefix and without Secure', () => {
    expect(cookieNames(config)).toMatchObject({ session: 'session', signup: 'signup_ticket', binding: 'signin_binding', csrf: 'csrf' });
    expect(hostOnlyCookieOptions(config)).toEqual({ httpOnly: true, secure: false, sameSite: 'lax', path: '/' });
  });
});

describe('the identity token', () => {
  it('is an RS256 wiki-id+jwt for the wikis audience, naming the person, for 15 minutes', async () => {
    const identityKeys = await loadPlatformKeys([await generatePrivateJwk('RS256', 'identity')], undefined, 'identity');
    const token = await signIdentityToken({ config, identityKeys }, alice);
    const { payload, protectedHeader } = await jose.jwtVerify(token, identityKeys.verificationKeySet, {
      typ: IDENTITY_TOKEN_TYP,
      issuer: config.publicUrl,
      audience: identityAudience(config),
      algorithms: ['RS256'],
    });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'wiki-id+jwt', kid: identityKeys.current.kid });
    expect(payload).toMatchObject({ sub: alice.did, handle: alice.handle, username: alice.username, aud: `${config.publicUrl}/wikis` });
    expect(payload.exp! - payload.iat!).toBe(IDENTITY_TOKEN_TTL_SECONDS);
  });
});
