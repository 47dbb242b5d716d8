// Users as the operator sees them: who they are, how much they use, and the two revocations
// (browser sessions, OAuth grants) that take effect at once.
import { createSessionsRepo } from '../accounts/sessions.repo.ts';
import { createUsersRepo, type User } from '../accounts/users.repo.ts';
import { nowSeconds, type Db } from '../db/open.ts';
import { createGrantsRepo } from '../oauth/grants/grants.repo.ts';
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

interface UserSummaryRow {
  username: string;
  did: string;
  handle: string;
  display_name: string | null;
  wikis: number;
  live_sessions: number;
  live_grants: number;
  created_at: number;
  last_login_at: number;
}

export function listUsers(db: Db, now = nowSeconds()): UserSummary[] {
  const rows = db
    .prepare<[{ now: number }], UserSummaryRow>(
      `SELECT u.username, u.did, u.handle, u.display_name, u.created_at, u.last_login_at,
         (SELECT count(*) FROM wikis w WHERE w.owner_did = u.did) AS wikis,
         (SELECT count(*) FROM sessions s WHERE s.did = u.did AND s.revoked_at IS NULL AND s.expires_at > @now) AS live_sessions,
         (SELECT count(*) FROM oauth_grants g WHERE g.user_did = u.did AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
       FROM users u ORDER BY u.username`,
    )
    .all({ now });
  return rows.map((r) => ({
    username: r.username,
    did: r.did,
    handle: r.handle,
    displayName: r.display_name,
    wikis: r.wikis,
    liveSessions: r.live_sessions,
    liveGrants: r.live_grants,
    createdAt: r.created_at,
    lastLoginAt: r.last_login_at,
  }));
}

/** A user named by DID (`did:…`) or by username (any case). */
export function findUser(db: Db, ref: string): User {
  const users = createUsersRepo(db);
  const name = ref.trim();
  const user = name.startsWith('did:') ? users.findByDid(name) : users.findByUsername(name.toLowerCase());
  if (!user) throw new AdminError(`No user ${JSON.stringify(name)} (give a DID or a username; see \`users list\`).`);
  return user;
}

export interface Revocation {
  user: User;
  revoked: number;
}

/** Signs the user out everywhere: every live browser session row is revoked (the cookie stops working). */
export function revokeSessions(db: Db, ref: string): Revocation {
  const user = findUser(db, ref);
  return { user, revoked: createSessionsRepo(db).revokeAllForUser(user.did) };
}

/**
 * Disconnects every app of the user: each live grant is revoked and its refresh tokens deleted; the
 * resource refuses the grant's access tokens from the next request on.
 */
export function revokeGrants(db: Db, ref: string): Revocation {
  const user = findUser(db, ref);
  return { user, revoked: createGrantsRepo(db).revokeAllForUser(user.did) };
}
