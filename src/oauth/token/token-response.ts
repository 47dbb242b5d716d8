// RFC 6749 §5.1 token response. Access token: RFC 9068 JWT for the grant's wiki. Refresh token:
// always issued (no offline_access needed), opaque, stored hashed.
import type { AppContext } from '../../context.ts';
import type { Config } from '../../config/env.ts';
import type { Grant } from '../grants/grants.repo.ts';
import { signAccessToken } from '../tokens/access-token.ts';

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  scope: string;
}

/** What signing a token response needs: the access-token settings and the platform keys. */
export type TokenResponseDeps = Pick<AppContext, 'platformKeys'> & { config: Pick<Config, 'publicUrl' | 'accessTokenTtlSeconds'> };

export async function buildTokenResponse(
  ctx: TokenResponseDeps,
  grant: Pick<Grant, 'id' | 'userDid' | 'resource' | 'clientId'>,
  scope: string,
  refreshToken: string,
): Promise<TokenResponse> {
  const access = await signAccessToken(
    { config: ctx.config, keys: ctx.platformKeys },
    { did: grant.userDid, resource: grant.resource, clientId: grant.clientId, scope, grantId: grant.id },
  );
  return { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn, refresh_token: refreshToken, scope };
}
