// Issue 9 finding 11, "Low: keys". Attacks on how key files are written, and on --drop-previous:
//  - a symlink planted at the old predictable temp name (`<file>.<pid>.tmp`) made `keys rotate` write
//    the private key set into the attacker's (world-readable) file;
//  - a key file that is itself a symlink is refused, not written through or replaced;
//  - `keys rotate --drop-previous` (a compromised key) retired only the key it replaced; it must
//    retire every non-signing key.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listKeys, rotatePlatformKeys } from '../../src/admin/keys.ts';
import { parseConfig, type Config } from '../../src/config/env.ts';
import { generatePrivateJwk, readKeyFile, writeKeyFile } from '../../src/config/keys.ts';

// These tests are about rotation itself: no verifier caches our key sets here (JWKS_MAX_AGE_SECONDS=0,
// src/config/jwks-cache.ts), so a rotated key is not held back for the cache's max-age.
const NO_JWKS_CACHE = { JWKS_MAX_AGE_SECONDS: '0' };

let dir: string;
let elsewhere: string;
let config: Config;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-sec-'));
  elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-sec-elsewhere-'));
  config = parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...NO_JWKS_CACHE });
  writeKeyFile(config.platformKeysFile, [await generatePrivateJwk('RS256')]);
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(elsewhere, { recursive: true, force: true });
});

function worldOrGroupReadable(root: string): string[] {
  return fs
    .readdirSync(root, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(root, name))
    .filter((file) => fs.lstatSync(file).isFile() && (fs.statSync(file).mode & 0o077) !== 0);
}

describe('writing key files', () => {
  it('a symlink planted at the old predictable temp name does not receive the private keys', async () => {
    const stolen = path.join(elsewhere, 'stolen.json');
    fs.writeFileSync(stolen, '', { mode: 0o644 });
    fs.chmodSync(stolen, 0o644);
    fs.symlinkSync(stolen, `${config.platformKeysFile}.${process.pid}.tmp`);

    await rotatePlatformKeys(config);

    expect(fs.readFileSync(stolen, 'utf8')).toBe('');
    expect(fs.lstatSync(config.platformKeysFile).isFile()).toBe(true);
    expect(fs.statSync(config.platformKeysFile).mode & 0o777).toBe(0o600);
    expect(readKeyFile(config.platformKeysFile).length).toBeGreaterThanOrEqual(2);
    expect(worldOrGroupReadable(path.dirname(config.platformKeysFile))).toEqual([]);
  });

  it('refuses a key file that is a symlink, and leaves its target alone', async () => {
    const real = path.join(elsewhere, 'real.json');
    fs.renameSync(config.platformKeysFile, real);
    fs.symlinkSync(real, config.platformKeysFile);
    const before = fs.readFileSync(real, 'utf8');

    await expect(rotatePlatformKeys(config)).rejects.toThrow(/symbolic link/);
    expect(fs.readFileSync(real, 'utf8')).toBe(before);
    expect(fs.lstatSync(config.platformKeysFile).isSymbolicLink()).toBe(true);
    // Nothing was left behind in the key directory (no temp file, readable or not).
    expect(fs.readdirSync(path.dirname(config.platformKeysFile))).toEqual([path.basename(config.platformKeysFile)]);
  });
});

describe('keys rotate --drop-previous', () => {
  it('retires EVERY non-signing key, not only the one it replaces', async () => {
    await rotatePlatformKeys(config);
    await rotatePlatformKeys(config);
    expect(listKeys(config).map((k) => k.role)).toEqual(['signing', 'verifying', 'verifying']);

    const result = await rotatePlatformKeys(config, { dropPrevious: true });

    const roles = listKeys(config).map((k) => [k.kid, k.role]);
    expect(roles[0]).toEqual([result.kid, 'signing']);
    expect(roles.slice(1).map(([, role]) => role)).toEqual(['retired', 'retired', 'retired']);
  });
});
