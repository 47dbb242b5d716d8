// Bounded growth: rows that can no longer matter are deleted on a schedule (server.ts) and by the
// admin CLI. Kept a while after expiry where a late replay must still be recognised.
// Every "how long" here comes from src/lifetimes.ts, the one place each credential's lifetime is set.
// The ATProto stores' re-sealing is not here: it belongs to src/atproto/ and runs from src/maintenance.ts.
// These are the SQLite store's statements (src/storage/store.ts PurgeRepository, `purge.expired`):
// callers go through the Store; src/storage/postgres/repositories.ts has the same statements, in the
// same order, for PostgreSQL (test/storage/wikis-admin-domain-postgres.test.ts compares the counts).
import type { Db } from './open.ts';
import { nowSeconds } from './open.ts';
import {
  ATPROTO_AUTH_STATE_TTL_SECONDS,
  AUTHORIZATION_CODE_REPLAY_KEEP_SECONDS,
  REVOKED_KEEP_SECONDS,
  ROTATED_REFRESH_KEEP_SECONDS,
  UNCLAIMED_ATPROTO_SESSION_SECONDS,
} from '../lifetimes.ts';

export interface PurgeOptions {
  /**
   * CLIENT_IDLE_PURGE_SECONDS: clients (registered or cached metadata documents) that hold no grant
   * and have not obtained a token for this long are deleted.
   */
  clientIdleSeconds: number;
  /**
   * UNUSED_CLIENT_PURGE_SECONDS: a client that never obtained a token is deleted this long after it
   * appeared (registered or first fetched), so open registration cannot fill the disk (issue 9,
   * finding 9). Left out: the same as clientIdleSeconds.
   */
  unusedClientSeconds?: number;
  /** AUDIT_RETENTION_DAYS: audit log entries older than this are deleted. Default 90. */
  auditRetentionDays?: number;
}

export function purgeExpired(db: Db, options: PurgeOptions): Record<string, number> {
  const now = nowSeconds();
  const statements: [string, string, unknown[]][] = [
    ['atproto_auth_states', 'DELETE FROM atproto_auth_states WHERE created_at <= ?', [now - ATPROTO_AUTH_STATE_TTL_SECONDS]],
    ['sign_in_tickets', 'DELETE FROM sign_in_tickets WHERE expires_at <= ?', [now]],
    ['sessions', 'DELETE FROM sessions WHERE expires_at <= ? OR revoked_at <= ?', [now, now - REVOKED_KEEP_SECONDS]],
    ['authorization_requests', 'DELETE FROM authorization_requests WHERE expires_at <= ?', [now]],
    ['authorization_codes', 'DELETE FROM authorization_codes WHERE expires_at <= ?', [now - AUTHORIZATION_CODE_REPLAY_KEEP_SECONDS]],
    [
      'refresh_tokens',
      'DELETE FROM refresh_tokens WHERE expires_at <= ? OR rotated_at <= ?',
      [now, now - ROTATED_REFRESH_KEEP_SECONDS],
    ],
    ['oauth_grants', 'DELETE FROM oauth_grants WHERE expires_at <= ? OR revoked_at <= ?', [now, now - REVOKED_KEEP_SECONDS]],
    ['revoked_access_tokens', 'DELETE FROM revoked_access_tokens WHERE expires_at <= ?', [now]],
    // An expired assertion is refused for its exp anyway: its jti need not be remembered.
    ['client_assertion_jtis', 'DELETE FROM client_assertion_jtis WHERE expires_at <= ?', [now]],
    // A deleted wiki's or account's name, once its reservation is over (src/wikis/reserved-names.ts).
    ['reserved_names', 'DELETE FROM reserved_names WHERE reserved_until <= ?', [now]],
    [
      'atproto_sessions',
      'DELETE FROM atproto_sessions WHERE updated_at <= ? AND did NOT IN (SELECT did FROM users)',
      [now - UNCLAIMED_ATPROTO_SESSION_SECONDS],
    ],
    // After the grants (a client whose last grant expired above goes in the same pass). Nothing
    // in flight may reference it: a pending request or code would be cascaded away.
    [
      'oauth_clients',
      `DELETE FROM oauth_clients AS c
       WHERE ((c.first_token_at IS NULL AND c.created_at <= ?) OR coalesce(c.last_used_at, c.created_at) <= ?)
         AND NOT EXISTS (SELECT 1 FROM oauth_grants g WHERE g.client_id = c.client_id)
         AND NOT EXISTS (SELECT 1 FROM authorization_requests r WHERE r.client_id = c.client_id)
         AND NOT EXISTS (SELECT 1 FROM authorization_codes k WHERE k.client_id = c.client_id)`,
      [now - (options.unusedClientSeconds ?? options.clientIdleSeconds), now - options.clientIdleSeconds],
    ],
  ];
  statements.push(['audit_log', 'DELETE FROM audit_log WHERE at <= ?', [now - (options.auditRetentionDays ?? 90) * 24 * 60 * 60]]);
  const counts: Record<string, number> = {};
  // A purge can delete tens of thousands of rows in one statement; the statement journal of each
  // (the original of every page it changes) goes to a temporary file, whatever the connection's
  // temp_store (the store keeps it in memory for its small transactions: sqlite-store.ts rule 5).
  const TEMP_STORE_FILE = 1; // PRAGMA temp_store: 0 default (a file in this build), 1 file, 2 memory
  const tempStore = db.pragma('temp_store', { simple: true }) as number;
  if (tempStore !== TEMP_STORE_FILE) db.pragma(`temp_store = ${TEMP_STORE_FILE}`);
  try {
    db.transaction(() => {
      for (const [table, sql, args] of statements) counts[table] = db.prepare(sql).run(...args).changes;
    })();
  } finally {
    if (tempStore !== TEMP_STORE_FILE) db.pragma(`temp_store = ${tempStore}`);
  }
  return counts;
}
