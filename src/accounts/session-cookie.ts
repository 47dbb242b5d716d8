// The browser session: cookie `platform_token`, a JWT signed with the platform key, naming a
// sessions row. The JWT lets wiki hosts (behind COOKIE_DOMAIN) read who is signed in; the row lets
// us revoke a session at once, before the JWT expires.
import type { CookieOptions } from 'express';
import * as jose from 'jose';
import type { Config } from '../config/env.ts';
import type { PlatformKeys } from '../config/keys.ts';
import { randomToken } from '../lib/secrets.ts';
import type { SessionsRepo } from './sessions.repo.ts';
import type { User } from './users.repo.ts';

export const SESSION_COOKIE = 'platform_token';
const SESSION_TYP = 'session+jwt';

export interface SignedInUser {
  did: string;
  handle: string;
  username: string;
  sessionId: string;
}

export function sessionCookieOptions(config: Config): CookieOptions {
  return {
    httpOnly: true,
    secure: config.production,
    sameSite: 'lax',
    path: '/',
    ...(config.cookieDomain ? { domain: config.cookieDomain } : {}),
  };
}

export async function createSessionToken(
  deps: { config: Config; keys: PlatformKeys; sessions: SessionsRepo },
  user: Pick<User, 'did' | 'handle' | 'username'>,
  userAgent: string | null,
): Promise<string> {
  const sessionId = randomToken(16);
  deps.sessions.insert(sessionId, user.did, deps.config.sessionTtlSeconds, userAgent);
  const key = deps.keys.current;
  return new jose.SignJWT({ handle: user.handle, username: user.username, sid: sessionId })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: SESSION_TYP })
    .setIssuer(deps.config.publicUrl)
    .setAudience(deps.config.publicUrl)
    .setSubject(user.did)
    .setIssuedAt()
    .setExpirationTime(`${deps.config.sessionTtlSeconds}s`)
    .sign(key.privateKey);
}

/** The signed-in user named by a cookie value, or undefined when it is invalid, expired or revoked. */
export async function readSessionToken(
  deps: { config: Config; keys: PlatformKeys; sessions: SessionsRepo },
  token: unknown,
): Promise<SignedInUser | undefined> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 4096) return undefined;
  try {
    const { payload } = await jose.jwtVerify(token, deps.keys.verificationKeySet, {
      issuer: deps.config.publicUrl,
      audience: deps.config.publicUrl,
      typ: SESSION_TYP,
      algorithms: ['RS256'],
    });
    const { sub, sid, handle, username } = payload;
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof handle !== 'string' || typeof username !== 'string') {
      return undefined;
    }
    if (!deps.sessions.isLive(sid, sub)) return undefined;
    return { did: sub, handle, username, sessionId: sid };
  } catch {
    return undefined;
  }
}
