// The audit log of security events (issue 13 item 3): who did what, when, from where. Rows live in
// `audit_log` (migrations/013-audit-log.sql) for AUDIT_RETENTION_DAYS, and each event is also one
// structured log line at info.
// Rules:
//  - Recording never fails the request it describes: an error is logged (warn) and swallowed.
//  - Storage is the Store's `audit` repository (src/storage/store.ts). Outside a transaction,
//    `await record(event)` writes the log line and the row (its own statement).
//  - Where the request has a store transaction (the replay revocations, consent, revocation), the
//    event commits with the change: `insertIn(tx, event)` writes the row with the transaction (the
//    store's audit.insert runs in its own SAVEPOINT, so a failed insert rolls back only itself and
//    the outer transaction still commits), and `announce(event, stored)` writes the log line and
//    counts it once the transaction has committed (a PostgreSQL transaction may be retried, so
//    nothing outside the database happens inside it). src/oauth/token/refresh-rotation.ts is the model.
//  - Out of the hot path: a normal refresh writes no row; only a replay does.
import { nowSeconds } from '../db/open.ts';
import type { Logger } from '../web/log.ts';
import type { Repositories, Store } from '../storage/store.ts';

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
  /** Records `event` outside a transaction (see the rules above): the log line, the row, the metric. Never rejects. */
  record(event: AuditEvent): Promise<void>;
  /** Newest first. */
  list(filter?: AuditFilter): Promise<AuditEntry[]>;
  /** Inside a store transaction: stores `event` with it; a failed insert is logged and swallowed (rules above). */
  insertIn(tx: Pick<Repositories, 'audit'>, event: AuditEvent): Promise<boolean>;
  /** After that transaction committed: the log line of `event`, and its metric when it was `stored`. */
  announce(event: AuditEvent, stored: boolean): void;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d: store a.b.c.d. */
function normalized(recorded: AuditEvent): AuditEvent {
  return recorded.address?.startsWith('::ffff:') && recorded.address.includes('.') ? { ...recorded, address: recorded.address.slice(7) } : recorded;
}

export function createAuditLog(deps: { store: Pick<Store, 'repos'>; log: Logger; metrics?: { auditEvent(event: string): void } }): AuditLog {
  const { store, log } = deps;
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
    async record(recorded) {
      const at = nowSeconds();
      const event = normalized(recorded);
      logLine(event);
      try {
        await store.repos.audit.insert(event, at);
        deps.metrics?.auditEvent(event.event);
      } catch (err) {
        storeFailed(err, event);
      }
    },
    list(filter = {}) {
      return store.repos.audit.list(filter);
    },
  };
}
