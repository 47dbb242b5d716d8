// The rules for @atproto/oauth-client-node's stores: the in-flight authorization states (PKCE
// verifier, DPoP private key, our app state) and the per-DID sessions (PDS tokens, DPoP private
// key). Both hold secrets, so every value is sealed at rest (src/lib/sealing.ts) with the table and
// row key as associated data:
//  - read: a value sealed with a rotated-out key still in the key file is opened and re-sealed with
//    the current key; a value no key opens (its key is gone, or it was tampered with) is treated as
//    missing, with a warn line: the person signs in again (these sessions serve sign-in and logout only).
//  - start-up and the purge job (the seal pass): plaintext rows from before sealing are sealed,
//    stale ones re-sealed, unreadable ones deleted.
//  - an authorization state older than ATPROTO_AUTH_STATE_TTL_SECONDS (src/lifetimes.ts) is dead.
// The stores the client uses, and the start-up seal pass, are over the async Store
// (src/storage/atproto-stores.ts), so several instances share them. What is left here: the sealing
// dependency, and the SQLite-only seal pass the purge (src/maintenance.ts) runs until it moves to
// the Store's (sealAtprotoRows).
import type { Db } from '../db/open.ts';
import { sha256Hex } from '../lib/secrets.ts';
import type { Sealer } from '../lib/sealing.ts';
import type { Logger } from '../web/log.ts';

export interface StoreSealing {
  sealer: Sealer;
  log: Pick<Logger, 'warn'>;
}

/** The two sealed tables: name, key column, and the associated data that binds a value to its row. */
const TABLES = {
  atproto_auth_states: { keyColumn: 'key', aad: (key: string) => `atproto_auth_states\0${key}` },
  atproto_sessions: { keyColumn: 'did', aad: (did: string) => `atproto_sessions\0${did}` },
} as const;
type SealedTable = keyof typeof TABLES;

export interface SealPassCounts {
  /** Plaintext rows from before sealing, now sealed. */
  sealed: number;
  /** Rows sealed with a rotated-out key, now sealed with the current one. */
  resealed: number;
  /** Rows no key in the file opens (key gone, or tampered): deleted. */
  deleted: number;
}

/**
 * One pass over both tables, in one transaction: seals plaintext rows (a database from before
 * sealing: run at start-up), re-seals rows of rotated-out keys and deletes rows no key opens (the
 * purge job). Rows already sealed with the current key are not decrypted.
 */
export function sealAtprotoStores(db: Db, { sealer, log }: StoreSealing): SealPassCounts {
  const counts: SealPassCounts = { sealed: 0, resealed: 0, deleted: 0 };
  db.transaction(() => {
    for (const [table, { keyColumn, aad }] of Object.entries(TABLES) as [SealedTable, (typeof TABLES)[SealedTable]][]) {
      const rows = db
        .prepare<[number, string], { key: string; value: string }>(`SELECT ${keyColumn} AS key, value FROM ${table} WHERE substr(value, 1, ?) <> ?`)
        .all(sealer.currentPrefix.length, sealer.currentPrefix);
      const update = db.prepare<[string, string]>(`UPDATE ${table} SET value = ? WHERE ${keyColumn} = ?`);
      const remove = db.prepare<[string]>(`DELETE FROM ${table} WHERE ${keyColumn} = ?`);
      for (const row of rows) {
        const opened = sealer.open(row.value, aad(row.key));
        if (opened.ok) {
          update.run(sealer.seal(opened.plaintext, aad(row.key)), row.key);
          counts.resealed++;
        } else if (opened.reason === 'not_sealed') {
          update.run(sealer.seal(row.value, aad(row.key)), row.key);
          if (table === 'atproto_auth_states') {
            db.prepare(`UPDATE atproto_auth_states SET app_state_hash = ? WHERE key = ?`).run(appStateHashOf(row.value), row.key);
          }
          counts.sealed++;
        } else {
          remove.run(row.key);
          counts.deleted++;
          log.warn({ table, [keyColumn]: row.key, reason: opened.reason, kid: opened.kid }, 'deleted a stored ATProto secret that no key in the platform key file opens');
        }
      }
    }
  })();
  return counts;
}

function appStateHashOf(plaintext: string): string | null {
  try {
    const { appState } = JSON.parse(plaintext) as { appState?: unknown };
    return typeof appState === 'string' ? sha256Hex(appState) : null;
  } catch {
    return null;
  }
}
