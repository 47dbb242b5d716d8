// The browser session cookie: a platform-signed JWT naming a live sessions row. Anything else —
// tampered, foreign-signed, expired, revoked, or for another audience — means "not signed in".
import * as jose from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { generatePrivateJwk, loadPlatformKeys, type PlatformKeys } from '../../src/config/keys.ts';
import { openDatabase } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createSessionsRepo, type SessionsRepo } from '../../src/accounts/sessions.repo.ts';
import { createUsersRepo } from '../../src/accounts/users.repo.ts';
import { createSessionToken, readSessionToken, sessionCookieOptions } from '../../src/accounts/session-cookie.ts';

const config: Config = parseConfig({});
let keys: PlatformKeys;
let otherKeys: PlatformKeys;
let sessions: SessionsRepo;
let deps: { config: Config; keys: PlatformKeys; sessions: SessionsRepo };

const alice = { did: 'did:plc:alice', handle: 'alice.test', username: 'alice' };
const bob = { did: 'did:plc:bob', handle: 'bob.test', username: 'bob' };

beforeAll(async () => {
  keys = await loadPlatformKeys([await generatePrivateJwk('RS256')]);
  otherKeys = await loadPlatformKeys([await generatePrivateJwk('RS256')]);
  const db = openDatabase(':memory:');
  migrate(db);
  const users = createUsersRepo(db);
  for (const u of [alice, bob]) users.insertWithFirstWiki({ ...u, displayName: null });
  sessions = createSessionsRepo(db);
  deps = { config, keys, sessions };
});

/** A session JWT with the right shape, signed by `signer`, with `edit` applied before signing. */
async function craft(signer: PlatformKeys, claims: Record<string, unknown>, edit: (jwt: jose.SignJWT) => jose.SignJWT = (j) => j) {
  const key = signer.current;
  const jwt = new jose.SignJWT({ handle: alice.handle, username: alice.username, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'session+jwt' })
    .setIssuer(config.publicUrl)
    .setAudience(config.publicUrl)
    .setSubject(alice.did)
    .setIssuedAt()
    .setExpirationTime('1h');
  return edit(jwt).sign(key.privateKey);
}

describe('a session cookie names a live session row', () => {
  it('a fresh token reads back as the signed-in user', async () => {
    const token = await createSessionToken(deps, alice, 'test-agent');
    const user = await readSessionToken(deps, token);
    expect(user).toMatchObject({ did: alice.did, handle: alice.handle, username: alice.username });
    expect(sessions.isLive(user!.sessionId, alice.did)).toBe(true);
  });

  it('a revoked session is signed out at once, though its JWT has not expired', async () => {
    const token = await createSessionToken(deps, alice, null);
    const user = await readSessionToken(deps, token);
    sessions.revoke(user!.sessionId);
    expect(await readSessionToken(deps, token)).toBeUndefined();
  });

  it('revoking all sessions of a user signs out every browser of that user only', async () => {
    const a1 = await createSessionToken(deps, alice, null);
    const a2 = await createSessionToken(deps, alice, null);
    const b1 = await createSessionToken(deps, bob, null);
    expect(sessions.revokeAllForUser(alice.did)).toBeGreaterThanOrEqual(2);
    expect(await readSessionToken(deps, a1)).toBeUndefined();
    expect(await readSessionToken(deps, a2)).toBeUndefined();
    expect(await readSessionToken(deps, b1)).toMatchObject({ did: bob.did });
  });

  it("a session id cannot be reused under another user's DID", async () => {
    const bobUser = await readSessionToken(deps, await createSessionToken(deps, bob, null));
    const forged = await craft(keys, { sid: bobUser!.sessionId });
    expect(await readSessionToken(deps, forged)).toBeUndefined();
  });

  it('an unknown session id is refused', async () => {
    expect(await readSessionToken(deps, await craft(keys, { sid: 'no-such-session' }))).toBeUndefined();
  });
});

describe('anything but a valid platform-signed session JWT is refused', () => {
  let sid: string;
  beforeAll(async () => {
    sid = (await readSessionToken(deps, await createSessionToken(deps, alice, null)))!.sessionId;
  });

  it('a well-formed control token is accepted (so the refusals below are about one thing each)', async () => {
    expect(await readSessionToken(deps, await craft(keys, { sid }))).toMatchObject({ did: alice.did });
  });

  it('refuses a token signed by another key', async () => {
    expect(await readSessionToken(deps, await craft(otherKeys, { sid }))).toBeUndefined();
  });

  it('refuses a tampered payload', async () => {
    const [header, , signature] = (await craft(keys, { sid })).split('.');
    const payload = Buffer.from(JSON.stringify({ sub: bob.did, sid, handle: 'x', username: 'x' })).toString('base64url');
    expect(await readSessionToken(deps, `${header}.${payload}.${signature}`)).toBeUndefined();
  });

  it('refuses an unsigned (alg none) token', async () => {
    const token = new jose.UnsecuredJWT({ sid, handle: alice.handle, username: alice.username })
      .setIssuer(config.publicUrl)
      .setAudience(config.publicUrl)
      .setSubject(alice.did)
      .setExpirationTime('1h')
      .encode();
    expect(await readSessionToken(deps, token)).toBeUndefined();
  });

  it('refuses an expired token', async () => {
    const expired = await craft(keys, { sid }, (j) => j.setIssuedAt(Math.floor(Date.now() / 1000) - 7200).setExpirationTime(Math.floor(Date.now() / 1000) - 3600));
    expect(await readSessionToken(deps, expired)).toBeUndefined();
  });

  it('refuses another issuer or audience', async () => {
    expect(await readSessionToken(deps, await craft(keys, { sid }, (j) => j.setIssuer('https://evil.example')))).toBeUndefined();
    expect(await readSessionToken(deps, await craft(keys, { sid }, (j) => j.setAudience('https://alice.wiki.example/mcp')))).toBeUndefined();
  });

  it('refuses a platform JWT of another type (e.g. an access token)', async () => {
    const key = keys.current;
    const accessToken = await new jose.SignJWT({ sid, handle: alice.handle, username: alice.username })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(config.publicUrl)
      .setAudience(config.publicUrl)
      .setSubject(alice.did)
      .setExpirationTime('1h')
      .sign(key.privateKey);
    expect(await readSessionToken(deps, accessToken)).toBeUndefined();
  });

  it('refuses missing claims and non-string or oversized input', async () => {
    expect(await readSessionToken(deps, await craft(keys, { sid, username: 42 }))).toBeUndefined();
    expect(await readSessionToken(deps, await craft(keys, {}))).toBeUndefined();
    for (const value of [undefined, '', 'not.a.jwt', 42, ['x'], 'a'.repeat(5000)]) {
      expect(await readSessionToken(deps, value)).toBeUndefined();
    }
  });
});

describe('cookie attributes', () => {
  it('development: HttpOnly, SameSite=Lax, Path=/, not Secure, host-only', () => {
    expect(sessionCookieOptions(config)).toEqual({ httpOnly: true, secure: false, sameSite: 'lax', path: '/' });
  });

  it('production: Secure, and shared with the wiki hosts only when COOKIE_DOMAIN says so', () => {
    const prod = { PUBLIC_URL: 'https://wiki.example', PLATFORM_KEYS_FILE: 'p.json', ATPROTO_CLIENT_KEYS_FILE: 'a.json' };
    expect(sessionCookieOptions(parseConfig(prod))).toEqual({ httpOnly: true, secure: true, sameSite: 'lax', path: '/' });
    expect(sessionCookieOptions(parseConfig({ ...prod, COOKIE_DOMAIN: 'wiki.example' }))).toMatchObject({ secure: true, domain: 'wiki.example' });
  });
});
