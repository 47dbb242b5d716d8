// Signing keys. Two key sets, each a JSON file holding a private JWKS (`{"keys": [...]}`):
//  - platform keys (RS256): sign session cookies and MCP access tokens; published at /.well-known/jwks.json.
//    The first key signs; the others only verify, so a rotated-out key keeps validating until its tokens expire.
//    Rotation (`npm run admin -- keys rotate`) prepends a new key and stamps the one it replaces with
//    `retire_after` (seconds since the epoch): when every token it signed has expired. From then on the
//    loader ignores it and `keys retire` deletes it from the file.
//  - ATProto client keys (ES256): `private_key_jwt` client authentication towards PDSes (production only).
// In development missing files are generated (mode 0600); in production they must exist.
import crypto, { type webcrypto } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as jose from 'jose';
import { z } from 'zod';
import { ConfigError } from './env.ts';

const privateJwkSchema = z
  .object({
    kty: z.string(),
    kid: z.string().min(1),
    alg: z.string().optional(),
    d: z.string().min(1),
    retire_after: z.number().int().nonnegative().optional(),
  })
  .passthrough();
const keyFileSchema = z.object({ keys: z.array(privateJwkSchema).min(1) });

type CryptoKey = webcrypto.CryptoKey;

export type PrivateJwk = jose.JWK & {
  kid: string;
  d: string;
  /** Seconds since the epoch after which no token this key signed can still be valid (rotated-out keys only). */
  retire_after?: number;
};

export interface SigningKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: jose.JWK;
  /** Set once the key no longer signs: it is dropped after this time (seconds since the epoch). */
  retireAfter: number | undefined;
  /** 32 secret bytes derived from the private key, for keys of our own (CSRF HMAC). */
  secretSeed: Buffer;
}

export interface PlatformKeys {
  /** The key that signs new tokens. */
  current: SigningKey;
  /** Every key that may verify (current first). */
  all: SigningKey[];
  /** Public JWKS for /.well-known/jwks.json. */
  publicJwks: { keys: jose.JWK[] };
  /** Verifier keyed by `kid` for jose.jwtVerify. */
  verificationKeySet: ReturnType<typeof jose.createLocalJWKSet>;
}

export async function generatePrivateJwk(alg: 'RS256' | 'ES256'): Promise<PrivateJwk> {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, modulusLength: 2048 });
  const jwk = await jose.exportJWK(privateKey);
  const kid = await jose.calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg, use: 'sig', d: jwk.d ?? '' };
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

export function writeKeyFile(file: string, keys: PrivateJwk[]): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  // Write then rename: a crash never leaves a half-written key file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
  // Run as root (an operator forgetting `sudo -u`), keep the file readable by the service that owns it.
  const owner = fs.existsSync(file) ? fs.statSync(file) : undefined;
  if (owner && process.getuid?.() === 0) fs.chownSync(tmp, owner.uid, owner.gid);
  fs.renameSync(tmp, file);
}

/** Loads a key file, creating it with one fresh key when allowed (development only). */
export async function loadOrCreateKeyFile(file: string, alg: 'RS256' | 'ES256', mayGenerate: boolean): Promise<PrivateJwk[]> {
  if (!fs.existsSync(file)) {
    if (!mayGenerate) throw new ConfigError(`Key file ${file} does not exist (production never generates keys)`);
    writeKeyFile(file, [await generatePrivateJwk(alg)]);
  }
  return readKeyFile(file);
}

export async function toSigningKey(jwk: PrivateJwk, defaultAlg: string): Promise<SigningKey> {
  const alg = jwk.alg ?? defaultAlg;
  const privateKey = (await jose.importJWK(jwk, alg)) as CryptoKey;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, k: _k, ...publicJwk } = jwk;
  const { retire_after: retireAfter, ...published } = publicJwk;
  const secretSeed = Buffer.from(crypto.hkdfSync('sha256', jwk.d, jwk.kid, 'robot-auth secret seed', 32));
  return { kid: jwk.kid, alg, privateKey, publicJwk: { ...published, alg, use: 'sig' }, retireAfter, secretSeed };
}

/** A rotated-out key whose tokens have all expired; the first (signing) key never is. */
export function isRetired(jwk: Pick<PrivateJwk, 'retire_after'>, index: number, now: number): boolean {
  return index > 0 && jwk.retire_after !== undefined && jwk.retire_after <= now;
}

/**
 * Key rotation: `fresh` becomes the signing key; the key it replaces keeps verifying until
 * `retireAfter` (now + the longest lifetime of a token it signs). Keys rotated out earlier keep their
 * own, earlier, retire_after. The running service signs with the new key only once it reloads the file
 * (restart or SIGHUP), so do that right after rotating.
 */
export function rotateKeys(keys: PrivateJwk[], fresh: PrivateJwk, retireAfter: number): PrivateJwk[] {
  const [previous, ...older] = keys;
  if (!previous) return [fresh];
  return [fresh, { ...previous, retire_after: retireAfter }, ...older];
}

/** Splits a key file's keys into those still needed and those whose tokens have all expired. */
export function partitionRetiredKeys(keys: PrivateJwk[], now: number): { kept: PrivateJwk[]; retired: PrivateJwk[] } {
  const kept: PrivateJwk[] = [];
  const retired: PrivateJwk[] = [];
  keys.forEach((key, i) => (isRetired(key, i, now) ? retired : kept).push(key));
  return { kept, retired };
}

/** Loads the platform keys, leaving out rotated-out keys past their retire_after. */
export async function loadPlatformKeys(jwks: PrivateJwk[], now = Math.floor(Date.now() / 1000)): Promise<PlatformKeys> {
  const { kept } = partitionRetiredKeys(jwks, now);
  const all = await Promise.all(kept.map((k) => toSigningKey(k, 'RS256')));
  const current = all[0];
  if (!current) throw new ConfigError('Platform key file holds no key');
  const publicJwks = { keys: all.map((k) => k.publicJwk) };
  return { current, all, publicJwks, verificationKeySet: jose.createLocalJWKSet(publicJwks) };
}
