// Validated /authorize requests waiting for the person to sign in and decide. The id travels in
// the consent URL; only its hash is stored. Consuming one is single-use (DELETE as compare-and-swap).
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import type { WikiScope } from '../scopes.ts';
import { AUTHORIZATION_REQUEST_TTL_SECONDS } from '../../lifetimes.ts';

export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  redirectUriSent: boolean;
  state: string | undefined;
  codeChallenge: string;
  scopes: WikiScope[];
  /** The wiki named by `resource`, or undefined when the person picks one on the consent page. */
  wikiSlug: string | undefined;
}

export type AuthorizationRequestsRepo = ReturnType<typeof createAuthorizationRequestsRepo>;

export function createAuthorizationRequestsRepo(db: Db) {
  const insert = db.prepare<[string, string, string, number, number]>(
    'INSERT INTO authorization_requests (id_hash, client_id, params, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
  );
  const find = db.prepare<[string, number], { params: string }>(
    'SELECT params FROM authorization_requests WHERE id_hash = ? AND expires_at > ?',
  );
  const remove = db.prepare<[string]>('DELETE FROM authorization_requests WHERE id_hash = ?');
  return {
    /** Stores the request; returns its id (for the consent URL). */
    insert(request: PendingAuthorization): string {
      const id = randomToken(24);
      const now = nowSeconds();
      insert.run(sha256Hex(id), request.clientId, JSON.stringify(request), now, now + AUTHORIZATION_REQUEST_TTL_SECONDS);
      return id;
    },
    find(id: string): PendingAuthorization | undefined {
      const row = find.get(sha256Hex(id), nowSeconds());
      return row && (JSON.parse(row.params) as PendingAuthorization);
    },
    /** Takes the request out; only the first caller gets it. */
    consume(id: string): PendingAuthorization | undefined {
      const hash = sha256Hex(id);
      return db.transaction(() => {
        const row = find.get(hash, nowSeconds());
        if (!row || remove.run(hash).changes !== 1) return undefined;
        return JSON.parse(row.params) as PendingAuthorization;
      }).immediate();
    },
  };
}
