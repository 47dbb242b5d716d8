// grant_type=refresh_token (RFC 6749 §6). When a token may be used, rotated or counts as a replay is
// decided in ../refresh-rotation.ts; this handler checks the request's resource and scope against
// the grant and turns the outcome into a token response or an error.
import type { AppContext } from '../../../context.ts';
import { AppError } from '../../../web/errors.ts';
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidGrant, InvalidScope } from '../../errors.ts';
import { formatScope, grantScope, SUPPORTED_SCOPES } from '../../scopes.ts';
import { rotateRefreshToken, type RotationDeps } from '../refresh-rotation.ts';
import { checkResourceMatches } from '../resource-param.ts';
import { buildTokenResponse, type TokenResponse, type TokenResponseDeps } from '../token-response.ts';
import type { TokenParams } from '../token-params.ts';
import type { TokenRequestOrigin } from '../token-rate-limits.ts';

export type RefreshDeps = RotationDeps & TokenResponseDeps & Pick<AppContext, 'log'>;

export async function refreshAccessToken(
  ctx: RefreshDeps,
  client: OAuthClientRecord,
  params: TokenParams,
  origin: TokenRequestOrigin = {},
): Promise<TokenResponse> {
  const value = params.required('refresh_token');
  const requestedResource = params.optional('resource');
  const requestedScope = params.optional('scope');
  let scope = '';
  const outcome = await rotateRefreshToken(ctx, client.clientId, value, (grant) => {
    try {
      checkResourceMatches(requestedResource, grant.resource);
      scope = narrowScope(requestedScope, grant.scope);
      return undefined;
    } catch (err) {
      if (err instanceof AppError) return err;
      throw err;
    }
  }, origin);
  if (outcome.kind === 'refused') throw outcome.error;
  if (outcome.kind === 'replayed') {
    const { grant, reason } = outcome;
    ctx.log.warn(
      { clientId: client.clientId, grantId: grant.id, did: grant.userDid, reason },
      'refresh token reused after rotation; grant revoked (the client or a thief replayed an old token: the user must reconnect the app)',
    );
    throw new InvalidGrant('The refresh token was already used.');
  }
  return buildTokenResponse(ctx, outcome.grant, scope, outcome.refreshToken);
}

/**
 * RFC 6749 §6: a refresh may ask for fewer scopes, never more (a known scope outside the grant is
 * invalid_scope). Unknown values are ignored and no known value means the grant's scope, as at
 * /authorize (../../scopes.ts).
 */
function narrowScope(requested: string | undefined, granted: string): string {
  const allowed = SUPPORTED_SCOPES.filter((s) => granted.split(' ').includes(s));
  const result = grantScope(requested, allowed);
  if (!result) throw new InvalidScope('The scope parameter is malformed (RFC 6749 §3.3).');
  if (result.outside.length > 0) throw new InvalidScope(`A refresh cannot add scopes to the grant: ${formatScope(result.outside)}.`);
  return formatScope(result.scopes);
}
