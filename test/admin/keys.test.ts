// Key rotation end to end: after `keys rotate` and a restart the JWKS serves both keys, new tokens
// carry the new kid, and tokens signed by the old key still work; once the old key's retire_after has
// passed it is dropped (by the loader at start-up, and from the file by `keys retire`). Rotation is
// per purpose (access tokens / wiki identity tokens). Plus `keys generate` for production and
// `keys add-identity`, the upgrade step for a key file from before the key split.
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { User } from '../../src/accounts/users.repo.ts';
import { cookieNames } from '../../src/accounts/cookies.ts';
import { createSession } from '../../src/accounts/session.ts';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { generatePrivateJwk, keysOfPurpose, readKeyFile, writeKeyFile, type PrivateJwk } from '../../src/config/keys.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { generateProductionKeys, listKeys, longestTokenLifetime, retirePlatformKeys, rotatePlatformKeys } from '../../src/admin/keys.ts';
import { runCli } from '../../src/admin/program.ts';
import { nowSeconds } from '../../src/db/open.ts';
import { createLogger } from '../../src/web/log.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedUser, tempData, type TempData } from '../support/seed.ts';

// These tests are about rotation itself: no verifier caches our key sets here (JWKS_MAX_AGE_SECONDS=0,
// src/config/jwks-cache.ts), so a rotated key is not held back for the cache's max-age.
const NO_JWKS_CACHE = { JWKS_MAX_AGE_SECONDS: '0' };

type App = ReturnType<typeof createApp>;

let t: TempData;
let alice: User;
let clientId: string;
let refreshToken: string;
const contexts: AppContext[] = [];

beforeEach(async () => {
  t = tempData(NO_JWKS_CACHE);
  alice = await seedUser(t, 'alice');
  clientId = await seedClient(t);
  refreshToken = (await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId })).refreshToken;
});
afterEach(() => {
  for (const ctx of contexts.splice(0)) ctx.close();
  t.cleanup();
});

/** A service start: a fresh context reads the key file as it is now. */
async function start(config = t.config) {
  const ctx = await createContext(config, { log: createLogger('silent') });
  contexts.push(ctx);
  return { ctx, app: createApp(ctx) };
}

async function refresh(app: App): Promise<string> {
  const res = await request(app)
    .post('/auth/oauth/token')
    .type('form')
    .send({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  refreshToken = (res.body as { refresh_token: string }).refresh_token;
  return (res.body as { access_token: string }).access_token;
}

const verify = (app: App, token: string) =>
  request(app).get('/auth/verify').set('Host', 'alice.localhost:3000').set('Authorization', `Bearer ${token}`);

const jwksKids = async (app: App) => {
  const res = await request(app).get('/.well-known/jwks.json');
  expect(res.status).toBe(200);
  return res.body as { keys: jose.JWK[] };
};

const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;

function setRetireAfter(kid: string, retireAfter: number): void {
  const keys = readKeyFile(t.config.platformKeysFile).map((k): PrivateJwk => (k.kid === kid ? { ...k, retire_after: retireAfter } : k));
  writeKeyFile(t.config.platformKeysFile, keys);
}

describe('keys rotate', () => {
  it('keeps the old key verifying until its tokens expire, and signs new tokens with the new key', async () => {
    const first = await start();
    const oldKid = first.ctx.platformKeys.current.kid;
    const oldToken = await refresh(first.app);
    expect(kidOf(oldToken)).toBe(oldKid);
    const oldCookie = await createSession(first.ctx, alice, 'test');

    const before = nowSeconds();
    const rotation = await rotatePlatformKeys(t.config);
    expect(rotation.previousKid).toBe(oldKid);
    expect(rotation.retireAfter - before).toBeGreaterThanOrEqual(longestTokenLifetime(t.config));
    expect(rotation.retireAfter - before).toBeLessThanOrEqual(longestTokenLifetime(t.config) + 2);
    expect(longestTokenLifetime(t.config)).toBe(t.config.accessTokenTtlSeconds);
    expect(fs.statSync(t.config.platformKeysFile).mode & 0o777).toBe(0o600);

    // The restart: the service reads the rotated file.
    first.ctx.close();
    const second = await start();
    const jwks = await jwksKids(second.app);
    expect(jwks.keys.map((k) => k.kid)).toEqual([rotation.kid, oldKid]);
    for (const key of jwks.keys) {
      expect(Object.keys(key).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    }
    const newToken = await refresh(second.app);
    expect(kidOf(newToken)).toBe(rotation.kid);
    expect((await verify(second.app, oldToken)).status).toBe(200);
    expect((await verify(second.app, newToken)).status).toBe(200);
    // Browser sessions are rows, not signed: a rotation does not sign anyone out.
    const account = await request(second.app).get('/account').set('Cookie', `${cookieNames(t.config).session}=${oldCookie}`);
    expect(account.status).toBe(200);
  });

  it('drops the old key once retire_after has passed: at start-up, and from the file with keys retire', async () => {
    const first = await start();
    const oldKid = first.ctx.platformKeys.current.kid;
    const oldToken = await refresh(first.app);
    const { kid: newKid } = await rotatePlatformKeys(t.config);

    // Not yet: nothing to retire.
    expect(retirePlatformKeys(t.config).retired).toEqual([]);
    const accessKids = () => keysOfPurpose(readKeyFile(t.config.platformKeysFile), 'access').map((k) => k.kid);
    expect(accessKids()).toEqual([newKid, oldKid]);

    setRetireAfter(oldKid, nowSeconds() - 1);
    expect(listKeys(t.config).map((k) => [k.purpose, k.role])).toEqual([
      ['access', 'signing'],
      ['access', 'retired'],
      ['identity', 'signing'],
    ]);
    const later = await start();
    expect((await jwksKids(later.app)).keys.map((k) => k.kid)).toEqual([newKid]);
    expect((await verify(later.app, oldToken)).status).toBe(401);
    expect((await verify(later.app, await refresh(later.app))).status).toBe(200);

    // The loader ignored it; `keys retire` removes it from the file (a dry run does not).
    const dry = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'retire', '--dry-run'], dry.io)).toBe(0);
    expect(dry.stdout()).toBe(`Would remove ${oldKid} from ${t.config.platformKeysFile}.`);
    expect(readKeyFile(t.config.platformKeysFile)).toHaveLength(3);
    const real = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'retire'], real.io)).toBe(0);
    expect(real.stdout()).toContain(`Removed ${oldKid}`);
    expect(accessKids()).toEqual([newKid]);
  });

  it('a second rotation keeps the earlier retire_after of older keys; the signing key is never retired', async () => {
    await start();
    const a = await rotatePlatformKeys(t.config, { now: 1_000 });
    const b = await rotatePlatformKeys(t.config, { now: 2_000 });
    const keys = listKeys(t.config, 1_500).filter((k) => k.purpose === 'access');
    expect(keys.map((k) => k.kid)).toEqual([b.kid, a.kid, a.previousKid]);
    expect(keys.map((k) => k.retireAfter)).toEqual([null, 2_000 + longestTokenLifetime(t.config), 1_000 + longestTokenLifetime(t.config)]);
    // A signing key carrying a stale retire_after (edited by hand) still signs.
    setRetireAfter(b.kid, 1);
    const result = retirePlatformKeys(t.config, { now: 10_000_000_000 });
    expect(result.retired).toEqual([a.kid, a.previousKid]);
    expect(result.keys.filter((k) => k.purpose === 'access').map((k) => [k.kid, k.role])).toEqual([[b.kid, 'signing']]);
  });

  it('--drop-previous retires a compromised key at once: its tokens fail after the reload', async () => {
    const first = await start();
    const oldKid = first.ctx.platformKeys.current.kid;
    const oldToken = await refresh(first.app);
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate', '--drop-previous'], capture.io)).toBe(0);
    expect(capture.stdout()).toContain(`Retired ${oldKid}:`);
    first.ctx.close();
    const second = await start();
    expect((await jwksKids(second.app)).keys.map((k) => k.kid)).not.toContain(oldKid);
    expect((await verify(second.app, oldToken)).status).toBe(401);
    // The refresh token is opaque: the client gets a token signed by the new key.
    expect((await verify(second.app, await refresh(second.app))).status).toBe(200);
  });

  it('prints what it did and what to do next, through the CLI', async () => {
    await start();
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate'], capture.io)).toBe(0);
    const [newKid, oldKid, identityKid] = readKeyFile(t.config.platformKeysFile).map((k) => k.kid);
    expect(capture.stdout()).toMatch(new RegExp(`^New access signing key ${newKid} \\(RS256\\) written to .*platform-keys\\.json\\.\\nThe previous key ${oldKid} verifies until \\d{4}-\\d\\d-\\d\\dT`));
    expect(capture.stdout()).toContain('systemctl reload robot-auth');
    const list = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'list', '--json'], list.io)).toBe(0);
    expect(JSON.parse(list.stdout())).toEqual([
      { kid: newKid, alg: 'RS256', purpose: 'access', role: 'signing', retire_after: null },
      { kid: oldKid, alg: 'RS256', purpose: 'access', role: 'verifying', retire_after: expect.stringMatching(/Z$/) },
      { kid: identityKid, alg: 'RS256', purpose: 'identity', role: 'signing', retire_after: null },
    ]);
  });

  it('--drop-previous retires EVERY non-signing key of that purpose, not only the one it replaces', async () => {
    const first = await start();
    const identityKid = first.ctx.identityKeys.current.kid;
    const original = first.ctx.platformKeys.current.kid;
    const a = await rotatePlatformKeys(t.config);
    const b = await rotatePlatformKeys(t.config);
    expect(listKeys(t.config).filter((k) => k.role === 'verifying').map((k) => k.kid)).toEqual([a.kid, original]);
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate', '--drop-previous'], capture.io)).toBe(0);
    const statuses = listKeys(t.config);
    const newest = statuses[0]!;
    expect(statuses.map((k) => [k.kid, k.purpose, k.role])).toEqual([
      [newest.kid, 'access', 'signing'],
      [b.kid, 'access', 'retired'],
      [a.kid, 'access', 'retired'],
      [original, 'access', 'retired'],
      [identityKid, 'identity', 'signing'],
    ]);
    first.ctx.close();
    const second = await start();
    expect((await jwksKids(second.app)).keys.map((k) => k.kid)).toEqual([newest.kid]);
    // The other purpose is untouched.
    expect(second.ctx.identityKeys.current.kid).toBe(identityKid);
  });

  it('--purpose identity rotates the identity key only; the access-token JWKS never shows it', async () => {
    const first = await start();
    const accessKid = first.ctx.platformKeys.current.kid;
    const oldIdentity = first.ctx.identityKeys.current.kid;
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate', '--purpose', 'identity'], capture.io)).toBe(0);
    const second = await start();
    expect(second.ctx.platformKeys.current.kid).toBe(accessKid);
    expect(second.ctx.identityKeys.all.map((k) => k.kid)).toEqual([second.ctx.identityKeys.current.kid, oldIdentity]);
    expect(second.ctx.identityKeys.current.kid).not.toBe(oldIdentity);
    expect((await jwksKids(second.app)).keys.map((k) => k.kid)).toEqual([accessKid]);
    const identityJwks = await request(second.app).get('/auth/wiki-identity/jwks.json');
    expect((identityJwks.body as { keys: jose.JWK[] }).keys.map((k) => k.kid)).toEqual(second.ctx.identityKeys.all.map((k) => k.kid));
    expect(await runCli(['keys', 'rotate', '--purpose', 'session'], captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir).io)).toBe(1);
  });

  it('refuses when there is no key file', async () => {
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate'], capture.io)).toBe(1);
    expect(capture.stderr()).toMatch(/There is no platform key file at .*platform-keys\.json/);
  });
});

describe('keys add-identity: upgrading a key file from before the key split', () => {
  it('production refuses to start without an identity key, naming the command; after it, the legacy key still signs access tokens', async () => {
    const dir = path.join(t.dir, 'legacy');
    const keys = await generateProductionKeys(dir);
    // A file as written before the split: one RS256 key, no `purpose`.
    const legacy = await generatePrivateJwk('RS256');
    fs.rmSync(keys.platformKeysFile);
    writeKeyFile(keys.platformKeysFile, [legacy]);
    const env = { PUBLIC_URL: 'https://example.org', DATA_DIR: t.dir, PLATFORM_KEYS_FILE: keys.platformKeysFile, ATPROTO_CLIENT_KEYS_FILE: keys.atprotoClientKeysFile, LOG_LEVEL: 'silent' };
    const config = parseConfig(env);
    await expect(createContext(config, { log: createLogger('silent') })).rejects.toThrow(
      /has no identity-token key .*`npm run admin -- keys add-identity`/,
    );
    expect(readKeyFile(keys.platformKeysFile)).toHaveLength(1); // production never writes keys itself

    const capture = captureIo(env, t.dir);
    expect(await runCli(['keys', 'add-identity'], capture.io)).toBe(0);
    expect(capture.stdout()).toMatch(/^Added identity-token key \S+ to .*platform-keys\.json/);
    expect(fs.statSync(keys.platformKeysFile).mode & 0o777).toBe(0o600);
    const ctx = await createContext(config, { log: createLogger('silent') });
    contexts.push(ctx);
    expect(ctx.platformKeys.all.map((k) => k.kid)).toEqual([legacy.kid]);
    expect(ctx.identityKeys.all.map((k) => k.kid)).not.toContain(legacy.kid);

    const again = captureIo(env, t.dir);
    expect(await runCli(['keys', 'add-identity'], again.io)).toBe(1);
    expect(again.stderr()).toMatch(/already has an identity-token key/);
  });

  it('development adds the missing identity key by itself', async () => {
    const legacy = await generatePrivateJwk('RS256');
    writeKeyFile(t.config.platformKeysFile, [legacy]);
    const { ctx } = await start();
    expect(ctx.platformKeys.current.kid).toBe(legacy.kid);
    expect(keysOfPurpose(readKeyFile(t.config.platformKeysFile), 'identity')).toHaveLength(1);
  });
});

describe('keys generate', () => {
  it('writes an RS256 platform key and an ES256 ATProto key, mode 0600, that a production service loads', async () => {
    const dir = path.join(t.dir, 'etc', 'keys');
    const keys = await generateProductionKeys(dir);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    expect(fs.readdirSync(dir).sort()).toEqual(['atproto-client-keys.json', 'platform-keys.json']);
    for (const file of [keys.platformKeysFile, keys.atprotoClientKeysFile]) expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(readKeyFile(keys.platformKeysFile)).toEqual([
      expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid: keys.platformKid, purpose: 'access' }),
      expect.objectContaining({ kty: 'RSA', alg: 'RS256', kid: keys.identityKid, purpose: 'identity' }),
    ]);
    expect(readKeyFile(keys.atprotoClientKeysFile)).toEqual([expect.objectContaining({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: keys.atprotoKid })]);

    const config = parseConfig({
      PUBLIC_URL: 'https://example.org',
      DATA_DIR: t.dir,
      PLATFORM_KEYS_FILE: keys.platformKeysFile,
      ATPROTO_CLIENT_KEYS_FILE: keys.atprotoClientKeysFile,
      LOG_LEVEL: 'silent',
    });
    const ctx = await createContext(config, { log: createLogger('silent') });
    contexts.push(ctx);
    expect(ctx.platformKeys.current.kid).toBe(keys.platformKid);
    expect(ctx.identityKeys.current.kid).toBe(keys.identityKid);
  });

  it('refuses to overwrite either file and leaves both as they were', async () => {
    const dir = path.join(t.dir, 'keys-out');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'atproto-client-keys.json'), 'precious');
    const capture = captureIo({}, t.dir);
    expect(await runCli(['keys', 'generate', '--out', dir], capture.io)).toBe(1);
    expect(capture.stderr()).toMatch(/Refusing to overwrite .*atproto-client-keys\.json/);
    expect(fs.readdirSync(dir)).toEqual(['atproto-client-keys.json']);
    expect(fs.readFileSync(path.join(dir, 'atproto-client-keys.json'), 'utf8')).toBe('precious');
  });

  it('needs --out', async () => {
    const capture = captureIo({}, t.dir);
    expect(await runCli(['keys', 'generate'], capture.io)).toBe(2);
    expect(capture.stderr()).toMatch(/needs --out DIR/);
  });
});

describe('ES256 access keys (ACCESS_TOKEN_ALG)', () => {
  const es256 = () => parseConfig({ DATA_DIR: t.dir, ...NO_JWKS_CACHE, LOG_LEVEL: 'silent', ACCESS_TOKEN_ALG: 'ES256' });
  const algOfToken = (token: string) => jose.decodeProtectedHeader(token).alg;

  it('switching RS256 -> ES256: rotate --alg ES256, restart; both kinds published and verifying until the RSA key retires', async () => {
    const first = await start();
    const rsaKid = first.ctx.platformKeys.current.kid;
    const rsaToken = await refresh(first.app);
    expect(algOfToken(rsaToken)).toBe('RS256');

    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir);
    expect(await runCli(['keys', 'rotate', '--alg', 'ES256'], capture.io)).toBe(0);
    const ecKid = readKeyFile(t.config.platformKeysFile)[0]!.kid;
    expect(capture.stdout()).toContain(`New access signing key ${ecKid} (ES256)`);
    expect(capture.stdout()).toContain('set ACCESS_TOKEN_ALG=ES256'); // the running config still says RS256

    // A restart that forgot ACCESS_TOKEN_ALG is refused in production (below); with it set:
    first.ctx.close();
    const second = await start(es256());
    const jwks = (await jwksKids(second.app)).keys;
    expect(jwks.map((k) => [k.kid, k.kty, k.alg])).toEqual([
      [ecKid, 'EC', 'ES256'],
      [rsaKid, 'RSA', 'RS256'],
    ]);
    expect(Object.keys(jwks[0]!).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(jwks.map((k) => k.kid)).not.toContain(second.ctx.identityKeys.current.kid);
    const ecToken = await refresh(second.app);
    expect(jose.decodeProtectedHeader(ecToken)).toEqual({ alg: 'ES256', kid: ecKid, typ: 'at+jwt' });
    expect((await verify(second.app, ecToken)).status).toBe(200);
    expect((await verify(second.app, rsaToken)).status).toBe(200); // still published: still verifies

    // Past the RSA key's retire_after: RS256 is no longer accepted at all, and `keys retire` deletes it.
    setRetireAfter(rsaKid, nowSeconds() - 1);
    const third = await start(es256());
    expect((await jwksKids(third.app)).keys.map((k) => k.kid)).toEqual([ecKid]);
    expect([...third.ctx.platformKeys.acceptedAlgorithms]).toEqual(['ES256']);
    expect((await verify(third.app, rsaToken)).status).toBe(401);
    expect((await verify(third.app, ecToken)).status).toBe(200);
    expect(retirePlatformKeys(t.config).retired).toEqual([rsaKid]);
    expect(listKeys(t.config).map((k) => [k.alg, k.purpose, k.role])).toEqual([
      ['ES256', 'access', 'signing'],
      ['RS256', 'identity', 'signing'],
    ]);
  });

  it('keys rotate follows ACCESS_TOKEN_ALG without --alg; identity keys stay RS256', async () => {
    await start(es256());
    const capture = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE, ACCESS_TOKEN_ALG: 'ES256' }, t.dir);
    expect(await runCli(['keys', 'rotate'], capture.io)).toBe(0);
    expect(capture.stdout()).toMatch(/^New access signing key \S+ \(ES256\)/);
    expect(capture.stdout()).toContain('systemctl reload robot-auth');
    const [fresh, previous] = keysOfPurpose(readKeyFile(t.config.platformKeysFile), 'access');
    expect([fresh?.kty, fresh?.crv, fresh?.alg, previous?.alg]).toEqual(['EC', 'P-256', 'ES256', 'ES256']);
    await expect(rotatePlatformKeys(es256(), { purpose: 'identity', alg: 'ES256' })).rejects.toThrow(/RS256 only/);
    const identity = captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE, ACCESS_TOKEN_ALG: 'ES256' }, t.dir);
    expect(await runCli(['keys', 'rotate', '--purpose', 'identity'], identity.io)).toBe(0);
    expect(keysOfPurpose(readKeyFile(t.config.platformKeysFile), 'identity').map((k) => k.alg)).toEqual(['RS256', 'RS256']);
    expect(await runCli(['keys', 'rotate', '--alg', 'HS256'], captureIo({ DATA_DIR: t.dir, ...NO_JWKS_CACHE }, t.dir).io)).toBe(1);
  });

  it('development rotates in a key of ACCESS_TOKEN_ALG by itself; the old one verifies until its tokens expire', async () => {
    const first = await start();
    const rsaKid = first.ctx.platformKeys.current.kid;
    const second = await start(es256());
    expect(second.ctx.platformKeys.current.alg).toBe('ES256');
    expect(second.ctx.platformKeys.all.map((k) => k.kid)).toEqual([second.ctx.platformKeys.current.kid, rsaKid]);
    const rsa = readKeyFile(t.config.platformKeysFile).find((k) => k.kid === rsaKid);
    expect(rsa?.retire_after).toBeGreaterThan(nowSeconds());
  });

  it('keys generate --alg ES256: a production service with ACCESS_TOKEN_ALG=ES256 loads it; one without refuses, naming the fix', async () => {
    const dir = path.join(t.dir, 'etc', 'keys');
    const capture = captureIo({}, t.dir);
    expect(await runCli(['keys', 'generate', '--out', dir, '--alg', 'ES256'], capture.io)).toBe(0);
    expect(capture.stdout()).toContain('ACCESS_TOKEN_ALG=ES256');
    const file = path.join(dir, 'platform-keys.json');
    expect(readKeyFile(file).map((k) => [k.kty, k.alg, k.purpose])).toEqual([
      ['EC', 'ES256', 'access'],
      ['RSA', 'RS256', 'identity'],
    ]);
    const env = { PUBLIC_URL: 'https://example.org', DATA_DIR: t.dir, PLATFORM_KEYS_FILE: file, ATPROTO_CLIENT_KEYS_FILE: path.join(dir, 'atproto-client-keys.json'), LOG_LEVEL: 'silent' };
    await expect(createContext(parseConfig(env), { log: createLogger('silent') })).rejects.toThrow(
      /ACCESS_TOKEN_ALG=RS256, but the access-token signing key .* is ES256\. .*`npm run admin -- keys rotate --alg RS256`.*or set ACCESS_TOKEN_ALG=ES256/,
    );
    expect(readKeyFile(file)).toHaveLength(2); // production never writes keys itself
    const ctx = await createContext(parseConfig({ ...env, ACCESS_TOKEN_ALG: 'ES256' }), { log: createLogger('silent') });
    contexts.push(ctx);
    expect(ctx.platformKeys.current.alg).toBe('ES256');
    expect(ctx.identityKeys.current.alg).toBe('RS256');
  });
});
