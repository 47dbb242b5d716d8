// Access tokens: JWTs per RFC 9068, signed with the current platform access key, audience-bound to one
// wiki's MCP URL (RFC 8707). They also name their grant (`gid`), so the resource can refuse them
// the moment the grant is revoked.
//
// Signed and verified synchronously with node:crypto (compact JWS, RFC 7515 §7.1): RS256 is RSASSA-PKCS1-v1_5
// with SHA-256 and ES256 is ECDSA P-256 with SHA-256 and the 64-byte R||S signature (RFC 7518 §3.3, §3.4).
// The algorithm is ACCESS_TOKEN_ALG's (src/config/keys.ts makes the signing key match it). Verification
// (RFC 9068 §4) takes the key the header's `kid` names among OUR access keys only and requires the
// header's `alg` to be that key's: `none`, HS256 (a public key used as an HMAC secret) and any
// algorithm of no loaded key are refused. Measured against jose in scripts/bench/micro.ts.
import crypto from 'node:crypto';
import type { Config } from '../../config/env.ts';
import type { PlatformKeys, SigningKey } from '../../config/keys.ts';
import { randomToken } from '../../lib/secrets.ts';
import { ACCESS_TOKEN_CLOCK_TOLERANCE_SECONDS, accessTokenLifetime } from '../../lifetimes.ts';

export const ACCESS_TOKEN_TYP = 'at+jwt';
const CLOCK_TOLERANCE = ACCESS_TOKEN_CLOCK_TOLERANCE_SECONDS;
const MAX_TOKEN_LENGTH = 8192;
/** One base64url segment (RFC 7515 §2: no padding). A single character class: linear. */
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface AccessTokenInput {
  did: string;
  resource: string;
  clientId: string;
  scope: string;
  grantId: string;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  expiresIn: number;
}

export interface AccessTokenClaims {
  did: string;
  resource: string;
  clientId: string;
  scopes: string[];
  grantId: string;
  jti: string;
  expiresAt: number;
}

type AccessTokenDeps = { config: Pick<Config, 'publicUrl' | 'accessTokenTtlSeconds'>; keys: PlatformKeys };

/** The encoded protected header per key, built once (RFC 9068 §2.1: typ at+jwt, and the kid). */
const encodedHeaders = new WeakMap<SigningKey, string>();
function encodedHeader(key: SigningKey): string {
  let header = encodedHeaders.get(key);
  if (header === undefined) {
    header = Buffer.from(JSON.stringify({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP })).toString('base64url');
    encodedHeaders.set(key, header);
  }
  return header;
}

function signatureOf(key: SigningKey, signingInput: string): Buffer {
  return key.alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(signingInput), { key: key.privateKeyObject, dsaEncoding: 'ieee-p1363' })
    : crypto.sign('sha256', Buffer.from(signingInput), key.privateKeyObject); // PKCS#1 v1.5, the RSA default
}

function signatureIsValid(key: SigningKey, signingInput: string, signature: Buffer): boolean {
  try {
    if (key.alg === 'ES256') {
      return signature.length === 64 && crypto.verify('sha256', Buffer.from(signingInput), { key: key.publicKeyObject, dsaEncoding: 'ieee-p1363' }, signature);
    }
    return crypto.verify('sha256', Buffer.from(signingInput), key.publicKeyObject, signature);
  } catch {
    return false;
  }
}

export function signAccessToken(deps: AccessTokenDeps, input: AccessTokenInput): IssuedAccessToken {
  const key = deps.keys.current;
  const jti = randomToken(16);
  const expiresIn = accessTokenLifetime(deps.config);
  const iat = Math.floor(Date.now() / 1000);
  const payload = JSON.stringify({
    iss: deps.config.publicUrl,
    sub: input.did,
    aud: input.resource,
    exp: iat + expiresIn,
    iat,
    jti,
    client_id: input.clientId, // RFC 9068 §2.2: REQUIRED
    scope: input.scope, // RFC 9068 §2.2.3
    gid: input.grantId,
  });
  const signingInput = `${encodedHeader(key)}.${Buffer.from(payload).toString('base64url')}`;
  return { token: `${signingInput}.${signatureOf(key, signingInput).toString('base64url')}`, jti, expiresIn };
}

function parseJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 9068 §4: "at+jwt"; the media type form "application/at+jwt" means the same (RFC 7515 §4.1.9). */
function isAccessTokenTyp(typ: unknown): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === ACCESS_TOKEN_TYP || t === `application/${ACCESS_TOKEN_TYP}`;
}

/**
 * Verifies the signature (our access keys only, by `kid`, with that key's own algorithm), `typ`,
 * issuer, audience and expiry (RFC 9068 §4). Returns undefined for any invalid token; says nothing
 * about grant liveness, which the resource checks against the database.
 */
export function verifyAccessTokenJwt(
  deps: { config: Pick<Config, 'publicUrl'>; keys: PlatformKeys },
  token: string,
  /** The wiki MCP URL the token must be for; undefined only where any audience will do (revocation). */
  expectedAudience: string | undefined,
): AccessTokenClaims | undefined {
  if (token.length > MAX_TOKEN_LENGTH) return undefined;
  const [encodedHeaderPart, encodedPayload, encodedSignature, extra] = token.split('.');
  if (encodedHeaderPart === undefined || encodedPayload === undefined || encodedSignature === undefined || extra !== undefined) return undefined;
  if (!BASE64URL.test(encodedHeaderPart) || !BASE64URL.test(encodedPayload) || !BASE64URL.test(encodedSignature)) return undefined;

  const header = parseJsonObject(encodedHeaderPart);
  if (!header || !isAccessTokenTyp(header.typ)) return undefined;
  if (header.crit !== undefined) return undefined; // RFC 7515 §4.1.11: we understand no extension
  const { alg, kid } = header;
  if (typeof alg !== 'string' || typeof kid !== 'string') return undefined;
  const key = deps.keys.byKid.get(kid);
  // The key decides the algorithm, never the token (RFC 8725 §3.1): no `none`, no HMAC, no other curve.
  if (!key || key.alg !== alg || !deps.keys.acceptedAlgorithms.has(key.alg)) return undefined;
  const signature = Buffer.from(encodedSignature, 'base64url');
  // One encoding per signature: a token whose last character differs only in unused bits is refused.
  if (signature.toString('base64url') !== encodedSignature) return undefined;
  if (!signatureIsValid(key, `${encodedHeaderPart}.${encodedPayload}`, signature)) return undefined;

  const payload = parseJsonObject(encodedPayload);
  if (!payload) return undefined;
  const { iss, sub, aud, exp, iat, nbf, jti, client_id: clientId, scope, gid } = payload;
  const now = Math.floor(Date.now() / 1000);
  if (iss !== deps.config.publicUrl) return undefined;
  if (typeof aud !== 'string' || (expectedAudience !== undefined && aud !== expectedAudience)) return undefined;
  if (typeof exp !== 'number' || exp <= now - CLOCK_TOLERANCE) return undefined;
  if (typeof iat !== 'number' || iat > now + CLOCK_TOLERANCE) return undefined;
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + CLOCK_TOLERANCE)) return undefined;
  if (typeof sub !== 'string' || typeof jti !== 'string' || typeof clientId !== 'string' || typeof scope !== 'string' || typeof gid !== 'string') {
    return undefined;
  }
  return { did: sub, resource: aud, clientId, scopes: scope.split(' ').filter(Boolean), grantId: gid, jti, expiresAt: exp };
}

export interface AccessTokenVerifier {
  /** Like verifyAccessTokenJwt, remembering tokens already verified (see createAccessTokenVerifier). */
  verify(token: string, expectedAudience: string | undefined): AccessTokenClaims | undefined;
}

/**
 * The part of a token that keys the verified-token cache: its last CACHE_KEY_CHARS characters, the end of
 * its signature (a JWS signature is at least 64 bytes, 86 characters). V8 hashes a Map key's every
 * character, and each request's token is a new string: hashing the whole ~700-character token was
 * the cache's largest cost (docs/benchmarks.md, round 12). The entry keeps the whole token and a hit
 * must equal it, so a token sharing only the key is verified as any new token is.
 */
export const CACHE_KEY_CHARS = 24;

/**
 * MCP clients send the same access token with every call for up to an hour. Tokens whose signature
 * and claims were verified are remembered (bounded, least recently used out) until they expire or
 * their key is withdrawn. Only the JWT check is cached: grant liveness and revocation are still read
 * per request by the caller (src/resource/check-bearer.ts).
 */
export function createAccessTokenVerifier(deps: { config: Pick<Config, 'publicUrl'>; keys: PlatformKeys }, maxEntries = 10_000): AccessTokenVerifier {
  const verified = new Map<string, { token: string; claims: AccessTokenClaims; key: SigningKey }>();
  const forAudience = (claims: AccessTokenClaims, expectedAudience: string | undefined) =>
    expectedAudience === undefined || claims.resource === expectedAudience ? claims : undefined;
  return {
    verify(token, expectedAudience) {
      const cacheKey = token.slice(-CACHE_KEY_CHARS);
      const hit = verified.get(cacheKey);
      if (hit !== undefined && hit.token === token) {
        verified.delete(cacheKey);
        // The same key object as at verification: a reload that withdrew or replaced the key ends the entry.
        const keyStillTrusted = deps.keys.byKid.get(hit.key.kid) === hit.key;
        if (keyStillTrusted && hit.claims.expiresAt > Date.now() / 1000) {
          verified.set(cacheKey, hit);
          return forAudience(hit.claims, expectedAudience);
        }
      }
      const claims = verifyAccessTokenJwt(deps, token, undefined);
      if (!claims) return undefined;
      const kid = parseJsonObject(token.slice(0, token.indexOf('.')))?.kid;
      const key = typeof kid === 'string' ? deps.keys.byKid.get(kid) : undefined;
      if (key) {
        verified.delete(cacheKey); // a token sharing the key is replaced, and the new one is the most recent
        verified.set(cacheKey, { token, claims, key });
        if (verified.size > maxEntries) verified.delete(verified.keys().next().value!);
      }
      return forAudience(claims, expectedAudience);
    },
  };
}
