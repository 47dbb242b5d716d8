// Apex sessions. `id` is the SHA-256 of the cookie's secret (src/accounts/session.ts), never the secret.
import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';

export type SessionsRepo = ReturnType<typeof createSessionsRepo>;

export function createSessionsRepo(db: Db) {
  const insert = db.prepare<[string, string, number, number, string | null]>(
    'INSERT INTO sessions (id, did, created_at, expires_at, user_agent) VALUES (?, ?, ?, ?, ?)',
  );
  const live = db.prepare<[string, string, number], { id: string }>(
    'SELECT id FROM sessions WHERE id = ? AND did = ? AND revoked_at IS NULL AND expires_at > ?',
  );
  const liveById = db.prepare<[string, number], { did: string }>(
    'SELECT did FROM sessions WHERE id = ? AND revoked_at IS NULL AND expires_at > ?',
  );
  const revoke = db.prepare<[number, string]>('UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const revokeAll = db.prepare<[number, string]>('UPDATE sessions SET revoked_at = ? WHERE did = ? AND revoked_at IS NULL');
  return {
    insert(id: string, did: string, ttlSeconds: number, userAgent: string | null): void {
      const now = nowSeconds();
      insert.run(id, did, now, now + ttlSeconds, userAgent?.slice(0, 300) ?? null);
    },
    isLive(id: string, did: string): boolean {
      return live.get(id, did, nowSeconds()) !== undefined;
    },
    /** The DID of a live session, or undefined when unknown, expired or revoked. */
    liveDid(id: string): string | undefined {
      return liveById.get(id, nowSeconds())?.did;
    },
    revoke(id: string): void {
      revoke.run(nowSeconds(), id);
    },
    revokeAllForUser(did: string): number {
      return revokeAll.run(nowSeconds(), did).changes;
    },
  };
}
