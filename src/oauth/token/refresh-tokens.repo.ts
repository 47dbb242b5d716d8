// Refresh tokens: opaque, stored hashed, one family per grant, rotated on every use.
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';

export interface RefreshToken {
  hash: string;
  grantId: string;
  expiresAt: number;
  rotatedAt: number | null;
}

export type RefreshTokensRepo = ReturnType<typeof createRefreshTokensRepo>;

export function createRefreshTokensRepo(db: Db) {
  const insert = db.prepare<[string, string, number, number]>(
    'INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const byHash = db.prepare<[string], { hash: string; grant_id: string; expires_at: number; rotated_at: number | null }>(
    'SELECT hash, grant_id, expires_at, rotated_at FROM refresh_tokens WHERE hash = ?',
  );
  const rotate = db.prepare<[number, string]>('UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL');
  return {
    /** Returns the token's value; only its hash is stored. */
    insert(grantId: string, ttlSeconds: number): string {
      const value = randomToken(32);
      const now = nowSeconds();
      insert.run(sha256Hex(value), grantId, now, now + ttlSeconds);
      return value;
    },
    findByValue(value: string): RefreshToken | undefined {
      const row = byHash.get(sha256Hex(value));
      return row && { hash: row.hash, grantId: row.grant_id, expiresAt: row.expires_at, rotatedAt: row.rotated_at };
    },
    /** Marks the token as succeeded; false when it already was (compare-and-swap). */
    markRotated(hash: string): boolean {
      return rotate.run(nowSeconds(), hash).changes === 1;
    },
  };
}
