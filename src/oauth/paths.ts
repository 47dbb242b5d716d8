// Where the authorization server's endpoints live (under the issuer, PUBLIC_URL). One list, used by
// the routers, the RFC 8414 metadata and the wiki-host fallbacks.
export const OAUTH_PATHS = {
  authorize: '/auth/oauth/authorize',
  consent: '/auth/oauth/consent',
  token: '/auth/oauth/token',
  register: '/auth/oauth/register',
  revoke: '/auth/oauth/revoke',
  jwks: '/.well-known/jwks.json',
} as const;
