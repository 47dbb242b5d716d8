// Signing keys for operators: list, rotate and retire the platform keys (per purpose: access tokens
// or wiki identity tokens, see src/config/keys.ts), add the identity key a legacy file lacks, and
// generate the two production key files. With PLATFORM_KEYS_KEK set the platform keys live in the
// database instead (src/config/key-source.ts): the same commands then write there (`keyStoreOf`), and
// `keys import-to-database` moves an existing key file in. Running instances pick up every change
// within PLATFORM_KEYS_POLL_SECONDS (src/config/key-reload.ts); SIGHUP does it at once.
// Access keys are RS256 or ES256 (ACCESS_TOKEN_ALG, or --alg): switching is a rotation to a key of the
// other kind; the old keys keep verifying until their retire_after. Identity keys are RS256 only.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/env.ts';
import { accessTokenLifetime, IDENTITY_TOKEN_TTL_SECONDS } from '../lifetimes.ts';
import { databaseKeyStore, KeySetChanged, type PlatformKeyRows } from '../config/key-source.ts';
import {
  algOf,
  fileKeyStore,
  generatePrivateJwk,
  isRetired,
  isPending,
  isSigningKey,
  keysOfPurpose,
  partitionRetiredKeys,
  purposeOf,
  type KeyPurpose,
  readKeyFile,
  rotateKeys,
  writeKeyFile,
  type PrivateJwk,
  type KeyStore,
  type SigningAlg,
} from '../config/keys.ts';
import { nowSeconds } from '../db/open.ts';
import { requireFileOwner } from './database.ts';
import { AdminError } from './errors.ts';
import { keyPendingSeconds } from '../config/jwks-cache.ts';

export interface KeyStatus {
  kid: string;
  alg: string;
  /** access: MCP access tokens (and legacy keys without a purpose); identity: the wikis' identity token. */
  purpose: KeyPurpose;
  /**
   * signing: the first key of its purpose that is not pending; pending: published, signs from sign_after
   * (several instances); verifying: rotated out, still published; retired: past retire_after, ignored.
   */
  role: 'signing' | 'pending' | 'verifying' | 'retired';
  retireAfter: number | null;
}

type KeyConfig = Pick<Config, 'platformKeysFile' | 'accessTokenTtlSeconds' | 'accessTokenAlg'> & Partial<Pick<Config, 'platformKeysPollSeconds' | 'jwksMaxAgeSeconds'>>;

function keyStatuses(keys: PrivateJwk[], now: number): KeyStatus[] {
  return keys.map((key) => {
    const signing = isSigningKey(keys, key, now);
    return {
      kid: key.kid,
      alg: algOf(key),
      purpose: purposeOf(key),
      role: signing ? 'signing' : isRetired(key, signing, now) ? 'retired' : isPending(key, now) ? 'pending' : 'verifying',
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
  /** When the new key starts signing: now, or (keys in the database) once every instance has loaded it. */
  signsFrom: number;
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

/**
 * Where the admin commands read and write the platform keys: the database when PLATFORM_KEYS_KEK is
 * set (`rows` gives the configured database's key table, src/admin/database.ts adminKeyRows: PostgreSQL
 * with DATABASE_URL, else the CLI's SQLite connection), else PLATFORM_KEYS_FILE (which must exist and,
 * run as root, belong to root: see requireFileOwner).
 */
export function keyStoreOf(config: Pick<Config, 'platformKeysFile' | 'platformKeysKek'>, rows?: () => Promise<PlatformKeyRows>): KeyStore {
  if (config.platformKeysKek !== undefined) {
    if (!rows) throw new AdminError('PLATFORM_KEYS_KEK is set: the platform keys are in the database, which this command was not given.');
    return databaseKeyStore(lazyRows(rows), config.platformKeysKek);
  }
  const file = fileKeyStore(config.platformKeysFile);
  return { ...file, read: async () => readPlatformKeys(config.platformKeysFile) };
}

/** The key rows, with the database opened on first use (a command that fails before needs no connection). */
function lazyRows(open: () => Promise<PlatformKeyRows>): PlatformKeyRows {
  let rows: Promise<PlatformKeyRows> | undefined;
  const get = () => (rows ??= open());
  return {
    version: async () => (await get()).version(),
    list: async () => (await get()).list(),
    replace: async (r, expected, now) => (await get()).replace(r, expected, now),
  };
}

/** One read-modify-write of the key set; on the database, refused (KeySetChanged) if another writer came between. */
async function updateKeys(store: KeyStore, change: (keys: PrivateJwk[]) => Promise<PrivateJwk[]>): Promise<{ before: PrivateJwk[]; after: PrivateJwk[] }> {
  const version = await store.version();
  const before = await store.read();
  const after = await change(before);
  try {
    await store.write(after, version);
  } catch (err) {
    if (err instanceof KeySetChanged) throw new AdminError(err.message);
    throw err;
  }
  return { before, after };
}

/** The keys in `store` (async: the database store), as `keys list` shows them. */
export async function listStoredKeys(store: KeyStore, now = nowSeconds()): Promise<KeyStatus[]> {
  return keyStatuses(await store.read(), now);
}

/** Prepends a fresh key of one purpose; its previous signing key verifies until now + the longest token lifetime. */
export async function rotatePlatformKeys(config: KeyConfig, options: RotateOptions & { store?: KeyStore } = {}): Promise<RotationResult> {
  const now = options.now ?? nowSeconds();
  const purpose = options.purpose ?? 'access';
  const alg = options.alg ?? (purpose === 'access' ? config.accessTokenAlg : 'RS256');
  if (purpose === 'identity' && alg !== 'RS256') throw new AdminError('Identity-token keys are RS256 only (wikis verify them as RS256); leave out --alg.');
  const store = options.store ?? keyStoreOf({ platformKeysFile: config.platformKeysFile, platformKeysKek: undefined });
  const file = store.location;
  // The new key is published first and signs only once every instance has polled it in and every cached
  // copy of the old key set has expired (src/config/jwks-cache.ts keyPendingSeconds), so no instance and
  // no verifier ever meets a kid it lacks. A compromised key (--drop-previous) is replaced at once instead.
  const signsFrom = options.dropPrevious ? now : now + keyPendingSeconds(config, store.kind);
  const fresh: PrivateJwk = { ...(await generatePrivateJwk(alg, purpose)), ...(signsFrom > now ? { sign_after: signsFrom } : {}) };
  const retireAfter = options.dropPrevious ? now : signsFrom + longestTokenLifetime(config, purpose);
  const { before: keys, after: rotated } = await updateKeys(store, async (current) => rotateKeys(current, fresh, retireAfter, options.dropPrevious === true));
  const previous = keysOfPurpose(keys, purpose);
  return {
    file,
    purpose,
    kid: fresh.kid,
    alg,
    previousKid: previous[0]?.kid,
    droppedKids: options.dropPrevious ? previous.map((k) => k.kid) : [],
    retireAfter,
    signsFrom,
    keys: keyStatuses(rotated, now),
  };
}

/**
 * The upgrade step for a key file from before the key split (only legacy/access keys): appends an
 * identity-token key. The service refuses to start in production until this has been run.
 */
export async function addIdentityKey(config: Pick<Config, 'platformKeysFile'>, store?: KeyStore): Promise<{ file: string; kid: string }> {
  const target = store ?? keyStoreOf({ platformKeysFile: config.platformKeysFile, platformKeysKek: undefined });
  const file = target.location;
  const fresh = await generatePrivateJwk('RS256', 'identity');
  await updateKeys(target, async (keys) => {
    const existing = keysOfPurpose(keys, 'identity')[0];
    if (existing) throw new AdminError(`${file} already has an identity-token key (${existing.kid}). To replace it, use \`keys rotate --purpose identity\`.`);
    return [...keys, fresh];
  });
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

/** `keys retire` on any store (the database store is async). */
export async function retireStoredKeys(store: KeyStore, options: { now?: number; dryRun?: boolean } = {}): Promise<RetireResult> {
  const now = options.now ?? nowSeconds();
  let retired: PrivateJwk[] = [];
  let kept: PrivateJwk[] = [];
  if (options.dryRun) ({ kept, retired } = partitionRetiredKeys(await store.read(), now));
  else {
    await updateKeys(store, async (keys) => {
      ({ kept, retired } = partitionRetiredKeys(keys, now));
      return kept;
    });
  }
  return { file: store.location, retired: retired.map((k) => k.kid), keys: keyStatuses(kept, now) };
}

export interface ImportResult {
  file: string;
  to: string;
  kids: string[];
}

/**
 * `keys import-to-database`: copies PLATFORM_KEYS_FILE into the database, sealed under
 * PLATFORM_KEYS_KEK, in the same order; refuses when the database already holds keys (it never
 * replaces keys that instances may be signing with). Reads them back to check before saying so.
 */
export async function importKeysToDatabase(config: Pick<Config, 'platformKeysFile' | 'platformKeysKek'>, rows: () => Promise<PlatformKeyRows>): Promise<ImportResult> {
  if (config.platformKeysKek === undefined) {
    throw new AdminError('PLATFORM_KEYS_KEK is not set: generate one (`openssl rand 32 | basenc --base64url | tr -d =`), put the same value in every instance\'s environment, then run this again.');
  }
  const keys = readPlatformKeys(config.platformKeysFile);
  const store = keyStoreOf(config, rows);
  if (await store.exists()) {
    throw new AdminError(`${store.location} already holds platform keys (\`keys list\` shows them); nothing was imported. The database, not ${config.platformKeysFile}, is the source now.`);
  }
  try {
    await store.write(keys, await store.version());
  } catch (err) {
    if (err instanceof KeySetChanged) throw new AdminError(err.message);
    throw err;
  }
  const back = await store.read();
  if (JSON.stringify(back) !== JSON.stringify(keys)) throw new AdminError(`The keys read back from ${store.location} differ from ${config.platformKeysFile}: check the database.`);
  return { file: config.platformKeysFile, to: store.location, kids: keys.map((k) => k.kid) };
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
