// The SQLite statements of the wikis, reserved names, audit log and operator listings (store.ts's
// WikisRepository, ReservedNamesRepository, AuditRepository and OperatorRepository), moved here
// from the domain files that held them (src/wikis/new-wiki-cap.ts, reserved-names.ts,
// delete-wiki.ts, src/audit/audit-log.ts, src/admin/users.ts, clients.ts, deletions.ts), which now
// go through the Store. The rules stay in those files' opening comments; this file is only SQL.
// Synchronous on purpose: sqlite/repositories.ts wraps them (store.ts rule 3 decides when they run).
import type { AuditEntry, AuditFilter } from '../../audit/audit-log.ts';
import { nowSeconds, type Db } from '../../db/open.ts';
import type { ClientSummary } from '../../admin/clients.ts';
import type { DeletedUser, DeletedWiki } from '../../admin/deletions.ts';
import type { UserSummary } from '../../admin/users.ts';
import { toAuditEntry, toClientSummary, type AuditRow, type ClientSummaryRow } from '../rows.ts';
import { CAP_WINDOW_SECONDS } from '../../wikis/new-wiki-cap.ts';
import { DAY_SECONDS, type Reservation } from '../../wikis/reserved-names.ts';

/** new-wiki-cap.ts rule 1: the cap-th newest wiki of the window; while it is in the window, the window is full. */
export function newWikisPausedUntil(db: Db, newWikisPerDay: number, now = nowSeconds()): number | undefined {
  const row = db
    .prepare<[number, number], { created_at: number }>('SELECT created_at FROM wikis WHERE created_at > ? ORDER BY created_at DESC LIMIT 1 OFFSET ?')
    .get(now - CAP_WINDOW_SECONDS, newWikisPerDay - 1);
  return row === undefined ? undefined : row.created_at + CAP_WINDOW_SECONDS;
}

/** new-wiki-cap.ts rule 4: made by the operator, or among the first `newWikisPerDay` of the 24 hours before it. */
export function createdWithinCap(db: Db, slug: string, newWikisPerDay: number): boolean {
  const row = db
    .prepare<[string], { created_by: string; position: number }>(
      `SELECT w.created_by,
         (SELECT count(*) FROM wikis o
          WHERE o.created_at > w.created_at - ${CAP_WINDOW_SECONDS}
            AND (o.created_at < w.created_at OR (o.created_at = w.created_at AND o.rowid <= w.rowid))) AS position
       FROM wikis w WHERE w.slug = ?`,
    )
    .get(slug);
  return row !== undefined && (row.created_by === 'operator' || row.position <= newWikisPerDay);
}

/** reserved-names.ts: the live reservation of `name`, if any. */
export function reservationOf(db: Db, name: string, now = nowSeconds()): Reservation | undefined {
  const row = db
    .prepare<[string, number], { reserved_until: number; held_for_did: string | null }>(
      'SELECT reserved_until, held_for_did FROM reserved_names WHERE name = ? AND reserved_until > ?',
    )
    .get(name, now);
  return row && { reservedUntil: row.reserved_until, heldForDid: row.held_for_did };
}

/** reserved-names.ts: holds `name` for `days` (nothing when 0), keeping the later end when already held. */
export function reserveName(db: Db, name: string, days: number, reason: 'wiki_deleted' | 'account_deleted', heldForDid: string | null, now = nowSeconds()): void {
  if (days <= 0) return;
  db.prepare<[string, number, string, string | null]>(
    `INSERT INTO reserved_names (name, reserved_until, reason, held_for_did) VALUES (?, ?, ?, ?)
     ON CONFLICT (name) DO UPDATE SET reserved_until = max(reserved_until, excluded.reserved_until),
       reason = excluded.reason, held_for_did = excluded.held_for_did`,
  ).run(name.toLowerCase(), now + days * DAY_SECONDS, reason, heldForDid);
}

/** reserved-names.ts: the name was taken by the person it was held for. */
export function releaseName(db: Db, name: string): void {
  db.prepare<[string]>('DELETE FROM reserved_names WHERE name = ?').run(name);
}

/**
 * delete-wiki.ts rule 2: revokes every live grant of the wiki, records it in deleted_wikis and
 * deletes its row (grants, codes and refresh tokens go with it by ON DELETE CASCADE). In a transaction.
 */
export function removeWikiRow(
  db: Db,
  wiki: { slug: string; ownerDid: string; createdAt: number },
  ownerUsername: string,
  reason: 'owner' | 'account_deleted',
  now = nowSeconds(),
): number {
  const revoked = db
    .prepare<[number, string, number]>('UPDATE oauth_grants SET revoked_at = ? WHERE wiki_slug = ? COLLATE NOCASE AND revoked_at IS NULL AND expires_at > ?')
    .run(now, wiki.slug, now).changes;
  db.prepare<[string]>('DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM oauth_grants WHERE wiki_slug = ? COLLATE NOCASE)').run(wiki.slug);
  db.prepare<[string, string, string, number, number, string, number]>(
    'INSERT INTO deleted_wikis (slug, owner_did, owner_username, created_at, deleted_at, reason, grants_revoked) VALUES (?, ?, ?, ?, ?, ?, ?)',
  ).run(wiki.slug, wiki.ownerDid, ownerUsername, wiki.createdAt, now, reason, revoked);
  db.prepare<[string]>('DELETE FROM wikis WHERE slug = ?').run(wiki.slug);
  return revoked;
}

/** audit-log.ts: newest first. */
export function listAudit(db: Db, filter: AuditFilter = {}): AuditEntry[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  if (filter.did !== undefined) {
    where.push('did = ?');
    args.push(filter.did);
  }
  if (filter.clientId !== undefined) {
    where.push('client_id = ?');
    args.push(filter.clientId);
  }
  if (filter.since !== undefined) {
    where.push('at >= ?');
    args.push(filter.since);
  }
  args.push(filter.limit ?? 1000);
  const rows = db
    .prepare<(string | number)[], AuditRow>(
      `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`,
    )
    .all(...args);
  return rows.map(toAuditEntry);
}

/** admin users list: by username, with wiki, live-session and live-grant counts. */
export function listUsers(db: Db, now = nowSeconds()): UserSummary[] {
  return db
    .prepare<[{ now: number }], { username: string; did: string; handle: string; display_name: string | null; wikis: number; live_sessions: number; live_grants: number; created_at: number; last_login_at: number }>(
      `SELECT u.username, u.did, u.handle, u.display_name, u.created_at, u.last_login_at,
         (SELECT count(*) FROM wikis w WHERE w.owner_did = u.did) AS wikis,
         (SELECT count(*) FROM sessions s WHERE s.did = u.did AND s.revoked_at IS NULL AND s.expires_at > @now) AS live_sessions,
         (SELECT count(*) FROM oauth_grants g WHERE g.user_did = u.did AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
       FROM users u ORDER BY u.username`,
    )
    .all({ now })
    .map((r) => ({
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

/** admin clients list: by creation, with live-grant counts. */
export function listClients(db: Db, now = nowSeconds()): ClientSummary[] {
  const rows = db
    .prepare<[{ now: number }], ClientSummaryRow>(
      `SELECT c.client_id, c.kind, c.metadata, c.created_at, c.first_token_at, c.last_used_at,
         (SELECT count(*) FROM oauth_grants g WHERE g.client_id = c.client_id AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
       FROM oauth_clients c ORDER BY c.created_at, c.client_id`,
    )
    .all({ now });
  return rows.map(toClientSummary);
}

/** admin wikis deleted: newest first. */
export function listDeletedWikis(db: Db): DeletedWiki[] {
  return db
    .prepare<[], { slug: string; owner_username: string; owner_did: string; reason: 'owner' | 'account_deleted'; grants_revoked: number; created_at: number; deleted_at: number }>(
      'SELECT * FROM deleted_wikis ORDER BY deleted_at DESC, slug',
    )
    .all()
    .map((r) => ({ slug: r.slug, ownerUsername: r.owner_username, ownerDid: r.owner_did, reason: r.reason, grantsRevoked: r.grants_revoked, createdAt: r.created_at, deletedAt: r.deleted_at }));
}

/** admin users deleted: newest first. */
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
