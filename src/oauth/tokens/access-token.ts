// Access tokens: JWTs per RFC 9068, signed with the current platform key, audience-bound to one
// wiki's MCP URL (RFC 8707). They also name their grant (`gid`), so the resource can refuse them
// the moment the grant is revoked.
import * as jose from 'jose';
import type { Config } from '../../config/env.ts';
import type { PlatformKeys } from '../../config/keys.ts';
import { randomToken } from '../../lib/secrets.ts';

export const ACCESS_TOKEN_TYP = 'at+jwt';

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

export async function signAccessToken(
  deps: { config: Config; keys: PlatformKeys },
  input: AccessTokenInput,
): Promise<IssuedAccessToken> {
  const key = deps.keys.current;
  const jti = randomToken(16);
  const expiresIn = deps.config.accessTokenTtlSeconds;
  const token = await new jose.SignJWT({
    client_id: input.clientId, // RFC 9068 §2.2: REQUIRED
    scope: input.scope, // RFC 9068 §2.2.3
    gid: input.grantId,
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYP }) // RFC 9068 §2.1
    .setIssuer(deps.config.publicUrl)
    .setSubject(input.did)
    .setAudience(input.resource)
    .setJti(jti)
    .setIssuedAt()
    .setExpirationTime(`${expiresIn}s`)
    .sign(key.privateKey);
  return { token, jti, expiresIn };
}

/**
 * Verifies signature (our keys only, RS256 only: no `none`, no HMAC), `typ`, issuer, audience
 * and expiry (RFC 9068 §4). Returns undefined for any invalid token; says nothing about grant
 * liveness, which the resource checks against the database.
 */
export async function verifyAccessTokenJwt(
  deps: { config: Config; keys: PlatformKeys },
  token: string,
  /** The wiki MCP URL the token must be for; undefined only where any audience will do (revocation). */
  expectedAudience: string | undefined,
): Promise<AccessTokenClaims | undefined> {
  if (token.length > 8192) return undefined;
  try {
    const { payload } = await jose.jwtVerify(token, deps.keys.verificationKeySet, {
      issuer: deps.config.publicUrl,
      ...(expectedAudience === undefined ? {} : { audience: expectedAudience }),
      typ: ACCESS_TOKEN_TYP,
      algorithms: ['RS256'],
      requiredClaims: ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope'],
      clockTolerance: 30,
    });
    const { sub, jti, exp, aud, client_id: clientId, scope, gid } = payload;
    if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') return undefined;
    if (typeof clientId !== 'string' || typeof scope !== 'string' || typeof gid !== 'string') return undefined;
    if (typeof aud !== 'string') return undefined;
    return { did: sub, resource: aud, clientId, scopes: scope.split(' ').filter(Boolean), grantId: gid, jti, expiresAt: exp };
  } catch {
    return undefined;
  }
}

export interface AccessTokenVerifier {
  /** Like verifyAccessTokenJwt, remembering tokens already verified (see createAccessTokenVerifier). */
  verify(token: string, expectedAudience: string | undefined): Promise<AccessTokenClaims | undefined>;
}

/**
 * MCP clients send the same access token with every call for up to an hour, and checking its RS256
 * signature is most of the cost of a bearer check. Tokens whose signature and claims were verified
 * are remembered (bounded, least recently used out) until they expire or their key is withdrawn.
 * Only the JWT check is cached: grant liveness and revocation are still read per request.
 */
export function createAccessTokenVerifier(deps: { config: Config; keys: PlatformKeys }, maxEntries = 10_000): AccessTokenVerifier {
  const verified = new Map<string, { claims: AccessTokenClaims; kid: string }>();
  return {
    async verify(token, expectedAudience) {
      const hit = verified.get(token);
      if (hit) {
        verified.delete(token);
        const keyStillTrusted = deps.keys.all.some((k) => k.kid === hit.kid);
        if (keyStillTrusted && hit.claims.expiresAt > Date.now() / 1000) {
          verified.set(token, hit);
          return expectedAudience === undefined || hit.claims.resource === expectedAudience ? hit.claims : undefined;
        }
      }
      const claims = await verifyAccessTokenJwt(deps, token, undefined);
      if (!claims) return undefined;
      const { kid } = jose.decodeProtectedHeader(token);
      if (typeof kid === 'string') {
        verified.set(token, { claims, kid });
        if (verified.size > maxEntries) verified.delete(verified.keys().next().value!);
      }
      return expectedAudience === undefined || claims.resource === expectedAudience ? claims : undefined;
    },
  };
}
