// Access tokens revoked one by one (RFC 7009). Rows live until the token would have expired.
import type { Db } from '../../db/open.ts';

export type RevokedAccessTokensRepo = ReturnType<typeof createRevokedAccessTokensRepo>;

export function createRevokedAccessTokensRepo(db: Db) {
  const add = db.prepare<[string, number]>('INSERT OR IGNORE INTO revoked_access_tokens (jti, expires_at) VALUES (?, ?)');
  const has = db.prepare<[string], { jti: string }>('SELECT jti FROM revoked_access_tokens WHERE jti = ?');
  return {
    add(jti: string, expiresAt: number): void {
      add.run(jti, expiresAt);
    },
    isRevoked(jti: string): boolean {
      return has.get(jti) !== undefined;
    },
  };
}
