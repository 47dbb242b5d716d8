// Grants: one user × one client × one wiki, with the scopes the user approved. The grant is the
// unit of revocation; refresh tokens hang off it (ON DELETE CASCADE) and access tokens name it.
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import type { ClientMetadata } from '../clients/client.ts';

export interface Grant {
  id: string;
  clientId: string;
  userDid: string;
  wikiSlug: string;
  resource: string;
  scope: string;
  createdAt: number;
  lastUsedAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

/** A live grant joined with what the resource needs to answer "who is calling". */
export interface LiveGrant extends Grant {
  handle: string;
}

/** The stored row, and its mapping; both stores read it (src/storage/postgres/repositories.ts too). */
export interface GrantRow {
  id: string;
  client_id: string;
  user_did: string;
  wiki_slug: string;
  resource: string;
  scope: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  revoked_at: number | null;
}

export const toGrant = (r: GrantRow): Grant => ({
  id: r.id,
  clientId: r.client_id,
  userDid: r.user_did,
  wikiSlug: r.wiki_slug,
  resource: r.resource,
  scope: r.scope,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

export interface ConnectedApp extends Grant {
  clientName: string | null;
  clientKind: 'registered' | 'metadata_document';
  /** The client's stored metadata, for describeClientIdentity (authorize/client-identity.ts). */
  clientMetadata: ClientMetadata;
}

/** What the bearer check reads of a live grant (src/resource/check-bearer.ts). */
export type BearerGrant = Pick<LiveGrant, 'id' | 'clientId' | 'userDid' | 'resource' | 'scope' | 'lastUsedAt' | 'expiresAt' | 'handle'>;

/**
 * What the resource's bearer check needs to know after the token's signature, in one read
 * (src/resource/check-bearer.ts): whether the wiki exists, the token's grant if it is live and on
 * this wiki, and whether the token's jti was revoked on its own (RFC 7009).
 */
export type BearerLookup =
  | { wiki: 'missing' }
  | {
      wiki: 'found';
      /** The wiki's slug as stored. */
      wikiSlug: string;
      /** Undefined when the grant is unknown, revoked, expired, on another wiki or its user is gone. */
      grant: BearerGrant | undefined;
      jtiRevoked: boolean;
    };

/**
 * The bearer check's one statement (parameters: jti, grant id, now, slug). Each table is read by its
 * primary key (test/oauth/grants/lookup-bearer.test.ts checks the plan): the wiki, the grant if it
 * is live and on this wiki (`w.slug` first so the comparison is NOCASE), its user, and the jti in the
 * revocation list. No wiki row: no result row. Read as an array (`raw`), in this column order.
 */
export const BEARER_LOOKUP_SQL = `SELECT w.slug,
       EXISTS (SELECT 1 FROM revoked_access_tokens r WHERE r.jti = ?),
       g.id, g.client_id, g.user_did, g.resource, g.scope, g.last_used_at, g.expires_at, u.handle
FROM wikis w
LEFT JOIN oauth_grants g ON g.id = ? AND w.slug = g.wiki_slug AND g.revoked_at IS NULL AND g.expires_at > ?
LEFT JOIN users u ON u.did = g.user_did
WHERE w.slug = ?`;

/** A row of BEARER_LOOKUP_SQL; the grant's columns are null when no live grant matched. */
export type BearerRow = [
  wikiSlug: string,
  jtiRevoked: 0 | 1 | boolean,
  id: string | null,
  clientId: string | null,
  userDid: string | null,
  resource: string | null,
  scope: string | null,
  lastUsedAt: number | null,
  expiresAt: number | null,
  handle: string | null,
];

/** BEARER_LOOKUP_SQL's row as the bearer check reads it (both stores). */
export function toBearerLookup(row: BearerRow | undefined): BearerLookup {
  if (!row) return { wiki: 'missing' };
  const [wikiSlug, jtiRevoked, id, clientId, userDid, resource, scope, lastUsedAt, expiresAt, handle] = row;
  const grant =
    id === null || clientId === null || userDid === null || resource === null || scope === null || lastUsedAt === null || expiresAt === null || handle === null
      ? undefined
      : { id, clientId, userDid, resource, scope, lastUsedAt, expiresAt, handle };
  return { wiki: 'found', wikiSlug, grant, jtiRevoked: jtiRevoked === 1 || jtiRevoked === true };
}

export type GrantsRepo = ReturnType<typeof createGrantsRepo>;

export function createGrantsRepo(db: Db) {
  const insert = db.prepare<[string, string, string, string, string, string, number, number, number]>(
    `INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const byId = db.prepare<[string], GrantRow>('SELECT * FROM oauth_grants WHERE id = ?');
  const live = db.prepare<[string, number], GrantRow & { handle: string }>(
    `SELECT g.*, u.handle FROM oauth_grants g JOIN users u ON u.did = g.user_did
     WHERE g.id = ? AND g.revoked_at IS NULL AND g.expires_at > ?`,
  );
  const bearer = db.prepare<[string, string, number, string], BearerRow>(BEARER_LOOKUP_SQL).raw(true);
  const revoke = db.prepare<[number, string]>('UPDATE oauth_grants SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const deleteRefresh = db.prepare<[string]>('DELETE FROM refresh_tokens WHERE grant_id = ?');
  const touch = db.prepare<[number, string]>('UPDATE oauth_grants SET last_used_at = ? WHERE id = ?');
  const extend = db.prepare<[number, number, string]>('UPDATE oauth_grants SET expires_at = max(expires_at, ?), last_used_at = ? WHERE id = ?');
  const listForUser = db.prepare<[string, number], GrantRow & { client_metadata: string; client_kind: 'registered' | 'metadata_document' }>(
    `SELECT g.*, c.metadata AS client_metadata, c.kind AS client_kind
     FROM oauth_grants g JOIN oauth_clients c ON c.client_id = g.client_id
     WHERE g.user_did = ? AND g.revoked_at IS NULL AND g.expires_at > ?
     ORDER BY g.created_at DESC`,
  );
  const liveIdsForUser = db.prepare<[string], { id: string }>('SELECT id FROM oauth_grants WHERE user_did = ? AND revoked_at IS NULL');

  const revokeGrant = db.transaction((id: string): boolean => {
    const changed = revoke.run(nowSeconds(), id).changes === 1;
    deleteRefresh.run(id);
    return changed;
  });

  return {
    insert(grant: Omit<Grant, 'createdAt' | 'lastUsedAt' | 'revokedAt'>): void {
      const now = nowSeconds();
      insert.run(grant.id, grant.clientId, grant.userDid, grant.wikiSlug, grant.resource, grant.scope, now, now, grant.expiresAt);
    },
    findById(id: string): Grant | undefined {
      const row = byId.get(id);
      return row && toGrant(row);
    },
    /** The grant if it is neither revoked nor expired. */
    findLive(id: string): LiveGrant | undefined {
      const row = live.get(id, nowSeconds());
      return row && { ...toGrant(row), handle: row.handle };
    },
    /** The bearer check's one read: the wiki named by `slug`, the live grant `grantId` on it, and whether `jti` is revoked. */
    lookupBearer(slug: string, grantId: string, jti: string): BearerLookup {
      return toBearerLookup(bearer.get(jti, grantId, nowSeconds(), slug));
    },
    /** Revokes the grant and deletes its refresh tokens; true if it was live. */
    revoke(id: string): boolean {
      return revokeGrant(id);
    },
    touch(id: string, now = nowSeconds()): void {
      touch.run(now, id);
    },
    /** Keeps a grant alive as long as its newest refresh token (sliding expiry). */
    extend(id: string, expiresAt: number): void {
      extend.run(expiresAt, nowSeconds(), id);
    },
    listConnectedApps(userDid: string): ConnectedApp[] {
      return listForUser.all(userDid, nowSeconds()).map((r) => {
        const metadata = JSON.parse(r.client_metadata) as ClientMetadata;
        return { ...toGrant(r), clientName: metadata.client_name ?? null, clientKind: r.client_kind, clientMetadata: metadata };
      });
    },
    /** Revokes one of the user's grants; false when it is not theirs or already revoked. */
    revokeForUser(id: string, userDid: string): boolean {
      const grant = byId.get(id);
      if (!grant || grant.user_did !== userDid) return false;
      return revokeGrant(id);
    },
    revokeAllForUser(userDid: string): number {
      return liveIdsForUser.all(userDid).filter((r) => revokeGrant(r.id)).length;
    },
  };
}
