// Refresh tokens: opaque, stored hashed, one family per grant. The rules for when a token may be
// used, rotated or counts as a replay live in refresh-rotation.ts; this file only reads and writes rows.
import type { Db } from '../../db/open.ts';
import { nowSeconds } from '../../db/open.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { TIME_PREFIX_LENGTH, timePrefix } from '../../lib/time-ordered.ts';

export interface RefreshToken {
  hash: string;
  grantId: string;
  expiresAt: number;
  rotatedAt: number | null;
  /** The hash of the one token issued in its place (set at rotation). */
  successorHash: string | null;
  /** That successor's value, sealed, on rows rotated before successors were derived (refresh-successor.ts); only during the grace window. */
  successorSealed: string | null;
}

/** The stored row, and its mapping; both stores read it (src/storage/postgres/repositories.ts too). */
export interface RefreshTokenRow {
  hash: string;
  grant_id: string;
  expires_at: number;
  rotated_at: number | null;
  successor_hash: string | null;
  successor_sealed: string | null;
}

export const toRefreshToken = (r: RefreshTokenRow): RefreshToken => ({
  hash: r.hash,
  grantId: r.grant_id,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
  successorHash: r.successor_hash,
  successorSealed: r.successor_sealed,
});

/**
 * A new refresh token's value: its creation time (src/lib/time-ordered.ts), then 256 random bits
 * (base64url, 43 characters).
 */
export function newRefreshTokenValue(now: number = Date.now()): string {
  return timePrefix(now) + randomToken(32);
}

/** A value in the time-ordered form: 12 lowercase hex digits, then 43 base64url characters. Linear. */
const TIME_ORDERED_VALUE = /^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/;

/**
 * The stored form of a refresh token, its primary key: the SHA-256 of the value, behind the value's
 * time prefix when it has one, so that tokens issued close together have keys next to each other
 * (an issuance writes the right edge of the primary-key index instead of a random leaf: round 9 of
 * docs/benchmarks.md). Tokens issued before the time-ordered form are stored under the bare hash,
 * and any other string the same way (it finds nothing).
 */
export const refreshTokenHash = (value: string): string =>
  TIME_ORDERED_VALUE.test(value) ? value.slice(0, TIME_PREFIX_LENGTH) + sha256Hex(value) : sha256Hex(value);

export type RefreshTokensRepo = ReturnType<typeof createRefreshTokensRepo>;

export function createRefreshTokensRepo(db: Db) {
  const insert = db.prepare<[string, string, number, number]>(
    'INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const byHash = db.prepare<[string], RefreshTokenRow>(
    'SELECT hash, grant_id, expires_at, rotated_at, successor_hash, successor_sealed FROM refresh_tokens WHERE hash = ?',
  );
  const rotate = db.prepare<[number, string, string]>(
    'UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? WHERE hash = ? AND rotated_at IS NULL',
  );
  // Maintenance runs this every 10 minutes (refresh-rotation.ts rule 3; rotations ran it too before
  // successors were derived), so it must read the sealed rows only
  // (refresh_tokens_sealed: the last REFRESH_GRACE_SECONDS of rotations). Left to itself, SQLite's
  // planner picked refresh_tokens_rotated (migration 015, every token rotated in the last week) for
  // `rotated_at <= ?` and looked at each of them: a cost per refresh that grew with a week of
  // rotations (docs/benchmarks.md, round 7). INDEXED BY also makes the statement fail, not slow
  // down, if the index is ever missing.
  const dropSealed = db.prepare<[number]>(
    'UPDATE refresh_tokens INDEXED BY refresh_tokens_sealed SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND rotated_at <= ?',
  );
  /** Stores a token: a new random one, or `value` (a rotation's successor, refresh-successor.ts). */
  function issue(grantId: string, ttlSeconds: number, value: string = newRefreshTokenValue()): { value: string; hash: string } {
    const hash = refreshTokenHash(value);
    const now = nowSeconds();
    insert.run(hash, grantId, now, now + ttlSeconds);
    return { value, hash };
  }
  return {
    /** Returns the token's value; only its hash (refreshTokenHash) is stored. */
    insert(grantId: string, ttlSeconds: number): string {
      return issue(grantId, ttlSeconds).value;
    },
    /** insert, also returning the stored hash (rotation records it as the successor's). */
    issue,
    findByValue(value: string): RefreshToken | undefined {
      const row = byHash.get(refreshTokenHash(value));
      return row && toRefreshToken(row);
    },
    findByHash(hash: string): RefreshToken | undefined {
      const row = byHash.get(hash);
      return row && toRefreshToken(row);
    },
    /** Records the token's one successor; false when it already had one (compare-and-swap). */
    markRotated(hash: string, successorHash: string): boolean {
      return rotate.run(nowSeconds(), successorHash, hash).changes === 1;
    },
    /** Drops every sealed successor of a token rotated at or before `rotatedBefore`; returns how many. */
    dropSealedSuccessors(rotatedBefore: number): number {
      return dropSealed.run(rotatedBefore).changes;
    },
  };
}
