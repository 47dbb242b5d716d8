// The apex session: the host-only cookie (src/accounts/cookies.ts) carries a random secret; the
// sessions row is keyed by its SHA-256, so the database never holds a usable secret, and the row is
// what makes the session live (revocation is immediate). Only the apex reads it; wikis get the
// identity token instead (src/accounts/identity-token.ts), which can never act here.
import type { Config } from '../config/env.ts';
import { randomToken, sha256Hex } from '../lib/secrets.ts';
import type { SessionsRepo } from './sessions.repo.ts';
import type { User, UsersRepo } from './users.repo.ts';
import { sessionLifetime } from '../lifetimes.ts';

export interface SignedInUser {
  did: string;
  handle: string;
  username: string;
  /** The sessions row id (the SHA-256 of the cookie's secret). */
  sessionId: string;
}

/** Creates a session row and returns the secret for the cookie (only its hash is stored). */
export function createSession(
  deps: { config: Pick<Config, 'sessionTtlSeconds'>; sessions: SessionsRepo },
  user: Pick<User, 'did'>,
  userAgent: string | null,
): string {
  const secret = randomToken(32);
  deps.sessions.insert(sha256Hex(secret), user.did, sessionLifetime(deps.config), userAgent);
  return secret;
}

/** The signed-in user named by a cookie value, or undefined when it is unknown, expired or revoked. */
export function readSession(deps: { sessions: SessionsRepo; users: UsersRepo }, secret: unknown): SignedInUser | undefined {
  if (typeof secret !== 'string' || secret.length === 0 || secret.length > 256) return undefined;
  const sessionId = sha256Hex(secret);
  const did = deps.sessions.liveDid(sessionId);
  if (did !== undefined) deps.sessions.touch(sessionId);
  const user = did === undefined ? undefined : deps.users.findByDid(did);
  return user && { did: user.did, handle: user.handle, username: user.username, sessionId };
}
