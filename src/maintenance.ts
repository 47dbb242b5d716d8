// Scheduled maintenance: the one purge that the service runs every 10 minutes (server.ts) and the
// operator runs with `admin purge` (admin/commands.ts), so the two cannot drift. One pass:
//  1. expired and idle rows are deleted (db/purge.ts: codes, tokens, sessions, unused clients, …);
//  2. the ATProto stores are re-sealed with the current platform key, and rows no key in the key
//     file opens are deleted (atproto/stores.ts; issue 9 finding 10);
//  3. audit log entries older than AUDIT_RETENTION_DAYS are deleted (audit/; issue 13);
//  4. sealed refresh successors whose grace window closed are dropped (oauth/token/refresh-rotation.ts
//     rule 3): rows rotated before successors were derived (refresh-successor.ts) are the only ones.
// The sealer must be the one the service holds: the service passes its own; the CLI reads the same
// key file (PLATFORM_KEYS_FILE), so run `admin purge` after the service has reloaded a rotated key.
// Storage: the Store (SQLite or PostgreSQL): step 1 is `purge.expired` (one transaction; its SQL is
// src/db/purge.ts on SQLite, src/storage/postgres/repositories.ts on PostgreSQL), step 2 the Store's
// seal pass (src/storage/atproto-stores.ts, one transaction, rows locked), step 4 one statement.
import type { AppContext } from './context.ts';
import { idleClientPurgeAfter, unusedClientPurgeAfter } from './lifetimes.ts';
import { dropClosedGraceWindows } from './oauth/token/refresh-rotation.ts';
import { sealAtprotoRows } from './storage/atproto-stores.ts';

export type MaintenanceDeps = Pick<AppContext, 'store' | 'sealer'> & {
  log: Pick<AppContext['log'], 'warn'>;
  config: Pick<AppContext['config'], 'clientIdlePurgeSeconds' | 'unusedClientPurgeSeconds' | 'refreshGraceSeconds' | 'auditRetentionDays'>;
};

/** Runs the whole pass; returns how many rows each step deleted or re-sealed. */
export async function purgeNow(deps: MaintenanceDeps): Promise<Record<string, number>> {
  const purged = await deps.store.repos.purge.expired({
    clientIdleSeconds: idleClientPurgeAfter(deps.config),
    unusedClientSeconds: unusedClientPurgeAfter(deps.config),
    auditRetentionDays: deps.config.auditRetentionDays,
  });
  const { sealed, resealed, deleted } = await sealAtprotoRows(deps.store, { sealer: deps.sealer, log: deps.log });
  purged.atproto_secrets_resealed = sealed + resealed;
  purged.atproto_secrets_unreadable = deleted;
  purged.refresh_successors_sealed = await dropClosedGraceWindows({ refreshTokens: deps.store.repos.refreshTokens, config: deps.config });
  return purged;
}
