// The wiki side of the identity-token contract, exactly as the README's "For wiki apps: the identity
// token" section quotes it (a test compares the two, so they cannot drift). Wikis copy this.
// --- README example begin ---
import * as jose from 'jose';

/** PUBLIC_URL of the platform, e.g. https://wiki.example (the token's issuer). */
export function createWikiIdentityCheck(platformUrl: string) {
  // The identity keys only: NOT the AS metadata's jwks_uri (/.well-known/jwks.json), whose keys sign
  // MCP access tokens. jose caches the set and refetches it when it sees an unknown kid.
  const keys = jose.createRemoteJWKSet(new URL(`${platformUrl}/auth/wiki-identity/jwks.json`));
  return async function whoIsThis(cookieValue: string | undefined) {
    if (!cookieValue) return undefined; // not signed in: send the person to /auth/wiki-session
    try {
      const { payload } = await jose.jwtVerify(cookieValue, keys, {
        algorithms: ['RS256'], // never "none", never HS256
        typ: 'wiki-id+jwt', // an access token (typ at+jwt) is not an identity
        issuer: platformUrl,
        audience: `${platformUrl}/wikis`,
        requiredClaims: ['sub', 'exp', 'iat'],
        maxTokenAge: '15m',
      });
      const { sub, handle, username } = payload;
      if (typeof sub !== 'string' || typeof handle !== 'string' || typeof username !== 'string') return undefined;
      return { did: sub, handle, username };
    } catch {
      return undefined; // expired, forged or another kind of token: treat as signed out
    }
  };
}
// --- README example end ---
