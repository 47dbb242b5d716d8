// SQLite-backed stores for @atproto/oauth-client-node: the in-flight authorization states
// (PKCE verifier, DPoP private key, our app state) and the per-DID sessions (PDS tokens, DPoP
// private key). Both hold secrets, so every value is sealed at rest (src/lib/sealing.ts) with the
// table and row key as associated data:
//  - read: a value sealed with a rotated-out key still in the key file is opened and re-sealed with
//    the current key; a value no key opens (its key is gone, or it was tampered with) is treated as
//    missing, with a warn line: the person signs in again (these sessions serve sign-in and logout only).
//  - start-up and the purge job (sealAtprotoStores): plaintext rows from before sealing are sealed,
//    stale ones re-sealed, unreadable ones deleted.
import type { NodeSavedSession, NodeSavedSessionStore, NodeSavedState, NodeSavedStateStore } from '@atproto/oauth-client-node';
import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';
import { sha256Hex } from '../lib/secrets.ts';
import type { Sealer } from '../lib/sealing.ts';
import type { Logger } from '../web/log.ts';
import { ATPROTO_AUTH_STATE_TTL_SECONDS } from '../lifetimes.ts';

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

/** Opens one stored value; re-seals it in place when a non-current key sealed it. */
function openRow(db: Db, { sealer, log }: StoreSealing, table: SealedTable, key: string, stored: string): string | undefined {
  const { keyColumn, aad } = TABLES[table];
  const opened = sealer.open(stored, aad(key));
  if (!opened.ok) {
    log.warn(
      { table, [keyColumn]: key, reason: opened.reason, kid: opened.kid },
      opened.reason === 'unknown_key'
        ? 'stored ATProto secret was sealed with a key no longer in the platform key file; treated as missing (the person signs in again)'
        : 'stored ATProto secret does not open (tampered or not sealed); treated as missing (the person signs in again)',
    );
    return undefined;
  }
  if (opened.stale) {
    db.prepare(`UPDATE ${table} SET value = ? WHERE ${keyColumn} = ? AND value = ?`).run(sealer.seal(opened.plaintext, aad(key)), key, stored);
  }
  return opened.plaintext;
}

export function createStateStore(db: Db, sealing: StoreSealing): NodeSavedStateStore {
  const get = db.prepare<[string, number], { value: string }>('SELECT value FROM atproto_auth_states WHERE key = ? AND created_at > ?');
  const set = db.prepare<[string, string, string | null, number]>(
    `INSERT INTO atproto_auth_states (key, value, app_state_hash, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT(key) DO UPDATE SET value = excluded.value, app_state_hash = excluded.app_state_hash`,
  );
  const del = db.prepare<[string]>('DELETE FROM atproto_auth_states WHERE key = ?');
  return {
    async get(key) {
      const row = get.get(key, nowSeconds() - ATPROTO_AUTH_STATE_TTL_SECONDS);
      const plaintext = row && openRow(db, sealing, 'atproto_auth_states', key, row.value);
      return plaintext === undefined ? undefined : (JSON.parse(plaintext) as NodeSavedState);
    },
    async set(key, value) {
      const appStateHash = value.appState === undefined ? null : sha256Hex(value.appState);
      set.run(key, sealing.sealer.seal(JSON.stringify(value), TABLES.atproto_auth_states.aad(key)), appStateHash, nowSeconds());
    },
    async del(key) {
      del.run(key);
    },
  };
}

/** Deletes the authorization states saved for one sign-in attempt, named by its app state. */
export function forgetAuthStates(db: Db, appState: string): number {
  return db.prepare('DELETE FROM atproto_auth_states WHERE app_state_hash = ?').run(sha256Hex(appState)).changes;
}

export function createSessionStore(db: Db, sealing: StoreSealing): NodeSavedSessionStore {
  const get = db.prepare<[string], { value: string }>('SELECT value FROM atproto_sessions WHERE did = ?');
  const set = db.prepare<[string, string, number]>(
    'INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(did) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const del = db.prepare<[string]>('DELETE FROM atproto_sessions WHERE did = ?');
  return {
    async get(did) {
      const row = get.get(did);
      const plaintext = row && openRow(db, sealing, 'atproto_sessions', did, row.value);
      return plaintext === undefined ? undefined : (JSON.parse(plaintext) as NodeSavedSession);
    },
    async set(did, value) {
      set.run(did, sealing.sealer.seal(JSON.stringify(value), TABLES.atproto_sessions.aad(did)), nowSeconds());
    },
    async del(did) {
      del.run(did);
    },
  };
}

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
