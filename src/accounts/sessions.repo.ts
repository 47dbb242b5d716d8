// Apex sessions. `id` is the SHA-256 of the cookie's secret (src/accounts/session.ts), never the secret.
// The account page names a session by `sessionHandle(id)` (a hash of the id), so no page or form
// ever carries the row id itself; last_seen_at is written at most once a minute per session.
import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';
import { sha256Hex } from '../lib/secrets.ts';
import { LAST_SEEN_RESOLUTION_SECONDS } from '../lifetimes.ts';

/** last_seen_at is refreshed when it is older than this (one write a minute at most per session). */

/** The public name of a session on the account page and in its forms. */
export function sessionHandle(id: string): string {
  return sha256Hex(`session-handle:${id}`).slice(0, 32);
}

export interface LiveSession {
  id: string;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
}

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
  const revokeOthers = db.prepare<[number, string, string]>('UPDATE sessions SET revoked_at = ? WHERE did = ? AND id <> ? AND revoked_at IS NULL');
  const touch = db.prepare<[number, string, number]>('UPDATE sessions SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)');
  const listLive = db.prepare<[string, number], { id: string; created_at: number; last_seen_at: number | null; expires_at: number; user_agent: string | null }>(
    'SELECT id, created_at, last_seen_at, expires_at, user_agent FROM sessions WHERE did = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY coalesce(last_seen_at, created_at) DESC',
  );
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
    /** "Sign out everywhere else": every live session of the user but `keepId`. */
    revokeOthersForUser(did: string, keepId: string): number {
      return revokeOthers.run(nowSeconds(), did, keepId).changes;
    },
    /** "Sign out this one": the user's live session named by its handle; false when there is none. */
    revokeByHandleForUser(did: string, handle: string): boolean {
      const session = this.listLive(did).find((s) => sessionHandle(s.id) === handle);
      if (!session) return false;
      return revoke.run(nowSeconds(), session.id).changes === 1;
    },
    listLive(did: string): LiveSession[] {
      return listLive.all(did, nowSeconds()).map((r) => ({
        id: r.id,
        createdAt: r.created_at,
        lastSeenAt: r.last_seen_at ?? r.created_at,
        expiresAt: r.expires_at,
        userAgent: r.user_agent,
      }));
    },
    /** Records that the session was used now (written only when the stored time is a minute old). */
    touch(id: string): void {
      const now = nowSeconds();
      touch.run(now, id, now - LAST_SEEN_RESOLUTION_SECONDS);
    },
  };
}
