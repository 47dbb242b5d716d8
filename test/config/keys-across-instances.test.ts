// Issue 12, "keys across instances": several instances that share nothing but the database sign with
// the same current key and verify every published one, and a rotation made anywhere (here: the admin
// CLI) reaches every running instance without a restart (src/config/key-source.ts, key-reload.ts).
// Two in-process instances with separate contexts (each its own connection, key set, reloader) on
// one SQLite file; tokens come from the real token endpoint and are checked by the real /auth/verify.
// The two-process variant behind real Caddy is test/deploy/several-instances.test.ts.
import crypto from 'node:crypto';
import * as jose from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/accounts/users.repo.ts';
import { createApp } from '../../src/app.ts';
import { runCli } from '../../src/admin/program.ts';
import { databaseKeyStore, KeySetChanged, sqliteKeyRows } from '../../src/config/key-source.ts';
import { generatePrivateJwk, readKeyFile, rotateKeys, writeKeyFile, type PrivateJwk } from '../../src/config/keys.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { createLogger } from '../../src/web/log.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedUser, tempData, type TempData } from '../support/seed.ts';

// These tests are about rotation itself: no verifier caches our key sets here (JWKS_MAX_AGE_SECONDS=0,
// src/config/jwks-cache.ts), so a rotated key is not held back for the cache's max-age.
const NO_JWKS_CACHE = { JWKS_MAX_AGE_SECONDS: '0' };

type App = ReturnType<typeof createApp>;
const KEK = crypto.randomBytes(32).toString('base64url');

let t: TempData;
let alice: User;
let clientId: string;
let refreshToken: string;
const contexts: AppContext[] = [];

async function setUp(env: Record<string, string>): Promise<void> {
  t = tempData({ ...NO_JWKS_CACHE, ...env });
  alice = await seedUser(t, 'alice');
  clientId = await seedClient(t);
  refreshToken = (await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId })).refreshToken;
}
afterEach(() => {
  for (const ctx of contexts.splice(0)) ctx.close();
  t.cleanup();
});

/** One instance: its own context (connection, keys, reloader) on the shared database. */
async function instance(lines?: Record<string, unknown>[]) {
  const log = lines ? pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) }) : createLogger('silent');
  const ctx = await createContext(t.config, { log });
  contexts.push(ctx);
  return { ctx, app: createApp(ctx) };
}

async function refresh(app: App): Promise<string> {
  const res = await request(app).post('/auth/oauth/token').type('form').send({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  refreshToken = (res.body as { refresh_token: string }).refresh_token;
  return (res.body as { access_token: string }).access_token;
}

const verify = async (app: App, token: string) =>
  (await request(app).get('/auth/verify').set('Host', 'alice.localhost:3000').set('Authorization', `Bearer ${token}`)).status;
const jwks = async (app: App) => (await request(app).get('/.well-known/jwks.json')).body as { keys: jose.JWK[] };
const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;

async function cli(args: string[], env: Record<string, string> = {}) {
  const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE, ...env }, t.dir);
  const status = await runCli(args, capture.io);
  expect(status, capture.stderr()).toBe(0);
  return capture.stdout();
}

describe('platform keys in the database (PLATFORM_KEYS_KEK)', () => {
  beforeEach(() => setUp({ PLATFORM_KEYS_KEK: KEK, PLATFORM_KEYS_POLL_SECONDS: '1' }));

  it('rotate on one: published by both at their next poll, signing on both from sign_after; tokens of both verify on both; dropped keys stop on both', async () => {
    const a = await instance();
    const b = await instance();
    const oldKid = a.ctx.platformKeys.current.kid;
    expect(b.ctx.platformKeys.current.kid).toBe(oldKid);
    expect(await jwks(b.app)).toEqual(await jwks(a.app));
    const oldToken = await refresh(a.app);

    const out = await cli(['keys', 'rotate'], { PLATFORM_KEYS_KEK: KEK, PLATFORM_KEYS_POLL_SECONDS: '1' });
    expect(out).toContain('no restart needed');
    expect(out).toMatch(/signs with it from \d{4}-/);
    const newKid = (await databaseKeyStore(sqliteKeyRows(t.db), KEK).read())[0]!.kid;
    // Until its poll, an instance keeps its keys.
    expect((await jwks(a.app)).keys.map((k) => k.kid)).toEqual([oldKid]);
    expect(await a.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(await b.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(await a.ctx.keyReloader.checkNow()).toBe('unchanged');
    // Published by both before either signs with it (pending): no instance meets a kid it lacks.
    for (const app of [a.app, b.app]) expect((await jwks(app)).keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
    expect(kidOf(await refresh(b.app))).toBe(oldKid);
    const list = captureIo({ DATA_DIR: t.dir, PLATFORM_KEYS_KEK: KEK, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'list', '--json'], list.io)).toBe(0);
    expect((JSON.parse(list.stdout()) as { kid: string; role: string }[]).filter((k) => k.kid === newKid || k.kid === oldKid).map((k) => [k.kid, k.role])).toEqual([
      [newKid, 'pending'],
      [oldKid, 'signing'],
    ]);

    // sign_after (2 polls + 1 s): both switch, each at its own next poll, with no change to the key set.
    await new Promise((resolve) => setTimeout(resolve, 3200));
    expect(await a.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(await b.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(a.ctx.platformKeys.current.kid).toBe(newKid);
    expect(b.ctx.platformKeys.current.kid).toBe(newKid);
    expect((await jwks(a.app)).keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    expect(await jwks(b.app)).toEqual(await jwks(a.app));

    const newToken = await refresh(b.app);
    expect(kidOf(newToken)).toBe(newKid);
    expect(kidOf(await refresh(a.app))).toBe(newKid);
    for (const app of [a.app, b.app]) {
      expect(await verify(app, oldToken)).toBe(200);
      expect(await verify(app, newToken)).toBe(200);
    }

    // A compromised key: dropped on one machine, refused by both after their next poll.
    await cli(['keys', 'rotate', '--drop-previous'], { PLATFORM_KEYS_KEK: KEK, PLATFORM_KEYS_POLL_SECONDS: '1' });
    await a.ctx.keyReloader.checkNow();
    await b.ctx.keyReloader.checkNow();
    for (const app of [a.app, b.app]) {
      expect(await verify(app, oldToken)).toBe(401);
      expect(await verify(app, newToken)).toBe(401);
    }
    expect(await verify(a.app, await refresh(b.app))).toBe(200);
  });

  it('a key past retire_after stops verifying on every instance at their next poll, with no change to the key set', async () => {
    const a = await instance();
    const b = await instance();
    const oldToken = await refresh(a.app);
    const store = databaseKeyStore(sqliteKeyRows(t.db), KEK);
    const keys = await store.read();
    await store.write(rotateKeys(keys, await generatePrivateJwk('RS256', 'access'), nowSeconds() + 2), await store.version());
    await a.ctx.keyReloader.checkNow();
    await b.ctx.keyReloader.checkNow();
    expect(await verify(b.app, oldToken)).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 2200));
    expect(await a.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(await b.ctx.keyReloader.checkNow()).toBe('reloaded');
    expect(await verify(a.app, oldToken)).toBe(401);
    expect(await verify(b.app, oldToken)).toBe(401);
    expect(await a.ctx.keyReloader.checkNow()).toBe('unchanged');
  });

  it('stores no private key in the clear; another KEK, or a sealed key moved to another row, is refused with what to do', async () => {
    const a = await instance();
    const rows = t.db.prepare('SELECT kid, sealed_jwk FROM platform_keys ORDER BY position').all() as { kid: string; sealed_jwk: string }[];
    expect(rows.map((r) => r.kid)).toEqual([a.ctx.platformKeys.current.kid, a.ctx.identityKeys.current.kid]);
    for (const row of rows) {
      expect(row.sealed_jwk).toMatch(/^v1\./);
      expect(row.sealed_jwk).not.toContain('"d"');
    }
    const other = databaseKeyStore(sqliteKeyRows(t.db), crypto.randomBytes(32).toString('base64url'));
    await expect(other.read()).rejects.toThrow(/another PLATFORM_KEYS_KEK .*set the same PLATFORM_KEYS_KEK on every instance/);

    // The identity key's ciphertext put in the access key's row (to make it sign access tokens).
    t.db.prepare('UPDATE platform_keys SET sealed_jwk = ? WHERE kid = ?').run(rows[1]!.sealed_jwk, rows[0]!.kid);
    await expect(databaseKeyStore(sqliteKeyRows(t.db), KEK).read()).rejects.toThrow(/does not open \(tampered\)/);
  });

  it('two writers at once: the one that read an older version is refused, nothing half-written', async () => {
    await instance();
    const store = databaseKeyStore(sqliteKeyRows(t.db), KEK);
    const version = await store.version();
    const keys = await store.read();
    await store.write(rotateKeys(keys, await generatePrivateJwk('RS256', 'access'), nowSeconds() + 60), version);
    const afterFirst = await store.read();
    await expect(store.write(rotateKeys(keys, await generatePrivateJwk('RS256', 'access'), nowSeconds() + 60), version)).rejects.toBeInstanceOf(KeySetChanged);
    expect(await store.read()).toEqual(afterFirst);
  });

  it('a key set that does not load is logged once and the previous keys stay in use', async () => {
    const lines: Record<string, unknown>[] = [];
    const a = await instance(lines);
    const kid = a.ctx.platformKeys.current.kid;
    // An ES256 signing key while ACCESS_TOKEN_ALG is RS256: refused, never a silent switch.
    await cli(['keys', 'rotate', '--alg', 'ES256', '--drop-previous'], { PLATFORM_KEYS_KEK: KEK, PLATFORM_KEYS_POLL_SECONDS: '1' });
    expect(await a.ctx.keyReloader.checkNow()).toBe('failed');
    expect(await a.ctx.keyReloader.checkNow()).toBe('failed');
    expect(a.ctx.platformKeys.current.kid).toBe(kid);
    const errors = lines.filter((l) => String(l.msg).startsWith('platform keys changed but could not be loaded'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ level: 50, source: 'database' });
    expect(await verify(a.app, await refresh(a.app))).toBe(200);
  });

  it('keys import-to-database moves an existing key file, once; production then needs no key file', async () => {
    const fileOnly = tempData();
    try {
      const ctx = await createContext(fileOnly.config, { log: createLogger('silent') });
      const fileKids = readKeyFile(fileOnly.config.platformKeysFile).map((k) => k.kid);
      ctx.close();
      const env = { DATA_DIR: fileOnly.dir, PLATFORM_KEYS_KEK: KEK };
      const run = async () => {
        const capture = captureIo(env, fileOnly.dir);
        return { status: await runCli(['keys', 'import-to-database'], capture.io), out: capture.stdout(), err: capture.stderr() };
      };
      const first = await run();
      expect(first.status, first.err).toBe(0);
      expect(first.out).toContain(`Imported 2 platform keys (${fileKids.join(', ')})`);
      const again = await run();
      expect(again.status).not.toBe(0);
      expect(again.err).toContain('already holds platform keys');
      const list = captureIo(env, fileOnly.dir);
      expect(await runCli(['keys', 'list', '--json'], list.io)).toBe(0);
      expect((JSON.parse(list.stdout()) as { kid: string }[]).map((k) => k.kid)).toEqual(fileKids);
      // The service reads them from the database (the file could be gone).
      writeKeyFile(fileOnly.config.platformKeysFile, [(await generatePrivateJwk('RS256')) as PrivateJwk]);
      const fromDb = await createContext({ ...fileOnly.config, platformKeysKek: KEK }, { log: createLogger('silent') });
      expect(fromDb.platformKeys.current.kid).toBe(fileKids[0]);
      fromDb.close();
    } finally {
      fileOnly.cleanup();
    }
  });
});

describe('platform keys in the key file (the default): reloaded on change too, without SIGHUP', () => {
  beforeEach(() => setUp({}));

  it('a rotation written to the file is picked up at the next poll, with a log line naming the new key', async () => {
    const lines: Record<string, unknown>[] = [];
    const a = await instance(lines);
    const oldToken = await refresh(a.app);
    expect(await a.ctx.keyReloader.checkNow()).toBe('unchanged');
    await cli(['keys', 'rotate']);
    expect(await a.ctx.keyReloader.checkNow()).toBe('reloaded');
    const newKid = readKeyFile(t.config.platformKeysFile)[0]!.kid;
    expect(a.ctx.platformKeys.current.kid).toBe(newKid);
    expect(lines.find((l) => l.msg === 'platform keys reloaded')).toMatchObject({ source: 'file', reason: 'changed', signing: newKid });
    expect(kidOf(await refresh(a.app))).toBe(newKid);
    expect(await verify(a.app, oldToken)).toBe(200);
  });
});
