// Encryption at rest for secrets the service must read back (the PDS tokens and DPoP private keys
// that @atproto/oauth-client-node stores): AES-256-GCM (NIST SP 800-38D) with a key derived by
// HKDF-SHA256 (RFC 5869) from a private key of the platform key file.
//  - Key: HKDF-SHA256(IKM = the JWK's private `d`, salt = its kid, info = SEALING_INFO), 32 bytes. The
//    platform keys already hold full power (they sign every session), so they are the secret a
//    stolen database still lacks; the ATProto client key file stays separate, and a database copy
//    plus that file reveals no token either.
//  - Associated data: the table and row identity, so a ciphertext moved to another row (another
//    DID's session) does not open.
//  - Format: `v1.{kid}.{iv}.{ciphertext‖tag}`, each part base64url; the kid names the key that sealed.
//  - Rotation: the first key of the file seals; any key still in the file opens. Callers re-seal
//    what a non-current key opened (src/atproto/stores.ts); what no key in the file opens is gone.
//  - Values made again instead of stored (`mac`): HMAC-SHA256 (RFC 2104) under a second key derived
//    from the same private key with another HKDF info (key separation), bound to a context string.
import crypto from 'node:crypto';
import fs from 'node:fs';

const SEALING_INFO = 'robot-auth/at-rest/v1';
const MAC_INFO = 'robot-auth/mac/v1';
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The private JWK fields sealing needs: its id and its private exponent/scalar. */
export interface SealingJwk {
  kid: string;
  d: string;
}

/** Why a sealed value did not open. */
export type OpenFailure = 'not_sealed' | 'unknown_key' | 'tampered' | 'malformed';

export type Opened =
  | { ok: true; plaintext: string; /** Sealed with a non-current key: seal again. */ stale: boolean }
  | { ok: false; reason: OpenFailure; kid: string | undefined };

export interface Sealer {
  /** The kid of the key that seals. */
  readonly currentKid: string;
  /** Every value the current key sealed starts with this (to find the others in SQL). */
  readonly currentPrefix: string;
  seal(plaintext: string, associatedData: string): string;
  open(sealed: string, associatedData: string): Opened;
  /**
   * HMAC-SHA256 of `input` bound to `context`, under a key of its own derived from the current key
   * (HKDF, MAC_INFO: never the sealing key), base64url (43 characters): a value the service can make
   * again from `input` without storing it (src/oauth/token/refresh-successor.ts).
   */
  mac(input: string, context: string): string;
  /** `mac` under every key in the file, the current one first: to recognise a value made before a rotation. */
  macs(input: string, context: string): string[];
}

/** Whether a stored value is sealed (anything else is a plaintext row from before sealing). */
export function isSealed(value: string): boolean {
  return value.startsWith(`${VERSION}.`);
}

/**
 * Reads `{"keys": [{kid, d, …}, …]}` from a key file, first key first; only kid and d are kept.
 * Throws when the file cannot be read or holds no usable key.
 */
export function readSealingJwks(file: string): SealingJwk[] {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { keys?: unknown };
  const usable = sealingJwksOf(Array.isArray(json.keys) ? json.keys : []);
  if (usable.length === 0) throw new Error(`Key file ${file} holds no private key to seal stored secrets with`);
  return usable;
}

/**
 * The sealing keys among platform keys (wherever they are stored: file or database), first key first,
 * except that a key published ahead of signing (`sign_after` still to come, src/config/keys.ts) goes
 * after the others: it opens, but does not seal until every instance holds it.
 */
export function sealingJwksOf(keys: readonly unknown[], now = Math.floor(Date.now() / 1000)): SealingJwk[] {
  const pending = (k: unknown) => {
    const signAfter = typeof k === 'object' && k !== null ? (k as { sign_after?: unknown }).sign_after : undefined;
    return typeof signAfter === 'number' && signAfter > now;
  };
  const ordered = [...keys.filter((k) => !pending(k)), ...keys.filter(pending)];
  return ordered.flatMap((k: unknown) => {
    if (typeof k !== 'object' || k === null) return [];
    const { kid, d, purpose } = k as { kid?: unknown; d?: unknown; purpose?: unknown };
    // Access-token keys (and legacy keys without a purpose) only, in file order: the first one signs
    // and seals. Identity keys rotate on their own schedule and would re-seal every row when they do.
    if (purpose !== undefined && purpose !== 'access') return [];
    return typeof kid === 'string' && kid !== '' && typeof d === 'string' && d !== '' ? [{ kid, d }] : [];
  });
}

function deriveKey(jwk: SealingJwk, info = SEALING_INFO): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', Buffer.from(jwk.d, 'base64url'), Buffer.from(jwk.kid, 'utf8'), info, 32));
}

function hmac(key: Buffer, kid: string, input: string, context: string): string {
  return crypto.createHmac('sha256', key).update(`${VERSION}\0${kid}\0${context}\0${input}`, 'utf8').digest('base64url');
}

function aad(kid: string, associatedData: string): Buffer {
  return Buffer.from(`${VERSION}\0${kid}\0${associatedData}`, 'utf8');
}

/** `jwks[0]` seals; every key in `jwks` opens. */
export function createSealer(jwks: readonly SealingJwk[]): Sealer {
  const current = jwks[0];
  if (!current) throw new Error('No key to seal stored secrets with');
  const keys = new Map(jwks.map((jwk) => [jwk.kid, deriveKey(jwk)]));
  const currentKey = keys.get(current.kid)!;
  const macKeys = jwks.map((jwk) => ({ kid: jwk.kid, key: deriveKey(jwk, MAC_INFO) }));
  return {
    currentKid: current.kid,
    currentPrefix: `${VERSION}.${Buffer.from(current.kid).toString('base64url')}.`,
    seal(plaintext, associatedData) {
      const iv = crypto.randomBytes(IV_BYTES);
      const cipher = crypto.createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(aad(current.kid, associatedData));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return [VERSION, Buffer.from(current.kid).toString('base64url'), iv.toString('base64url'), body.toString('base64url')].join('.');
    },
    mac(input, context) {
      return hmac(macKeys[0]!.key, current.kid, input, context);
    },
    macs(input, context) {
      return macKeys.map(({ kid, key }) => hmac(key, kid, input, context));
    },
    open(sealed, associatedData) {
      if (!isSealed(sealed)) return { ok: false, reason: 'not_sealed', kid: undefined };
      const parts = sealed.split('.');
      if (parts.length !== 4) return { ok: false, reason: 'malformed', kid: undefined };
      const kid = Buffer.from(parts[1]!, 'base64url').toString('utf8');
      const key = keys.get(kid);
      if (!key) return { ok: false, reason: 'unknown_key', kid };
      const iv = Buffer.from(parts[2]!, 'base64url');
      const body = Buffer.from(parts[3]!, 'base64url');
      if (iv.length !== IV_BYTES || body.length < TAG_BYTES) return { ok: false, reason: 'malformed', kid };
      try {
        const decipher = crypto.createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(aad(kid, associatedData));
        decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
        const plaintext = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString('utf8');
        return { ok: true, plaintext, stale: kid !== current.kid };
      } catch {
        return { ok: false, reason: 'tampered', kid };
      }
    },
  };
}
