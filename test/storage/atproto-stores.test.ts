// The ATProto client's state and session stores over the async Store (src/storage/atproto-stores.ts):
// shared between two PostgreSQL Store instances (as two app instances), the same sealed format as
// the SQLite stores before the switch (src/atproto/stores.ts's rules: a deployment's existing rows
// still open, and what is written now opens with the same associated data), re-sealed under a
// rotated key, and a value no key opens treated as missing.
import crypto from 'node:crypto';
import type { NodeSavedSession, NodeSavedState } from '@atproto/oauth-client-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { StoreSealing } from '../../src/atproto/stores.ts';
import { migrate } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { createSealer, type SealingJwk } from '../../src/lib/sealing.ts';
import { createSharedSessionStore, createSharedStateStore, sealAtprotoRows } from '../../src/storage/atproto-stores.ts';
import { createPostgresStore } from '../../src/storage/postgres/postgres-store.ts';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const jwk = (kid: string): SealingJwk => ({ kid, d: crypto.randomBytes(32).toString('base64url') });
const oldKey = jwk('old');
const newKey = jwk('new');
const sealing = (keys: SealingJwk[]): StoreSealing & { warnings: string[] } => {
  const warnings: string[] = [];
  return { sealer: createSealer(keys), log: { warn: vi.fn((_: unknown, msg: string) => void warnings.push(msg)) } as unknown as StoreSealing['log'], warnings };
};
const state = { iss: 'https://pds.test', verifier: 'v', appState: 'app-1', dpopJwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' } } as unknown as NodeSavedState;
// The refresh token is long and has characters base64url never makes, so "the stored value does not
// contain it" cannot pass or fail by chance (a two-letter token turned up in ciphertext once).
const refreshToken = 'refresh-token.plaintext!must-not-be-stored';
const session = { dpopJwk: { kty: 'EC' }, authMethod: { method: 'none' }, tokenSet: { sub: 'did:plc:a', access_token: 'at', refresh_token: refreshToken } } as unknown as NodeSavedSession;

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describe('shared ATProto stores', () => {
  it('two PostgreSQL instances share states and sessions; a rotated key re-seals on read; an unknown key reads as missing', async () => {
    const url = await server.createDatabase();
    const pool = createPool({ url });
    await migratePostgres(pool);
    const a = createPostgresStore(url);
    const b = createPostgresStore(url);
    try {
      const before = sealing([oldKey]);
      await createSharedStateStore(a, before).set('state-1', state);
      await createSharedSessionStore(a, before).set('did:plc:a', session);

      const after = sealing([newKey, oldKey]);
      expect(await createSharedStateStore(b, after).get('state-1')).toEqual(state);
      expect(await createSharedSessionStore(b, after).get('did:plc:a')).toEqual(session);
      const stored = (await pool.query<{ value: string }>('SELECT value FROM atproto_sessions')).rows[0]!.value;
      expect(stored.startsWith(after.sealer.currentPrefix)).toBe(true);
      expect(stored).not.toContain(refreshToken);
      expect(stored).not.toContain('refresh_token');

      const stranger = sealing([jwk('other')]);
      expect(await createSharedSessionStore(a, stranger).get('did:plc:a')).toBeUndefined();
      expect(stranger.warnings[0]).toMatch(/no longer in the platform key file/);

      expect(await a.repos.atprotoStates.forgetByAppState('app-1')).toBe(1);
      expect(await createSharedStateStore(b, after).get('state-1')).toBeUndefined();
      await createSharedSessionStore(b, after).del('did:plc:a');
      expect(await createSharedSessionStore(a, after).get('did:plc:a')).toBeUndefined();
    } finally {
      await Promise.all([a.close(), b.close(), pool.end()]);
    }
  });

  it('the seal pass seals plaintext rows, re-seals rotated ones and deletes unreadable ones', async () => {
    const url = await server.createDatabase();
    const pool = createPool({ url });
    await migratePostgres(pool);
    const store = createPostgresStore(url);
    try {
      const old = sealing([oldKey]);
      await createSharedSessionStore(store, old).set('did:plc:rotated', session);
      await createSharedSessionStore(store, sealing([jwk('lost')])).set('did:plc:lost', session);
      await store.repos.atprotoStates.set('plain', JSON.stringify(state), null);
      const current = sealing([newKey, oldKey]);
      await createSharedSessionStore(store, current).set('did:plc:current', session);
      expect(await sealAtprotoRows(store, current)).toEqual({ sealed: 1, resealed: 1, deleted: 1 });
      const { rows } = await pool.query<{ value: string }>('SELECT value FROM atproto_sessions UNION ALL SELECT value FROM atproto_auth_states');
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.value.startsWith(current.sealer.currentPrefix))).toBe(true);
      expect(await createSharedStateStore(store, current).get('plain')).toEqual(state);
      expect(await store.repos.atprotoStates.forgetByAppState('app-1')).toBe(1);
      expect(current.warnings).toEqual(['deleted a stored ATProto secret that no key in the platform key file opens']);
      expect(await sealAtprotoRows(store, current)).toEqual({ sealed: 0, resealed: 0, deleted: 0 });
    } finally {
      await Promise.all([store.close(), pool.end()]);
    }
  });

  it('on SQLite, rows sealed before the switch open, and new rows keep that format (table and row key as associated data)', async () => {
    const db = openDatabase(':memory:');
    migrate(db);
    const store = createSqliteStore(db);
    const s = sealing([newKey]);
    const now = Math.floor(Date.now() / 1000);
    try {
      // As src/atproto/stores.ts wrote them before the switch.
      db.prepare('INSERT INTO atproto_auth_states (key, value, app_state_hash, created_at) VALUES (?, ?, NULL, ?)').run(
        'k-before',
        s.sealer.seal(JSON.stringify(state), 'atproto_auth_states\0k-before'),
        now,
      );
      db.prepare('INSERT INTO atproto_sessions (did, value, updated_at) VALUES (?, ?, ?)').run('did:plc:before', s.sealer.seal(JSON.stringify(session), 'atproto_sessions\0did:plc:before'), now);
      expect(await createSharedStateStore(store, s).get('k-before')).toEqual(state);
      expect(await createSharedSessionStore(store, s).get('did:plc:before')).toEqual(session);

      await createSharedStateStore(store, s).set('k-shared', state);
      await createSharedSessionStore(store, s).set('did:plc:shared', session);
      const rawState = (db.prepare('SELECT value FROM atproto_auth_states WHERE key = ?').get('k-shared') as { value: string }).value;
      const rawSession = (db.prepare('SELECT value FROM atproto_sessions WHERE did = ?').get('did:plc:shared') as { value: string }).value;
      expect(s.sealer.open(rawState, 'atproto_auth_states\0k-shared')).toMatchObject({ ok: true, plaintext: JSON.stringify(state) });
      expect(s.sealer.open(rawSession, 'atproto_sessions\0did:plc:shared')).toMatchObject({ ok: true, plaintext: JSON.stringify(session) });
      // Bound to its row: the same ciphertext does not open as another DID's.
      expect(s.sealer.open(rawSession, 'atproto_sessions\0did:plc:other').ok).toBe(false);
    } finally {
      await store.close();
    }
  });
});
