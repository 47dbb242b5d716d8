// Signing keys. Two key files, each a JSON file holding a private JWKS (`{"keys": [...]}`):
//  - platform keys, PLATFORM_KEYS_FILE. Each key names its `purpose`, and a token kind is
//    only ever verified with keys of its own purpose (finding 11, "each token kind its own key"):
//      "access":   MCP access tokens (RFC 9068); the only keys at the AS metadata's jwks_uri.
//                  RS256 (RSA) or ES256 (EC P-256), as ACCESS_TOKEN_ALG says: the first access key
//                  signs and must be of that algorithm (the service refuses to start otherwise).
//                  Access keys of the other algorithm still verify, and stay published, until
//                  retired: that is how a switch (RS256 -> ES256 or back) keeps tokens working.
//                  A key WITHOUT `purpose` is a legacy key (from before the split) and counts as "access".
//      "identity": the wikis' identity token (src/accounts/identity-token.ts), RS256 only; published at
//                  IDENTITY_JWKS_PATH only. A legacy file has none: development adds one, production
//                  refuses to start until `npm run admin -- keys add-identity` has added it.
//    Within a purpose the first key signs; the others only verify, so a rotated-out key keeps validating
//    until its tokens expire. Rotation (`npm run admin -- keys rotate [--purpose identity] [--alg ES256]`)
//    prepends a new key and stamps the one it replaces with `retire_after` (seconds since the epoch): when
//    every token it signed has expired. From then on the loader ignores it and `keys retire` deletes it.
//    Several instances (keys in the database, src/config/key-source.ts): a rotation stamps the new key
//    with `sign_after` (seconds since the epoch), a moment by which every instance has loaded it. Until
//    then it is published and verifies but does not sign or seal (the previous key still does): no
//    instance ever meets a token, or a sealed value, of a key it has not loaded yet.
//    A key's algorithm is fixed by the key (`alg`, else RSA -> RS256, EC P-256 -> ES256): a token is
//    verified only with the key its `kid` names and only if its header `alg` is that key's.
//  - ATProto client keys (ES256): `private_key_jwt` client authentication towards PDSes (production only).
// In development missing files are generated (mode 0600); in production they must exist.
// Files are written through a random, exclusively created temp file (never through a symlink).
import crypto, { type webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { z } from 'zod';
import { ConfigError } from './env.ts';

export const privateJwkSchema = z
  .object({
    kty: z.string(),
    kid: z.string().min(1),
    alg: z.string().optional(),
    d: z.string().min(1),
    retire_after: z.number().int().nonnegative().optional(),
    sign_after: z.number().int().nonnegative().optional(),
    purpose: z.enum(['access', 'identity']).optional(),
  })
  .passthrough();
const keyFileSchema = z.object({ keys: z.array(privateJwkSchema).min(1) });

type CryptoKey = webcrypto.CryptoKey;

/** What a platform key signs. A key file entry without `purpose` is a legacy key: "access". */
export type KeyPurpose = 'access' | 'identity';
export const KEY_PURPOSES: readonly KeyPurpose[] = ['access', 'identity'];
export const ADD_IDENTITY_KEY_COMMAND = 'npm run admin -- keys add-identity';

export function purposeOf(jwk: Pick<PrivateJwk, 'purpose'>): KeyPurpose {
  return jwk.purpose ?? 'access';
}

export type PrivateJwk = jose.JWK & {
  kid: string;
  d: string;
  /** Seconds since the epoch after which no token this key signed can still be valid (rotated-out keys only). */
  retire_after?: number;
  /** Seconds since the epoch before which this key only verifies (published ahead of signing, several instances). */
  sign_after?: number;
  /** Absent on legacy keys, which are access-token keys. */
  purpose?: KeyPurpose;
};

/** The algorithms a platform key may have; access tokens use either (ACCESS_TOKEN_ALG), identity tokens RS256. */
export type SigningAlg = 'RS256' | 'ES256';
export const SIGNING_ALGS: readonly SigningAlg[] = ['RS256', 'ES256'];

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  /** For jose (identity tokens, tests). */
  privateKey: CryptoKey;
  /** For synchronous node:crypto sign/verify (access tokens, src/oauth/tokens/access-token.ts). */
  privateKeyObject: crypto.KeyObject;
  publicKeyObject: crypto.KeyObject;
  publicJwk: jose.JWK;
  /** Set once the key no longer signs: it is dropped after this time (seconds since the epoch). */
  retireAfter: number | undefined;
  /** A pre-published key: it signs from this time on (seconds since the epoch). */
  signAfter: number | undefined;
  /** 32 secret bytes derived from the private key, for keys of our own (CSRF HMAC). */
  secretSeed: Buffer;
}

/** The keys of one purpose (see KeyPurpose); `PlatformKeys` is the access-token set. */
export interface PlatformKeys {
  /** The key that signs new tokens. */
  current: SigningKey;
  /** Every key that may verify (current first). */
  all: SigningKey[];
  /** Public JWKS (access: /.well-known/jwks.json; identity: IDENTITY_JWKS_PATH). */
  publicJwks: { keys: jose.JWK[] };
  /** Verifier keyed by `kid` for jose.jwtVerify. */
  verificationKeySet: ReturnType<typeof jose.createLocalJWKSet>;
  /** Every key that may verify, by `kid`. */
  byKid: ReadonlyMap<string, SigningKey>;
  /** The algorithms a token may carry: the signing key's, plus another only while a key of that kind is still loaded. */
  acceptedAlgorithms: ReadonlySet<SigningAlg>;
}

export async function generatePrivateJwk(alg: 'RS256' | 'ES256', purpose?: KeyPurpose): Promise<PrivateJwk> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await jose.exportJWK(privateKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: 'sig', d: jwk.d ?? '', ...(purpose ? { purpose } : {}) };
}

export function readKeyFile(file: string): PrivateJwk[] {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read key file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ConfigError(`Key file ${file} is not valid JSON`);
  }
  const parsed = keyFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(`Key file ${file} must be {"keys": [private JWK with kid, ...]}: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data.keys as PrivateJwk[];
}

function isSymlink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Writes a key file atomically and privately: a temp file with a random name in the same directory,
 * created exclusively (`wx`: never through an existing file or symlink) with mode 0600, fsynced, then
 * renamed over the target. Refuses a target that is a symlink (it would not be the file the service reads).
 */
export function writeKeyFile(file: string, keys: PrivateJwk[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  if (isSymlink(file)) throw new ConfigError(`Refusing to write key file ${file}: it is a symbolic link. Replace it with a regular file.`);
  const tmp = `${file}.${crypto.randomBytes(12).toString('hex')}.tmp`;
  const fd = fs.openSync(tmp, 'wx', 0o600);
  try {
    try {
      fs.writeFileSync(fd, `${JSON.stringify({ keys }, null, 2)}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    // Run as root (an operator forgetting `sudo -u`), keep the file readable by the service that owns it.
    const owner = fs.existsSync(file) ? fs.statSync(file) : undefined;
    if (owner && process.getuid?.() === 0) fs.chownSync(tmp, owner.uid, owner.gid);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** Loads a key file, creating it with one fresh key when allowed (development only). */
export async function loadOrCreateKeyFile(file: string, alg: 'RS256' | 'ES256', mayGenerate: boolean): Promise<PrivateJwk[]> {
  if (!fs.existsSync(file)) {
    if (!mayGenerate) throw new ConfigError(`Key file ${file} does not exist (production never generates keys)`);
    writeKeyFile(file, [await generatePrivateJwk(alg)]);
  }
  return readKeyFile(file);
}

/** A key's algorithm: its `alg`, else the one its type implies (RSA: RS256, EC P-256: ES256). */
export function algOf(jwk: Pick<PrivateJwk, 'alg' | 'kty' | 'crv'>): string {
  return jwk.alg ?? (jwk.kty === 'EC' ? 'ES256' : 'RS256');
}

function checkedAlg(jwk: PrivateJwk): SigningAlg {
  const alg = algOf(jwk);
  const fits = (alg === 'RS256' && jwk.kty === 'RSA') || (alg === 'ES256' && jwk.kty === 'EC' && jwk.crv === 'P-256');
  if (!fits) {
    throw new ConfigError(
      `Platform key ${jwk.kid} is ${jwk.kty}${jwk.crv ? ` ${jwk.crv}` : ''} with alg ${alg}: platform keys must be RSA (RS256) or EC P-256 (ES256).`,
    );
  }
  return alg;
}

export async function toSigningKey(jwk: PrivateJwk): Promise<SigningKey> {
  const alg = checkedAlg(jwk);
  const privateKey = (await jose.importJWK(jwk, alg)) as CryptoKey;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, ...publicJwk } = jwk;
  const { retire_after: retireAfter, sign_after: signAfter, purpose: _purpose, ...published } = publicJwk;
  const keyMaterial = jwk.kty === 'EC' ? { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y, d: jwk.d } : { kty: 'RSA', n: jwk.n, e: jwk.e, d: jwk.d, p: jwk.p, q: jwk.q, dp: jwk.dp, dq: jwk.dq, qi: jwk.qi };
  const privateKeyObject = crypto.createPrivateKey({ key: keyMaterial as crypto.JsonWebKey, format: 'jwk' });
  const publicKeyObject = crypto.createPublicKey(privateKeyObject);
  const secretSeed = Buffer.from(crypto.hkdfSync('sha256', jwk.d, jwk.kid, 'robot-auth secret seed', 32));
  return { kid: jwk.kid, alg, privateKey, privateKeyObject, publicKeyObject, publicJwk: { ...published, alg, use: 'sig' }, retireAfter, signAfter, secretSeed };
}

/** The keys of one purpose, in file order (the first signs). */
export function keysOfPurpose(keys: PrivateJwk[], purpose: KeyPurpose): PrivateJwk[] {
  return keys.filter((k) => purposeOf(k) === purpose);
}

/** A rotated-out key whose tokens have all expired; the signing key (first of its purpose) never is. */
export function isRetired(jwk: Pick<PrivateJwk, 'retire_after'>, isSigning: boolean, now: number): boolean {
  return !isSigning && jwk.retire_after !== undefined && jwk.retire_after <= now;
}

/** A key published ahead of signing whose `sign_after` has not come yet. */
export function isPending(jwk: Pick<PrivateJwk, 'sign_after'>, now: number): boolean {
  return jwk.sign_after !== undefined && jwk.sign_after > now;
}

/** Whether `key` is the one of its purpose that signs: the first in `keys` that is not pending. */
export function isSigningKey(keys: PrivateJwk[], key: PrivateJwk, now = Math.floor(Date.now() / 1000)): boolean {
  return keys.find((k) => purposeOf(k) === purposeOf(key) && !isPending(k, now)) === key;
}

/**
 * Key rotation within one purpose: `fresh` (of that purpose) becomes its signing key; the key it
 * replaces keeps verifying until `retireAfter` (now + the longest lifetime of a token it signs). Keys
 * rotated out earlier keep their own, earlier, retire_after, unless `retireAllOthers` (a compromised
 * key): then EVERY non-signing key of that purpose is retired at `retireAfter`. Keys of the other
 * purpose are untouched. Running instances pick up the change by themselves within
 * PLATFORM_KEYS_POLL_SECONDS (src/config/key-reload.ts; SIGHUP does it at once).
 */
export function rotateKeys(keys: PrivateJwk[], fresh: PrivateJwk, retireAfter: number, retireAllOthers = false): PrivateJwk[] {
  const purpose = purposeOf(fresh);
  const previous = keysOfPurpose(keys, purpose)[0];
  const rotated = keys.map((k): PrivateJwk => {
    if (purposeOf(k) !== purpose) return k;
    if (k === previous) return { ...k, retire_after: retireAfter };
    if (retireAllOthers) return { ...k, retire_after: Math.min(k.retire_after ?? retireAfter, retireAfter) };
    return k;
  });
  return [fresh, ...rotated];
}

/** Splits a key file's keys into those still needed and those whose tokens have all expired. */
export function partitionRetiredKeys(keys: PrivateJwk[], now: number): { kept: PrivateJwk[]; retired: PrivateJwk[] } {
  const kept: PrivateJwk[] = [];
  const retired: PrivateJwk[] = [];
  for (const key of keys) (isRetired(key, isSigningKey(keys, key, now), now) ? retired : kept).push(key);
  return { kept, retired };
}

/** The command that makes a key of `alg` the access-token signing key. */
export function rotateAccessKeyCommand(alg: SigningAlg): string {
  return `npm run admin -- keys rotate --alg ${alg}`;
}

/**
 * Loads the keys of one purpose (default: access tokens), leaving out rotated-out keys past their
 * retire_after. `signingAlg`: the algorithm the signing key must have (ACCESS_TOKEN_ALG for access
 * keys; identity keys are always RS256). A mismatch is a configuration error, never a silent switch.
 */
export async function loadPlatformKeys(
  jwks: PrivateJwk[],
  now = Math.floor(Date.now() / 1000),
  purpose: KeyPurpose = 'access',
  signingAlg: SigningAlg = 'RS256',
): Promise<PlatformKeys> {
  const { kept } = partitionRetiredKeys(jwks, now);
  // The signing key first; pending keys (sign_after in the future) are published and verify only.
  const ofPurpose = keysOfPurpose(kept, purpose);
  const signing = ofPurpose.find((k) => !isPending(k, now));
  const ordered = signing ? [signing, ...ofPurpose.filter((k) => k !== signing)] : ofPurpose;
  const all = await Promise.all(ordered.map((k) => toSigningKey(k)));
  if (purpose === 'identity') {
    const ec = all.find((k) => k.alg !== 'RS256');
    if (ec) throw new ConfigError(`Identity-token key ${ec.kid} is ${ec.alg}: wiki identity tokens are RS256 only. Rotate it with \`npm run admin -- keys rotate --purpose identity\`.`);
  }
  const current = signing ? all[0] : undefined;
  if (!current) {
    throw new ConfigError(
      purpose === 'identity'
        ? `The platform key file holds no identity-token key (purpose "identity"). Add one with \`${ADD_IDENTITY_KEY_COMMAND}\`, then restart.`
        : 'Platform key file holds no access-token key',
    );
  }
  if (purpose === 'access' && current.alg !== signingAlg) {
    throw new ConfigError(
      `ACCESS_TOKEN_ALG=${signingAlg}, but the access-token signing key (the first access key, kid ${current.kid}) is ${current.alg}. ` +
        `Either add a ${signingAlg} signing key with \`${rotateAccessKeyCommand(signingAlg)}\` (the ${current.alg} keys keep verifying until they retire) and restart, ` +
        `or set ACCESS_TOKEN_ALG=${current.alg}.`,
    );
  }
  const publicJwks = { keys: all.map((k) => k.publicJwk) };
  return {
    current,
    all,
    publicJwks,
    verificationKeySet: jose.createLocalJWKSet(publicJwks),
    byKid: new Map(all.map((k) => [k.kid, k])),
    acceptedAlgorithms: new Set(all.map((k) => k.alg)),
  };
}

export interface PlatformKeySets {
  access: PlatformKeys;
  identity: PlatformKeys;
  /** Every key as stored (retired ones too), for the at-rest sealer (src/lib/sealing.ts). */
  jwks: PrivateJwk[];
}

/**
 * Where the platform keys are kept: PLATFORM_KEYS_FILE (`fileKeyStore`, the default), or the database
 * sealed under PLATFORM_KEYS_KEK (src/config/key-source.ts, several instances). Both hold the same
 * ordered list of private JWKs; `version` is cheap and changes whenever the list does (the reload poll).
 */
export interface KeyStore {
  readonly kind: 'file' | 'database';
  /** For messages and log lines: the file, or the database table. */
  readonly location: string;
  exists(): Promise<boolean>;
  read(): Promise<PrivateJwk[]>;
  /** Replaces the whole list; `expectedVersion`: refuse if another writer changed it since that read. */
  write(keys: PrivateJwk[], expectedVersion?: string): Promise<void>;
  version(): Promise<string>;
}

/** The key file as a KeyStore; its version is the file's identity and modification time (a rename replaces it). */
export function fileKeyStore(file: string): KeyStore {
  return {
    kind: 'file',
    location: file,
    exists: async () => fs.existsSync(file),
    read: async () => readKeyFile(file),
    write: async (keys) => writeKeyFile(file, keys),
    version: async () => {
      try {
        const st = fs.statSync(file, { bigint: true });
        return `${st.ino}:${st.mtimeNs}:${st.size}`;
      } catch {
        return 'missing';
      }
    },
  };
}

/** How access tokens are signed, and how long they live (for the retire_after of a key development replaces). */
export interface AccessKeyOptions {
  alg: SigningAlg;
  ttlSeconds: number;
}

/**
 * Both platform key sets from PLATFORM_KEYS_FILE. A file from before the split has no identity key:
 * development appends one (and writes the file); production refuses with the command that adds it.
 * Likewise an access signing key of another algorithm than `access.alg`: development rotates in one of
 * the right kind (the old one verifies until its tokens expire); production refuses with the command.
 */
export async function loadPlatformKeySets(
  fileOrStore: string | KeyStore,
  mayGenerate: boolean,
  now = Math.floor(Date.now() / 1000),
  access: AccessKeyOptions = { alg: 'RS256', ttlSeconds: 3600 },
): Promise<PlatformKeySets> {
  const store = typeof fileOrStore === 'string' ? fileKeyStore(fileOrStore) : fileOrStore;
  const file = store.location;
  let jwks: PrivateJwk[];
  if (store.kind === 'file') jwks = await loadOrCreateKeyFile(file, access.alg, mayGenerate);
  else if (await store.exists()) jwks = await store.read();
  else if (mayGenerate) {
    // Development's first start on an empty database. Instances starting together all get here: the
    // whole first set (access and identity key) is written only if nothing was yet (version 0), so
    // one wins and the others read its keys instead of overwriting them with their own.
    const generated = [await generatePrivateJwk(access.alg), await generatePrivateJwk('RS256', 'identity')];
    try {
      await store.write(generated, '0');
      jwks = generated;
    } catch (err) {
      if (!(await store.exists())) throw err;
      jwks = await store.read();
    }
  } else {
    throw new ConfigError(`There are no platform keys in ${file}. Move the key file there with \`npm run admin -- keys import-to-database\` (production never generates keys).`);
  }
  const signing = keysOfPurpose(partitionRetiredKeys(jwks, now).kept, 'access')[0];
  if (mayGenerate && signing && algOf(signing) !== access.alg) {
    jwks = rotateKeys(jwks, await generatePrivateJwk(access.alg, 'access'), now + access.ttlSeconds);
    await store.write(jwks);
  }
  if (keysOfPurpose(jwks, 'identity').length === 0) {
    if (!mayGenerate) {
      throw new ConfigError(
        `${store.kind === 'file' ? `Platform key file ${file}` : `The platform key set in ${file}`} has no identity-token key (purpose "identity"), which wiki identity tokens need since the key split. ` +
          `Add one with \`${ADD_IDENTITY_KEY_COMMAND}\` (as the service user), then start the service again.`,
      );
    }
    jwks = [...jwks, await generatePrivateJwk('RS256', 'identity')];
    await store.write(jwks);
  }
  return { access: await loadPlatformKeys(jwks, now, 'access', access.alg), identity: await loadPlatformKeys(jwks, now, 'identity'), jwks };
}
