// Signing keys: generated (mode 0600) only in development, loaded as-is in production, and only
// their public halves are ever published.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as jose from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/env.ts';
import {
  generatePrivateJwk,
  loadOrCreateKeyFile,
  loadPlatformKeySets,
  loadPlatformKeys,
  readKeyFile,
  toSigningKey,
  writeKeyFile,
} from '../../src/config/keys.ts';
import { createContext } from '../../src/context.ts';
import { createLogger } from '../../src/web/log.ts';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-keys-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

const modeOf = (file: string) => fs.statSync(file).mode & 0o777;

describe('development: missing key files are generated, private to the owner', () => {
  it('creates the file with mode 0600 (and its directory 0700) holding one private key', async () => {
    const file = path.join(dir, 'keys', 'platform-keys.json');
    const keys = await loadOrCreateKeyFile(file, 'RS256', true);
    expect(modeOf(file)).toBe(0o600);
    expect(modeOf(path.dirname(file))).toBe(0o700);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(keys[0]!.d.length).toBeGreaterThan(0);
    expect(readKeyFile(file)).toEqual(keys);
  });

  it('keeps an existing key file instead of generating a new key', async () => {
    const file = path.join(dir, 'atproto-client-keys.json');
    const first = await loadOrCreateKeyFile(file, 'ES256', true);
    const second = await loadOrCreateKeyFile(file, 'ES256', true);
    expect(second[0]!.kid).toBe(first[0]!.kid);
  });

  it('names each key by its RFC 7638 thumbprint', async () => {
    const jwk = await generatePrivateJwk('ES256');
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(jwk.kid).toBe(await jose.calculateJwkThumbprint(jwk));
  });

  it('a development context generates both key files with mode 0600', async () => {
    const config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent' });
    const ctx = await createContext(config, { log: createLogger('silent') });
    try {
      expect(modeOf(config.platformKeysFile)).toBe(0o600);
      expect(modeOf(config.atprotoClientKeysFile)).toBe(0o600);
    } finally {
      ctx.close();
    }
  });
});

describe('production: key files are never generated', () => {
  it('refuses a missing key file and does not create it', async () => {
    const file = path.join(dir, 'missing.json');
    await expect(loadOrCreateKeyFile(file, 'ES256', false)).rejects.toThrow(ConfigError);
    await expect(loadOrCreateKeyFile(file, 'ES256', false)).rejects.toThrow(/does not exist \(production never generates keys\)/);
    expect(fs.existsSync(file)).toBe(false);
  });

  it('a production context with missing key files fails to start and leaves no key behind', async () => {
    const config = parseConfig({
      PUBLIC_URL: 'https://wiki.example',
      DATA_DIR: dir,
      PLATFORM_KEYS_FILE: path.join(dir, 'platform.json'),
      ATPROTO_CLIENT_KEYS_FILE: path.join(dir, 'atproto.json'),
      LOG_LEVEL: 'silent',
    });
    await expect(createContext(config, { log: createLogger('silent') })).rejects.toThrow(ConfigError);
    expect(fs.existsSync(config.platformKeysFile)).toBe(false);
    expect(fs.existsSync(config.atprotoClientKeysFile)).toBe(false);
  });

  it('loads key files that exist', async () => {
    const file = path.join(dir, 'platform.json');
    const jwk = await generatePrivateJwk('RS256');
    writeKeyFile(file, [jwk]);
    expect(await loadOrCreateKeyFile(file, 'RS256', false)).toEqual([jwk]);
  });
});

describe('key files must hold private JWKs with a kid', () => {
  it('refuses invalid JSON, public-only keys, keys without kid and empty sets', async () => {
    const file = path.join(dir, 'k.json');
    const jwk = await generatePrivateJwk('ES256');
    const { d: _d, ...publicOnly } = jwk;
    const { kid: _kid, ...noKid } = jwk;
    for (const content of ['{not json', JSON.stringify({ keys: [publicOnly] }), JSON.stringify({ keys: [noKid] }), JSON.stringify({ keys: [] })]) {
      fs.writeFileSync(file, content);
      expect(() => readKeyFile(file), content.slice(0, 40)).toThrow(ConfigError);
    }
  });

  it('refuses an unreadable file with its path in the message', () => {
    const file = path.join(dir, 'nope.json');
    expect(() => readKeyFile(file)).toThrow(file);
  });
});

describe('published key sets carry no private key material', () => {
  it('the platform public JWKS has only public members, one per key, current first', async () => {
    const jwks = [await generatePrivateJwk('RS256'), await generatePrivateJwk('RS256')];
    const keys = await loadPlatformKeys(jwks);
    expect(keys.current.kid).toBe(jwks[0]!.kid);
    expect(keys.publicJwks.keys.map((k) => k.kid)).toEqual(jwks.map((k) => k.kid));
    for (const key of keys.publicJwks.keys) {
      for (const member of PRIVATE_MEMBERS) expect(key, member).not.toHaveProperty(member);
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      expect(key.n).toBeTruthy();
      expect(key.e).toBeTruthy();
    }
  });

  it('an EC signing key publishes x and y but not d', async () => {
    const key = await toSigningKey(await generatePrivateJwk('ES256'));
    expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
    expect(key.publicJwk.x).toBeTruthy();
    expect(key.publicJwk).not.toHaveProperty('d');
  });

  it('tokens signed by the current key verify with the public set; a rotated-out key still verifies', async () => {
    const old = await generatePrivateJwk('RS256');
    const current = await generatePrivateJwk('RS256');
    const before = await loadPlatformKeys([old]);
    const after = await loadPlatformKeys([current, old]);
    const sign = (k: typeof before.current) =>
      new jose.SignJWT({ x: 1 }).setProtectedHeader({ alg: k.alg, kid: k.kid }).setExpirationTime('1m').sign(k.privateKey);
    await expect(jose.jwtVerify(await sign(after.current), after.verificationKeySet)).resolves.toBeTruthy();
    await expect(jose.jwtVerify(await sign(before.current), after.verificationKeySet)).resolves.toBeTruthy();
    await expect(jose.jwtVerify(await sign(after.current), before.verificationKeySet)).rejects.toThrow();
  });

  it('the secret seed differs per key and is stable for one key', async () => {
    const a = await generatePrivateJwk('RS256');
    const b = await generatePrivateJwk('RS256');
    const a1 = await toSigningKey(a);
    const a2 = await toSigningKey(a);
    const b1 = await toSigningKey(b);
    expect(a1.secretSeed.equals(a2.secretSeed)).toBe(true);
    expect(a1.secretSeed.equals(b1.secretSeed)).toBe(false);
    expect(a1.secretSeed).toHaveLength(32);
  });
});

describe('writeKeyFile', () => {
  it('writes mode 0600 and leaves no temporary file behind', async () => {
    const file = path.join(dir, 'nested', 'keys.json');
    writeKeyFile(file, [await generatePrivateJwk('ES256')]);
    expect(modeOf(file)).toBe(0o600);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['keys.json']);
  });
});

describe('access keys of either algorithm (ACCESS_TOKEN_ALG)', () => {
  it('a new development file gets an access key of ACCESS_TOKEN_ALG and an RS256 identity key', async () => {
    const file = path.join(dir, 'keys', 'platform-keys.json');
    const sets = await loadPlatformKeySets(file, true, undefined, { alg: 'ES256', ttlSeconds: 600 });
    expect(sets.access.current.alg).toBe('ES256');
    expect(sets.access.current.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(sets.identity.current.alg).toBe('RS256');
    expect([...sets.access.acceptedAlgorithms]).toEqual(['ES256']);
    expect(sets.access.byKid.get(sets.access.current.kid)).toBe(sets.access.current);
  });

  it('accepts the other algorithm only while a key of that kind is loaded; the signing key must be the configured kind', async () => {
    const ec = await generatePrivateJwk('ES256', 'access');
    const rsa = await generatePrivateJwk('RS256', 'access');
    const both = await loadPlatformKeys([ec, rsa], undefined, 'access', 'ES256');
    expect([...both.acceptedAlgorithms].sort()).toEqual(['ES256', 'RS256']);
    expect(both.publicJwks.keys.map((k) => k.kty)).toEqual(['EC', 'RSA']);
    const now = Math.floor(Date.now() / 1000);
    const after = await loadPlatformKeys([ec, { ...rsa, retire_after: now - 1 }], now, 'access', 'ES256');
    expect([...after.acceptedAlgorithms]).toEqual(['ES256']);
    await expect(loadPlatformKeys([rsa, ec], undefined, 'access', 'ES256')).rejects.toThrow(
      /ACCESS_TOKEN_ALG=ES256, but the access-token signing key .* is RS256\. .*keys rotate --alg ES256/,
    );
  });

  it('refuses keys whose type and alg disagree, other curves, and EC identity keys', async () => {
    const ec = await generatePrivateJwk('ES256', 'access');
    await expect(toSigningKey({ ...ec, alg: 'RS256' })).rejects.toThrow(ConfigError);
    await expect(toSigningKey({ ...ec, alg: 'HS256' })).rejects.toThrow(/must be RSA \(RS256\) or EC P-256 \(ES256\)/);
    await expect(toSigningKey({ ...ec, crv: 'P-384' })).rejects.toThrow(ConfigError);
    const rsa = await generatePrivateJwk('RS256');
    await expect(toSigningKey({ ...rsa, alg: 'ES256' })).rejects.toThrow(ConfigError);
    await expect(toSigningKey({ ...rsa, alg: 'PS256' })).rejects.toThrow(ConfigError);
    const { alg: _alg, ...ecWithoutAlg } = ec;
    expect((await toSigningKey(ecWithoutAlg as typeof ec)).alg).toBe('ES256'); // the type implies it
    await expect(loadPlatformKeys([await generatePrivateJwk('ES256', 'identity')], undefined, 'identity')).rejects.toThrow(/RS256 only/);
  });

  it('production refuses a file whose signing access key is of the other kind, and writes nothing', async () => {
    const file = path.join(dir, 'platform-keys.json');
    writeKeyFile(file, [await generatePrivateJwk('RS256', 'access'), await generatePrivateJwk('RS256', 'identity')]);
    const before = fs.readFileSync(file, 'utf8');
    await expect(loadPlatformKeySets(file, false, undefined, { alg: 'ES256', ttlSeconds: 600 })).rejects.toThrow(/keys rotate --alg ES256/);
    expect(fs.readFileSync(file, 'utf8')).toBe(before);
  });
});
