// What people deleted from their account page (issue 14), for the operator: a wiki's content lives
// in the wiki app, which this service does not call, so the operator removes it from these lists
// (`admin wikis deleted`, `admin users deleted`). Rows are kept until the operator prunes them.
import type { Db } from '../db/open.ts';

export interface DeletedWiki {
  slug: string;
  ownerUsername: string;
  ownerDid: string;
  reason: 'owner' | 'account_deleted';
  grantsRevoked: number;
  createdAt: number;
  deletedAt: number;
}

export interface DeletedUser {
  username: string;
  did: string;
  wikis: string;
  grantsRevoked: number;
  sessionsRevoked: number;
  pdsRevoked: boolean;
  createdAt: number;
  deletedAt: number;
}

export function listDeletedWikis(db: Db): DeletedWiki[] {
  return db
    .prepare<[], { slug: string; owner_username: string; owner_did: string; reason: 'owner' | 'account_deleted'; grants_revoked: number; created_at: number; deleted_at: number }>(
      'SELECT * FROM deleted_wikis ORDER BY deleted_at DESC, slug',
    )
    .all()
    .map((r) => ({
      slug: r.slug,
      ownerUsername: r.owner_username,
      ownerDid: r.owner_did,
      reason: r.reason,
      grantsRevoked: r.grants_revoked,
      createdAt: r.created_at,
      deletedAt: r.deleted_at,
    }));
}

export function listDeletedUsers(db: Db): DeletedUser[] {
  return db
    .prepare<[], { username: string; did: string; wikis: string; grants_revoked: number; sessions_revoked: number; pds_revoked: number; created_at: number; deleted_at: number }>(
      'SELECT * FROM deleted_users ORDER BY deleted_at DESC, username',
    )
    .all()
    .map((r) => ({
      username: r.username,
      did: r.did,
      wikis: r.wikis,
      grantsRevoked: r.grants_revoked,
      sessionsRevoked: r.sessions_revoked,
      pdsRevoked: r.pds_revoked === 1,
      createdAt: r.created_at,
      deletedAt: r.deleted_at,
    }));
}
