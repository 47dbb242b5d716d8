// The audit log of security events (issue 13 item 3): who did what, when, from where. Rows live in
// `audit_log` (migrations/013-audit-log.sql) for AUDIT_RETENTION_DAYS, and each event is also one
// structured log line at info.
// Rules:
//  - Recording never fails the request it describes: an error is logged (warn) and swallowed.
//  - It never loses the request's own write: called inside the request's transaction, the insert
//    runs in its own SAVEPOINT (a nested better-sqlite3 transaction), so a failed insert rolls back
//    only itself and the outer transaction still commits. Where the request has a transaction (the
//    replay revocations, consent), record inside it, so the event and the change commit together.
//  - In a store transaction (src/storage/store.ts): `insertIn(tx, event)` writes the row with the
//    transaction (the store's audit.insert, its own SAVEPOINT), and `announce(event)` writes the log
//    line and counts it once the transaction has committed (a PostgreSQL transaction may be retried,
//    so nothing outside the database happens inside it).
//  - Out of the hot path: a normal refresh writes no row; only a replay does.
import type Database from 'better-sqlite3';
import { nowSeconds, type Db } from '../db/open.ts';
import type { Logger } from '../web/log.ts';
import type { Repositories } from '../storage/store.ts';

export const AUDIT_EVENTS = [
  'sign_in',
  'signup',
  'sign_out',
  'consent_given',
  'consent_denied',
  'grant_revoked',
  'refresh_replay_detected',
  'code_replay_detected',
  'key_rotated',
  'admin_action',
  'wiki_deleted',
  'account_deleted',
] as const;
export type AuditEventName = (typeof AUDIT_EVENTS)[number];
export type AuditActor = 'person' | 'client' | 'admin' | 'replay' | 'system';

export interface AuditEvent {
  event: AuditEventName;
  did?: string | null;
  clientId?: string | null;
  wikiSlug?: string | null;
  actor?: AuditActor;
  address?: string | null;
  /** Event-specific facts (never a secret): stored as JSON. */
  detail?: Record<string, string | number | boolean | null>;
}

export interface AuditEntry {
  id: number;
  at: number;
  event: AuditEventName;
  did: string | null;
  clientId: string | null;
  wikiSlug: string | null;
  actor: string | null;
  address: string | null;
  detail: Record<string, unknown> | null;
}

export interface AuditFilter {
  did?: string;
  clientId?: string;
  /** Seconds since the epoch. */
  since?: number;
  limit?: number;
}

export interface AuditLog {
  /** Records `event` (see the rules above). Safe inside a transaction; never throws. */
  record(event: AuditEvent): void;
  /** Newest first. */
  list(filter?: AuditFilter): AuditEntry[];
  /** Inside a store transaction: stores `event` with it; a failed insert is logged and swallowed (rules above). */
  insertIn(tx: Pick<Repositories, 'audit'>, event: AuditEvent): Promise<boolean>;
  /** After that transaction committed: the log line of `event`, and its metric when it was `stored`. */
  announce(event: AuditEvent, stored: boolean): void;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: store a.b.c.d. */
function normalized(recorded: AuditEvent): AuditEvent {
  return recorded.address?.startsWith('::ffff:') && recorded.address.includes('.') ? { ...recorded, address: recorded.address.slice(7) } : recorded;
}

interface Row {
  id: number;
  at: number;
  event: AuditEventName;
  did: string | null;
  client_id: string | null;
  wiki_slug: string | null;
  actor: string | null;
  address: string | null;
  detail: string | null;
}

export function createAuditLog(deps: { db: Db; log: Logger; metrics?: { auditEvent(event: string): void } }): AuditLog {
  const { db, log } = deps;
  let insert: Database.Transaction<(e: AuditEvent, at: number) => void> | undefined;
  let statement: Database.Statement<unknown[]> | undefined;
  const logLine = (event: AuditEvent) =>
    log.info(
      { audit: event.event, did: event.did ?? undefined, clientId: event.clientId ?? undefined, wiki: event.wikiSlug ?? undefined, actor: event.actor, address: event.address ?? undefined, ...event.detail },
      `security event: ${event.event}`,
    );
  const storeFailed = (err: unknown, event: AuditEvent) =>
    log.warn({ err, audit: event.event }, 'audit event could not be stored (the request itself went through); check the storage faults');
  return {
    async insertIn(tx, recorded) {
      try {
        await tx.audit.insert(normalized(recorded));
        return true;
      } catch (err) {
        storeFailed(err, recorded);
        return false;
      }
    },
    announce(recorded, stored) {
      logLine(normalized(recorded));
      if (stored) deps.metrics?.auditEvent(recorded.event);
    },
    record(recorded) {
      const at = nowSeconds();
      const event = normalized(recorded);
      logLine(event);
      try {
        // Prepared on first use: the table exists once migrations ran.
        insert ??= db.transaction((e: AuditEvent, when: number) => {
          statement ??= db.prepare(
            `INSERT INTO audit_log (at, event, did, client_id, wiki_slug, actor, address, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          );
          statement.run(when, e.event, e.did ?? null, e.clientId ?? null, e.wikiSlug ?? null, e.actor ?? null, e.address ?? null, e.detail ? JSON.stringify(e.detail) : null);
        });
        insert(event, at);
        deps.metrics?.auditEvent(event.event);
      } catch (err) {
        storeFailed(err, event);
      }
    },
    list(filter = {}) {
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
        .prepare<(string | number)[], Row>(
          `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY at DESC, id DESC LIMIT ?`,
        )
        .all(...args);
      return rows.map((r) => ({
        id: r.id,
        at: r.at,
        event: r.event,
        did: r.did,
        clientId: r.client_id,
        wikiSlug: r.wiki_slug,
        actor: r.actor,
        address: r.address,
        detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
      }));
    },
  };
}
