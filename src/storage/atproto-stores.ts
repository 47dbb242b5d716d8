// The @atproto/oauth-client-node state and session stores over the async Store (issue 12 item 2:
// "the ATProto state and session stores are shared"): on PostgreSQL every instance reads what any
// instance wrote. The ATProto client (src/atproto/client-library.ts) and the start-up seal pass
// (src/context.ts) use these, on SQLite too. The rules, stated in src/atproto/stores.ts, and the
// sealed format (unchanged from before the switch, so existing rows still open):
//  - every value is sealed at rest (src/lib/sealing.ts) with "<table>\0<row key>" as associated data;
//  - a value sealed with a rotated-out key still in the key file is opened and re-sealed with the
//    current key (compare-and-swap on the stored value, so a concurrent write is never overwritten);
//  - a value no key opens (key gone, tampered) is treated as missing, with a warn line naming the
//    row (`key`, or `did` for a session, as before): the person signs in again;
//  - authorization states older than ATPROTO_AUTH_STATE_TTL_SECONDS (src/lifetimes.ts) are dead.
import type { NodeSavedSession, NodeSavedSessionStore, NodeSavedState, NodeSavedStateStore } from '@atproto/oauth-client-node';
import type { StoreSealing } from '../atproto/stores.ts';
import { ATPROTO_AUTH_STATE_TTL_SECONDS } from '../lifetimes.ts';
import { nowSeconds } from '../db/open.ts';
import { sha256Hex } from '../lib/secrets.ts';
import type { Store } from './store.ts';

const aad = {
  atproto_auth_states: (key: string) => `atproto_auth_states\0${key}`,
  atproto_sessions: (did: string) => `atproto_sessions\0${did}`,
} as const;
type Table = keyof typeof aad;
/** The row key's name in the operator's log lines: the column's (`key`, or `did` for a session). */
const keyField = { atproto_auth_states: 'key', atproto_sessions: 'did' } as const;

/** Opens a stored value; re-seals it when a non-current key sealed it (via `replace`). */
async function openStored(
  { sealer, log }: StoreSealing,
  table: Table,
  key: string,
  stored: string,
  replace: (expected: string, sealed: string) => Promise<boolean>,
): Promise<string | undefined> {
  const opened = sealer.open(stored, aad[table](key));
  if (!opened.ok) {
    log.warn(
      { table, [keyField[table]]: key, reason: opened.reason, kid: opened.kid },
      opened.reason === 'unknown_key'
        ? 'stored ATProto secret was sealed with a key no longer in the platform key file; treated as missing (the person signs in again)'
        : 'stored ATProto secret does not open (tampered or not sealed); treated as missing (the person signs in again)',
    );
    return undefined;
  }
  if (opened.stale) await replace(stored, sealer.seal(opened.plaintext, aad[table](key)));
  return opened.plaintext;
}

export function createSharedStateStore(store: Pick<Store, 'repos'>, sealing: StoreSealing): NodeSavedStateStore {
  const states = store.repos.atprotoStates;
  return {
    async get(key) {
      const stored = await states.get(key, nowSeconds() - ATPROTO_AUTH_STATE_TTL_SECONDS);
      const plaintext = stored === undefined ? undefined : await openStored(sealing, 'atproto_auth_states', key, stored, (expected, sealed) => states.replaceValue(key, expected, sealed));
      return plaintext === undefined ? undefined : (JSON.parse(plaintext) as NodeSavedState);
    },
    async set(key, value) {
      const appStateHash = value.appState === undefined ? null : sha256Hex(value.appState);
      await states.set(key, sealing.sealer.seal(JSON.stringify(value), aad.atproto_auth_states(key)), appStateHash);
    },
    async del(key) {
      await states.del(key);
    },
  };
}

export function createSharedSessionStore(store: Pick<Store, 'repos'>, sealing: StoreSealing): NodeSavedSessionStore {
  const sessions = store.repos.atprotoSessions;
  return {
    async get(did) {
      const stored = await sessions.get(did);
      const plaintext = stored === undefined ? undefined : await openStored(sealing, 'atproto_sessions', did, stored, (expected, sealed) => sessions.replaceValue(did, expected, sealed));
      return plaintext === undefined ? undefined : (JSON.parse(plaintext) as NodeSavedSession);
    },
    async set(did, value) {
      await sessions.set(did, sealing.sealer.seal(JSON.stringify(value), aad.atproto_sessions(did)));
    },
    async del(did) {
      await sessions.del(did);
    },
  };
}

export interface SealPassCounts {
  sealed: number;
  resealed: number;
  deleted: number;
}

/**
 * The seal pass (rules: src/atproto/stores.ts) over the Store, in one transaction: plaintext rows from
 * before sealing are sealed (a state gets its app-state hash), rows of rotated-out keys re-sealed,
 * rows no key opens deleted with a warn line. Rows sealed with the current key are not decrypted.
 */
export function sealAtprotoRows(store: Pick<Store, 'transaction'>, { sealer, log }: StoreSealing): Promise<SealPassCounts> {
  return store.transaction(async (tx) => {
    const counts: SealPassCounts = { sealed: 0, resealed: 0, deleted: 0 };
    const tables = [
      { table: 'atproto_auth_states' as const, repo: tx.atprotoStates },
      { table: 'atproto_sessions' as const, repo: tx.atprotoSessions },
    ];
    for (const { table, repo } of tables) {
      for (const row of await repo.listNotSealedWith(sealer.currentPrefix)) {
        const opened = sealer.open(row.value, aad[table](row.key));
        if (opened.ok) {
          await repo.overwrite(row.key, sealer.seal(opened.plaintext, aad[table](row.key)));
          counts.resealed++;
        } else if (opened.reason === 'not_sealed') {
          const sealed = sealer.seal(row.value, aad[table](row.key));
          if (table === 'atproto_auth_states') await tx.atprotoStates.overwrite(row.key, sealed, appStateHashOf(row.value));
          else await repo.overwrite(row.key, sealed);
          counts.sealed++;
        } else {
          await repo.del(row.key);
          counts.deleted++;
          log.warn({ table, [keyField[table]]: row.key, reason: opened.reason, kid: opened.kid }, 'deleted a stored ATProto secret that no key in the platform key file opens');
        }
      }
    }
    return counts;
  });
}

function appStateHashOf(plaintext: string): string | null {
  try {
    const { appState } = JSON.parse(plaintext) as { appState?: unknown };
    return typeof appState === 'string' ? sha256Hex(appState) : null;
  } catch {
    return null;
  }
}
