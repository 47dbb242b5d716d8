// Signing keys for operators: list, rotate and retire the platform keys (per purpose: access tokens
// or wiki identity tokens, see src/config/keys.ts), add the identity key a legacy file lacks, and
// generate the two production key files. The service reads the key files at start-up (and on SIGHUP).
// Access keys are RS256 or ES256 (ACCESS_TOKEN_ALG, or --alg): switching is a rotation to a key of the
// other kind; the old keys keep verifying until their retire_after. Identity keys are RS256 only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/env.ts';
import { accessTokenLifetime, IDENTITY_TOKEN_TTL_SECONDS } from '../lifetimes.ts';
import {
  algOf,
  generatePrivateJwk,
  isRetired,
  isSigningKey,
  keysOfPurpose,
  partitionRetiredKeys,
  purposeOf,
  type KeyPurpose,
  readKeyFile,
  rotateKeys,
  writeKeyFile,
  type PrivateJwk,
  type SigningAlg,
} from '../config/keys.ts';
import { nowSeconds } from '../db/open.ts';
import { requireFileOwner } from './database.ts';
import { AdminError } from './errors.ts';

export interface KeyStatus {
  kid: string;
  alg: string;
  /** access: MCP access tokens (and legacy keys without a purpose); identity: the wikis' identity token. */
  purpose: KeyPurpose;
  /** signing: the first key of its purpose; verifying: rotated out, still published; retired: past retire_after, ignored. */
  role: 'signing' | 'verifying' | 'retired';
  retireAfter: number | null;
}

type KeyConfig = Pick<Config, 'platformKeysFile' | 'accessTokenTtlSeconds' | 'accessTokenAlg'>;

function keyStatuses(keys: PrivateJwk[], now: number): KeyStatus[] {
  return keys.map((key) => {
    const signing = isSigningKey(keys, key);
    return {
      kid: key.kid,
      alg: algOf(key),
      purpose: purposeOf(key),
      role: signing ? 'signing' : isRetired(key, signing, now) ? 'retired' : 'verifying',
      retireAfter: key.retire_after ?? null,
    };
  });
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

/** The longest a token signed now by a key of this purpose can stay valid (sessions are not signed: they are rows). */
export function longestTokenLifetime(config: Pick<Config, 'accessTokenTtlSeconds'>, purpose: KeyPurpose = 'access'): number {
  return purpose === 'identity' ? IDENTITY_TOKEN_TTL_SECONDS : accessTokenLifetime(config);
}

export interface RotationResult {
  file: string;
  purpose: KeyPurpose;
  /** The new signing key. */
  kid: string;
  alg: SigningAlg;
  /** The key it replaces, now verifying only, and when it may go. */
  previousKid: string | undefined;
  /** With dropPrevious: every non-signing key of that purpose, now retired. */
  droppedKids: string[];
  retireAfter: number;
  keys: KeyStatus[];
}

export interface RotateOptions {
  now?: number;
  /** Which key set to rotate (default access). */
  purpose?: KeyPurpose;
  /** The new key's algorithm: access keys default to ACCESS_TOKEN_ALG; identity keys are RS256 only. */
  alg?: SigningAlg;
  /**
   * A compromised key: retire EVERY non-signing key of that purpose at once, not only the one just
   * replaced, instead of after their tokens expire. Tokens they signed stop working at the next reload
   * (MCP clients refresh, as refresh tokens are opaque and not signed; wikis send people to refresh
   * their identity token).
   */
  dropPrevious?: boolean;
}

/** Prepends a fresh key of one purpose; its previous signing key verifies until now + the longest token lifetime. */
export async function rotatePlatformKeys(config: KeyConfig, options: RotateOptions = {}): Promise<RotationResult> {
  const now = options.now ?? nowSeconds();
  const purpose = options.purpose ?? 'access';
  const alg = options.alg ?? (purpose === 'access' ? config.accessTokenAlg : 'RS256');
  if (purpose === 'identity' && alg !== 'RS256') throw new AdminError('Identity-token keys are RS256 only (wikis verify them as RS256); leave out --alg.');
  const file = config.platformKeysFile;
  const keys = readPlatformKeys(file);
  const fresh = await generatePrivateJwk(alg, purpose);
  const retireAfter = options.dropPrevious ? now : now + longestTokenLifetime(config, purpose);
  const rotated = rotateKeys(keys, fresh, retireAfter, options.dropPrevious === true);
  writeKeyFile(file, rotated);
  const previous = keysOfPurpose(keys, purpose);
  return {
    file,
    purpose,
    kid: fresh.kid,
    alg,
    previousKid: previous[0]?.kid,
    droppedKids: options.dropPrevious ? previous.map((k) => k.kid) : [],
    retireAfter,
    keys: keyStatuses(rotated, now),
  };
}

/**
 * The upgrade step for a key file from before the key split (only legacy/access keys): appends an
 * identity-token key. The service refuses to start in production until this has been run.
 */
export async function addIdentityKey(config: Pick<Config, 'platformKeysFile'>): Promise<{ file: string; kid: string }> {
  const file = config.platformKeysFile;
  const keys = readPlatformKeys(file);
  const existing = keysOfPurpose(keys, 'identity')[0];
  if (existing) throw new AdminError(`${file} already has an identity-token key (${existing.kid}). To replace it, use \`keys rotate --purpose identity\`.`);
  const fresh = await generatePrivateJwk('RS256', 'identity');
  writeKeyFile(file, [...keys, fresh]);
  return { file, kid: fresh.kid };
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
  platformAlg: SigningAlg;
  identityKid: string;
  atprotoClientKeysFile: string;
  atprotoKid: string;
}

/**
 * Production keys: DIR/platform-keys.json (an access key of `accessAlg`, an RS256 identity key) and DIR/atproto-client-keys.json (ES256), mode
 * 0600 in a directory created 0700. Refuses to overwrite either file: replacing a key signs every
 * user out and breaks the ATProto client; rotate instead.
 */
export async function generateProductionKeys(dir: string, accessAlg: SigningAlg = 'RS256'): Promise<GeneratedKeys> {
  const target = path.resolve(dir);
  const platformKeysFile = path.join(target, PLATFORM_KEYS_FILENAME);
  const atprotoClientKeysFile = path.join(target, ATPROTO_CLIENT_KEYS_FILENAME);
  const existing = [platformKeysFile, atprotoClientKeysFile].filter((f) => fs.existsSync(f));
  if (existing.length > 0) {
    throw new AdminError(`Refusing to overwrite ${existing.join(' and ')}. To replace the platform key, use \`keys rotate\`.`);
  }
  fs.mkdirSync(target, { recursive: true, mode: 0o700 });
  const platform = await generatePrivateJwk(accessAlg, 'access');
  const identity = await generatePrivateJwk('RS256', 'identity');
  const atproto = await generatePrivateJwk('ES256');
  createKeyFile(platformKeysFile, [platform, identity]);
  createKeyFile(atprotoClientKeysFile, [atproto]);
  return { platformKeysFile, platformKid: platform.kid, platformAlg: accessAlg, identityKid: identity.kid, atprotoClientKeysFile, atprotoKid: atproto.kid };
}

/** Writes a new key file, mode 0600, failing if it exists (the link is the atomic no-clobber step). */
function createKeyFile(file: string, keys: PrivateJwk[]): void {
  // A random temp name created exclusively: a planted file or symlink can neither be followed nor guessed.
  const tmp = `${file}.${crypto.randomBytes(12).toString('hex')}.tmp`;
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
