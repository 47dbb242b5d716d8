// OAuth 2.1 §4.3, RFC 9700 §4.14: refresh tokens rotate on every use. The token just replaced
// keeps working for a short grace period (a client may refresh twice in parallel, or crash before
// saving the new token); presented after that, it is a replay and the whole grant is revoked.
// All of it runs in one SQLite transaction, so concurrent refreshes cannot both rotate.
import type { AppContext } from '../../../context.ts';
import { nowSeconds } from '../../../db/open.ts';
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidGrant, InvalidScope } from '../../errors.ts';
import { parseScope, formatScope } from '../../scopes.ts';
import { checkResourceMatches } from '../resource-param.ts';
import { buildTokenResponse, type TokenResponse } from '../token-response.ts';
import type { TokenParams } from '../token-params.ts';

export async function refreshAccessToken(ctx: AppContext, client: OAuthClientRecord, params: TokenParams): Promise<TokenResponse> {
  const value = params.required('refresh_token');
  const outcome = ctx.db.transaction(() => {
    const now = nowSeconds();
    const presented = ctx.refreshTokens.findByValue(value);
    if (!presented || presented.expiresAt <= now) throw new InvalidGrant('The refresh token is invalid or expired.');
    const grant = ctx.grants.findLive(presented.grantId);
    if (!grant) throw new InvalidGrant('The refresh token is invalid or expired.');
    if (grant.clientId !== client.clientId) throw new InvalidGrant('The refresh token was issued to another client.');

    if (presented.rotatedAt !== null && now - presented.rotatedAt > ctx.config.refreshGraceSeconds) {
      // Returned, not thrown: a throw would roll the revocation back with the transaction.
      ctx.grants.revoke(grant.id);
      return { kind: 'replayed' as const, replayed: grant };
    }
    checkResourceMatches(params.optional('resource'), grant.resource);
    const scope = narrowScope(params.optional('scope'), grant.scope);
    // First use rotates; a use within the grace period gets tokens too (no false revocation).
    ctx.refreshTokens.markRotated(presented.hash);
    const refreshToken = ctx.refreshTokens.insert(grant.id, ctx.config.refreshTokenTtlSeconds);
    ctx.grants.extend(grant.id, now + ctx.config.refreshTokenTtlSeconds);
    return { kind: 'issued' as const, grant, refreshToken, scope };
  }).immediate();
  if (outcome.kind === 'replayed') {
    const { replayed } = outcome;
    ctx.log.warn({ clientId: client.clientId, grantId: replayed.id, did: replayed.userDid }, 'refresh token reused after rotation; grant revoked');
    throw new InvalidGrant('The refresh token was already used.');
  }
  return buildTokenResponse(ctx, outcome.grant, outcome.scope, outcome.refreshToken);
}

/** RFC 6749 §6: a refresh may ask for fewer scopes, never more. */
function narrowScope(requested: string | undefined, granted: string): string {
  const parsed = parseScope(requested);
  if ('unknown' in parsed) throw new InvalidScope(`Unknown scope: ${parsed.unknown.join(' ')}.`);
  const explicit = (requested ?? '').split(' ').filter((s) => s !== '' && s !== 'offline_access');
  if (explicit.length === 0) return granted;
  const allowed = new Set(granted.split(' '));
  if (parsed.scopes.some((s) => !allowed.has(s))) throw new InvalidScope('A refresh cannot add scopes to the grant.');
  return formatScope(parsed.scopes);
}
