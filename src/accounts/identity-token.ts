// The wikis' identity token (issue 9 findings 6 and 11): who the person is, for wiki hosts, and
// nothing more. The contract wikis rely on (README, "For wiki apps: the identity token"):
//   header: alg RS256, typ "wiki-id+jwt", kid of a key published at IDENTITY_JWKS_PATH only
//           (signed with the "identity" key set, which the access-token verifier never trusts; access
//           tokens are signed with the "access" set, which is not published there);
//   claims: iss = PUBLIC_URL, aud = identityAudience(config) (`${PUBLIC_URL}/wikis`), sub = DID,
//           handle, username, iat, exp = iat + IDENTITY_TOKEN_TTL_SECONDS.
// The apex never accepts it for anything: it only mints it, from a live apex session.
import * as jose from 'jose';
import type { Config } from '../config/env.ts';
import type { PlatformKeys } from '../config/keys.ts';
import { IDENTITY_TOKEN_TTL_SECONDS } from '../lifetimes.ts';
import type { User } from './users.repo.ts';

export const IDENTITY_TOKEN_TYP = 'wiki-id+jwt';
/** Where wikis fetch the identity token's public keys (never the AS metadata's jwks_uri). */
export const IDENTITY_JWKS_PATH = '/auth/wiki-identity/jwks.json';
/** The apex route that refreshes the identity cookie and sends the person back to a wiki. */
export const WIKI_SESSION_PATH = '/auth/wiki-session';

export function identityAudience(config: Pick<Config, 'publicUrl'>): string {
  return `${config.publicUrl}/wikis`;
}

export async function signIdentityToken(
  deps: { config: Pick<Config, 'publicUrl'>; identityKeys: PlatformKeys },
  user: Pick<User, 'did' | 'handle' | 'username'>,
): Promise<string> {
  const key = deps.identityKeys.current;
  return new jose.SignJWT({ handle: user.handle, username: user.username })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: IDENTITY_TOKEN_TYP })
    .setIssuer(deps.config.publicUrl)
    .setAudience(identityAudience(deps.config))
    .setSubject(user.did)
    .setIssuedAt()
    .setExpirationTime(`${IDENTITY_TOKEN_TTL_SECONDS}s`)
    .sign(key.privateKey);
}
