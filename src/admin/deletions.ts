// What people deleted from their account page (issue 14), for the operator: a wiki's content lives
// in the wiki app, which this service does not call, so the operator removes it from these lists
// (`admin wikis deleted`, `admin users deleted`). Rows are kept until the operator prunes them.
// Storage: the Store's `operator` listings (src/admin/database.ts opens it).
import type { Store } from '../storage/store.ts';

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

export function listDeletedWikis(store: Pick<Store, 'repos'>): Promise<DeletedWiki[]> {
  return store.repos.operator.listDeletedWikis();
}

export function listDeletedUsers(store: Pick<Store, 'repos'>): Promise<DeletedUser[]> {
  return store.repos.operator.listDeletedUsers();
}
