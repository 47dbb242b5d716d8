// Users as the operator sees them: who they are, how much they use, and the two revocations
// (browser sessions, OAuth grants) that take effect at once. Storage: the Store the CLI opened
// (SQLite or PostgreSQL, src/admin/database.ts); the listing is `operator.listUsers`.
import type { User } from '../accounts/users.repo.ts';
import type { Repositories, Store } from '../storage/store.ts';
import { AdminError } from './errors.ts';

export interface UserSummary {
  username: string;
  did: string;
  handle: string;
  displayName: string | null;
  wikis: number;
  liveSessions: number;
  liveGrants: number;
  createdAt: number;
  lastLoginAt: number;
}

export function listUsers(store: Pick<Store, 'repos'>, now?: number): Promise<UserSummary[]> {
  return store.repos.operator.listUsers(now);
}

/** A user named by DID (`did:…`) or by username (any case). */
export async function findUser(repos: Pick<Repositories, 'users'>, ref: string): Promise<User> {
  const name = ref.trim();
  const user = name.startsWith('did:') ? await repos.users.findByDid(name) : await repos.users.findByUsername(name.toLowerCase());
  if (!user) throw new AdminError(`No user ${JSON.stringify(name)} (give a DID or a username; see \`users list\`).`);
  return user;
}

export interface Revocation {
  user: User;
  revoked: number;
}

/** Signs the user out everywhere: every live browser session row is revoked (the cookie stops working). */
export async function revokeSessions(store: Pick<Store, 'repos'>, ref: string): Promise<Revocation> {
  const user = await findUser(store.repos, ref);
  return { user, revoked: await store.repos.sessions.revokeAllForUser(user.did) };
}

/**
 * Disconnects every app of the user: each live grant is revoked and its refresh tokens deleted; the
 * resource refuses the grant's access tokens from the next request on.
 */
export async function revokeGrants(store: Pick<Store, 'repos'>, ref: string): Promise<Revocation> {
  const user = await findUser(store.repos, ref);
  return { user, revoked: await store.repos.grants.revokeAllForUser(user.did) };
}
