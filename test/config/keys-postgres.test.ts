// Keys across instances on PostgreSQL (issue 12): two instances on two pools (as two machines would
// have) share the platform keys in a real PostgreSQL server, sealed under PLATFORM_KEYS_KEK. A
// rotation written through one reaches the other at its next poll; tokens signed by either verify on
// both; a dropped key stops on both; two rotations at once give one winner. The service itself still
// runs on SQLite until the async store lands, so the instances here are the key layer (store, loader,
// reloader, access-token signer and verifier), not whole apps. Also /healthz's probe through a pool.
import crypto from 'node:crypto';
import express from 'express';
import type pg from 'pg';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rotatePlatformKeys } from '../../src/admin/keys.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createKeyReloader, type KeyReloader } from '../../src/config/key-reload.ts';
import { databaseKeyStore, KeySetChanged } from '../../src/config/key-source.ts';
import { postgresKeyRows } from '../../src/config/key-source.postgres.ts';
import { keysOfPurpose, loadPlatformKeySets, type PlatformKeys } from '../../src/config/keys.ts';
import { migratePostgres } from '../../src/db/postgres/migrate.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { createSealer, sealingJwksOf } from '../../src/lib/sealing.ts';
import { createAccessTokenVerifier, signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { healthRoutes, poolProbe } from '../../src/web/health.route.ts';
import { createLogger } from '../../src/web/log.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

const KEK = crypto.randomBytes(32).toString('base64url');
// No verifier caches our key sets here (src/config/jwks-cache.ts): the rotation waits for the polls only.
const config = { ...parseConfig({ LOG_LEVEL: 'silent' }), platformKeysKek: KEK, platformKeysPollSeconds: 1, jwksMaxAgeSeconds: 0 };
const RESOURCE = 'http://alice.localhost:3000/mcp';

let server: TestPostgres;
const pools: pg.Pool[] = [];
beforeAll(async () => {
  server = await startPostgres();
}, 30_000);
afterAll(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await server?.stop();
});

async function database(): Promise<string> {
  const url = await server.createDatabase();
  const p = pool(url);
  await migratePostgres(p);
  return url;
}
function pool(url: string): pg.Pool {
  const p = createPool({ url, poolSize: 2 });
  pools.push(p);
  return p;
}

interface Instance {
  keys: PlatformKeys;
  reloader: KeyReloader;
  sign(): string;
  verifies(token: string): boolean;
}

/** One instance: its own pool, key store, loaded keys and reloader. */
async function instance(url: string): Promise<Instance> {
  const store = databaseKeyStore(postgresKeyRows(pool(url)), KEK);
  const version = await store.version();
  const sets = await loadPlatformKeySets(store, true, undefined, { alg: 'RS256', ttlSeconds: 3600 });
  const live = { platformKeys: sets.access, identityKeys: sets.identity, sealer: createSealer(sealingJwksOf(sets.jwks)) };
  const reloader = createKeyReloader({ store, keys: live, config, log: createLogger('silent') }, (await store.version()) === version ? version : await store.version());
  const verifier = createAccessTokenVerifier({ config, keys: live.platformKeys });
  return {
    keys: live.platformKeys,
    reloader,
    sign: () => signAccessToken({ config, keys: live.platformKeys }, { did: 'did:plc:alice', resource: RESOURCE, clientId: 'c', scope: 'wiki:read', grantId: 'g' }).token,
    verifies: (token) => verifier.verify(token, RESOURCE) !== undefined,
  };
}

describe('platform keys in PostgreSQL', () => {
  it('rotate through one instance: the other signs with the new kid after its poll, tokens of both verify on both, a dropped key stops on both', async () => {
    const url = await database();
    const a = await instance(url); // first start (development): generates the keys into the database
    const b = await instance(url);
    expect(b.keys.current.kid).toBe(a.keys.current.kid);
    const oldToken = a.sign();

    const rotation = await rotatePlatformKeys(config, { store: databaseKeyStore(postgresKeyRows(pool(url)), KEK) });
    expect(await a.reloader.checkNow()).toBe('reloaded');
    expect(await b.reloader.checkNow()).toBe('reloaded');
    expect(await b.reloader.checkNow()).toBe('unchanged');
    // Published by both first (pending), signing from sign_after on both.
    expect(b.keys.byKid.has(rotation.kid)).toBe(true);
    expect(a.keys.current.kid).not.toBe(rotation.kid);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (rotation.signsFrom + 1) * 1000 - Date.now())));
    expect(await a.reloader.checkNow()).toBe('reloaded');
    expect(await b.reloader.checkNow()).toBe('reloaded');
    expect(a.keys.current.kid).toBe(rotation.kid);
    expect(b.keys.current.kid).toBe(rotation.kid);
    expect(b.keys.publicJwks).toEqual(a.keys.publicJwks);
    const newToken = b.sign();
    for (const i of [a, b]) {
      expect(i.verifies(oldToken)).toBe(true);
      expect(i.verifies(newToken)).toBe(true);
    }

    await rotatePlatformKeys(config, { store: databaseKeyStore(postgresKeyRows(pool(url)), KEK), dropPrevious: true });
    await a.reloader.checkNow();
    await b.reloader.checkNow();
    for (const i of [a, b]) {
      expect(i.verifies(oldToken)).toBe(false);
      expect(i.verifies(newToken)).toBe(false);
      expect(i.verifies(i === a ? b.sign() : a.sign())).toBe(true);
    }
  });

  it('two rotations at once from two machines: one wins, the other is refused, the list is never mixed; nothing in the clear', async () => {
    const url = await database();
    await instance(url);
    const stores = [databaseKeyStore(postgresKeyRows(pool(url)), KEK), databaseKeyStore(postgresKeyRows(pool(url)), KEK)];
    const results = await Promise.allSettled(stores.map((store) => rotatePlatformKeys(config, { store })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    // Both may also succeed one after the other (the second read after the first wrote): never a lost write.
    const keys = await stores[0]!.read();
    if (lost.length === 1) {
      expect(won).toHaveLength(1);
      expect(String((lost[0] as PromiseRejectedResult).reason)).toMatch(/changed while this command ran/);
      expect(keysOfPurpose(keys, 'access')).toHaveLength(2);
    } else {
      expect(keysOfPurpose(keys, 'access')).toHaveLength(3);
    }
    // A stale write is refused outright.
    const stale = String(Number(await stores[0]!.version()) - 1);
    await expect(stores[1]!.write(keys.slice(1), stale)).rejects.toBeInstanceOf(KeySetChanged);
    expect(await stores[0]!.read()).toEqual(keys);
    const rows = (await pool(url).query<{ sealed_jwk: string }>('SELECT sealed_jwk FROM platform_keys')).rows;
    expect(rows.length).toBe(keys.length);
    for (const row of rows) expect(row.sealed_jwk).not.toContain('"d"');
  });

  it('/healthz probes PostgreSQL through the pool: ok while it answers, 503 database unreachable once it is gone', async () => {
    const own = await startPostgres();
    try {
      const p = createPool({ url: await own.createDatabase(), poolSize: 1 });
      pools.push(p);
      const app = express().use(healthRoutes({ store: undefined as never, log: createLogger('silent') }, poolProbe(p)));
      const up = await request(app).get('/healthz');
      expect(up.status).toBe(200);
      expect(up.body).toEqual({ status: 'ok', database: 'ok' });
      await own.stop();
      const down = await request(app).get('/healthz');
      expect(down.status).toBe(503);
      expect(down.body).toMatchObject({ status: 'unavailable', database: 'unreachable' });
    } finally {
      await own.stop().catch(() => {});
    }
  });
});
