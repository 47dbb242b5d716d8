// Signing keys for operators: list, rotate and retire the platform keys, and generate the two
// production key files. The service reads the key files at start-up (and on SIGHUP).
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/env.ts';
import {
  generatePrivateJwk,
  isRetired,
  partitionRetiredKeys,
  readKeyFile,
  rotateKeys,
  writeKeyFile,
  type PrivateJwk,
} from '../config/keys.ts';
import { nowSeconds } from '../db/open.ts';
import { requireFileOwner } from './database.ts';
import { AdminError } from './errors.ts';

export interface KeyStatus {
  kid: string;
  alg: string;
  /** signing: the first key; verifying: rotated out, still published; retired: past retire_after, ignored. */
  role: 'signing' | 'verifying' | 'retired';
  retireAfter: number | null;
}

type KeyConfig = Pick<Config, 'platformKeysFile' | 'accessTokenTtlSeconds' | 'sessionTtlSeconds'>;

function keyStatuses(keys: PrivateJwk[], now: number): KeyStatus[] {
  return keys.map((key, i) => ({
    kid: key.kid,
    alg: key.alg ?? 'RS256',
    role: i === 0 ? 'signing' : isRetired(key, i, now) ? 'retired' : 'verifying',
    retireAfter: key.retire_after ?? null,
  }));
}

function readPlatformKeys(file: string): PrivateJwk[] {
  if (!fs.existsSync(file)) {
    throw new AdminError(
      `There is no platform key file at ${file}. Check PLATFORM_KEYS_FILE (and --env-file); create production keys with \`keys generate --out DIR\`.`,
    );
  }
  requireFileOwner(file);
  return readKeyFile(file);
}

export function listKeys(config: Pick<Config, 'platformKeysFile'>, now = nowSeconds()): KeyStatus[] {
  return keyStatuses(readPlatformKeys(config.platformKeysFile), now);
}

/** The longest a token signed now can stay valid: access tokens and session cookies are both signed. */
export function longestTokenLifetime(config: Pick<Config, 'accessTokenTtlSeconds' | 'sessionTtlSeconds'>): number {
  return Math.max(config.accessTokenTtlSeconds, config.sessionTtlSeconds);
}

export interface RotationResult {
  file: string;
  /** The new signing key. */
  kid: string;
  /** The key it replaces, now verifying only, and when it may go. */
  previousKid: string;
  retireAfter: number;
  keys: KeyStatus[];
}

export interface RotateOptions {
  now?: number;
  /**
   * A compromised key: retire the previous key at once instead of after its tokens expire. Sessions
   * and access tokens it signed stop working at the next reload (people sign in again; MCP clients
   * refresh, as refresh tokens are opaque and not signed).
   */
  dropPrevious?: boolean;
}

/** Prepends a fresh RS256 key; the previous signing key verifies until now + the longest token lifetime. */
export async function rotatePlatformKeys(config: KeyConfig, options: RotateOptions = {}): Promise<RotationResult> {
  const now = options.now ?? nowSeconds();
  const file = config.platformKeysFile;
  const keys = readPlatformKeys(file);
  const fresh = await generatePrivateJwk('RS256');
  const retireAfter = options.dropPrevious ? now : now + longestTokenLifetime(config);
  const rotated = rotateKeys(keys, fresh, retireAfter);
  writeKeyFile(file, rotated);
  return { file, kid: fresh.kid, previousKid: keys[0]!.kid, retireAfter, keys: keyStatuses(rotated, now) };
}

export interface RetireResult {
  file: string;
  retired: string[];
  keys: KeyStatus[];
}

/** Deletes rotated-out keys past their retire_after from the file (the loader already ignores them). */
export function retirePlatformKeys(config: Pick<Config, 'platformKeysFile'>, options: { now?: number; dryRun?: boolean } = {}): RetireResult {
  const now = options.now ?? nowSeconds();
  const file = config.platformKeysFile;
  const { kept, retired } = partitionRetiredKeys(readPlatformKeys(file), now);
  if (retired.length > 0 && !options.dryRun) writeKeyFile(file, kept);
  return { file, retired: retired.map((k) => k.kid), keys: keyStatuses(kept, now) };
}

export const PLATFORM_KEYS_FILENAME = 'platform-keys.json';
export const ATPROTO_CLIENT_KEYS_FILENAME = 'atproto-client-keys.json';

export interface GeneratedKeys {
  platformKeysFile: string;
  platformKid: string;
  atprotoClientKeysFile: string;
  atprotoKid: string;
}

/**
 * Production keys: DIR/platform-keys.json (RS256) and DIR/atproto-client-keys.json (ES256), mode
 * 0600 in a directory created 0700. Refuses to overwrite either file: replacing a key signs every
 * user out and breaks the ATProto client; rotate instead.
 */
export async function generateProductionKeys(dir: string): Promise<GeneratedKeys> {
  const target = path.resolve(dir);
  const platformKeysFile = path.join(target, PLATFORM_KEYS_FILENAME);
  const atprotoClientKeysFile = path.join(target, ATPROTO_CLIENT_KEYS_FILENAME);
  const existing = [platformKeysFile, atprotoClientKeysFile].filter((f) => fs.existsSync(f));
  if (existing.length > 0) {
    throw new AdminError(`Refusing to overwrite ${existing.join(' and ')}. To replace the platform key, use \`keys rotate\`.`);
  }
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  const platform = await generatePrivateJwk('RS256');
  const atproto = await generatePrivateJwk('ES256');
  createKeyFile(platformKeysFile, [platform]);
  createKeyFile(atprotoClientKeysFile, [atproto]);
  return { platformKeysFile, platformKid: platform.kid, atprotoClientKeysFile, atprotoKid: atproto.kid };
}

/** Writes a new key file, mode 0600, failing if it exists (the link is the atomic no-clobber step). */
function createKeyFile(file: string, keys: PrivateJwk[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  try {
    // Run as root into a directory the service's user owns: hand the file to that user.
    const dir = fs.statSync(path.dirname(file));
    if (process.getuid?.() === 0 && dir.uid !== 0) fs.chownSync(tmp, dir.uid, dir.gid);
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'EEXIST') throw new AdminError(`Refusing to overwrite ${file}.`);
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
