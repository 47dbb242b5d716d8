// SQLite-backed stores for @atproto/oauth-client-node: the in-flight authorization states
// (PKCE verifier, DPoP key, our app state) and the per-DID sessions (tokens, DPoP key).
import type { NodeSavedSession, NodeSavedSessionStore, NodeSavedState, NodeSavedStateStore } from '@atproto/oauth-client-node';
import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';

/** Authorization states older than this are dead: the PDS's own request expires well before. */
export const AUTH_STATE_TTL_SECONDS = 60 * 60;

export function createStateStore(db: Db): NodeSavedStateStore {
  const get = db.prepare<[string, number], { value: string }>('SELECT value FROM atproto_auth_states WHERE key = ? AND created_at > ?');
  const set = db.prepare<[string, string, number]>(
    'INSERT INTO atproto_auth_states (key, value, created_at) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  );
  const del = db.prepare<[string]>('DELETE FROM atproto_auth_states WHERE key = ?');
  return {
    async get(key) {
      const row = get.get(key, nowSeconds() - AUTH_STATE_TTL_SECONDS);
      return row ? (JSON.parse(row.value) as NodeSavedState) : undefined;
    },
    async set(key, value) {
      set.run(key, JSON.stringify(value), nowSeconds());
    },
    async del(key) {
      del.run(key);
    },
  };
}

/** Deletes the authorization states saved for one sign-in attempt, named by its app state. */
export function forgetAuthStates(db: Db, appState: string): number {
  return db.prepare("DELETE FROM atproto_auth_states WHERE json_extract(value, '$.appState') = ?").run(appState).changes;
}

export function createSessionStore(db: Db): NodeSavedSessionStore {
  const get = db.prepare<[string], { value: string }>('SELECT value FROM atproto_sessions WHERE did = ?');
  const set = db.prepare<[string, string, number]>(
    'INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(did) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  );
  const del = db.prepare<[string]>('DELETE FROM atproto_sessions WHERE did = ?');
  return {
    async get(did) {
      const row = get.get(did);
      return row ? (JSON.parse(row.value) as NodeSavedSession) : undefined;
    },
    async set(did, value) {
      set.run(did, JSON.stringify(value), nowSeconds());
    },
    async del(did) {
      del.run(did);
    },
  };
}
