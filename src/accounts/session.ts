// The apex session: the host-only cookie (src/accounts/cookies.ts) carries a random secret; the
// sessions row is keyed by its SHA-256, so the database never holds a usable secret, and the row is
// what makes the session live (revocation is immediate). Only the apex reads it; wikis get the
// identity token instead (src/accounts/identity-token.ts), which can never act here.
// Every page request reads the session (current-user.ts): each step is one statement on the store
// (src/storage/store.ts), never a transaction: the live check, the last-seen touch (written only
// when a minute old) and the user row.
import type { Config } from '../config/env.ts';
import { randomToken, sha256Hex } from '../lib/secrets.ts';
import type { Store } from '../storage/store.ts';
import { sessionLifetime } from '../lifetimes.ts';
import type { User } from './users.repo.ts';

export interface SignedInUser {
  did: string;
  handle: string;
  username: string;
  /** The sessions row id (the SHA-256 of the cookie's secret). */
  sessionId: string;
}

/** Creates a session row and returns the secret for the cookie (only its hash is stored). */
export async function createSession(
  deps: { config: Pick<Config, 'sessionTtlSeconds'>; store: Pick<Store, 'repos'> },
  user: Pick<User, 'did'>,
  userAgent: string | null,
): Promise<string> {
  const secret = randomToken(32);
  await deps.store.repos.sessions.insert(sha256Hex(secret), user.did, sessionLifetime(deps.config), userAgent);
  return secret;
}

/** The signed-in user named by a cookie value, or undefined when it is unknown, expired or revoked. */
export async function readSession(deps: { store: Pick<Store, 'repos'> }, secret: unknown): Promise<SignedInUser | undefined> {
  if (typeof secret !== 'string' || secret.length === 0 || secret.length > 256) return undefined;
  const { sessions, users } = deps.store.repos;
  const sessionId = sha256Hex(secret);
  const did = await sessions.liveDid(sessionId);
  if (did === undefined) return undefined;
  await sessions.touch(sessionId);
  const user = await users.findByDid(did);
  return user && { did: user.did, handle: user.handle, username: user.username, sessionId };
}
