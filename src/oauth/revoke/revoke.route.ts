// POST /auth/oauth/revoke (RFC 7009). A refresh token revokes its whole grant (§2.1: and so every
// access token of it); an access token is deny-listed until it expires. Unknown or foreign tokens
// get the same 200 (§2.2), so the endpoint reveals nothing.
import { Router } from 'express';
import type { AppContext } from '../../context.ts';
import type { AuditEvent } from '../../audit/audit-log.ts';
import { revokedAccessTokenKeptUntil } from '../../lifetimes.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { clientAuthenticatedPost, clientPostAnswer } from '../token/client-post.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { tokenEndpointLimits } from '../token/token-rate-limits.ts';

/**
 * Revokes `token` if it is the client's; returns whether that revoked something still live (the rate
 * limit then charges the client). Revoking a dead or already revoked token pays the address, so a
 * client's budget cannot be drained with one's own old tokens (src/oauth/token/token-rate-limits.ts).
 * A refresh token's grant is revoked in one store transaction (src/storage/store.ts) with its audit
 * entry; the log line and metrics follow the commit.
 */
export type RevokeDeps = Pick<AppContext, 'store' | 'accessTokens' | 'log' | 'audit' | 'metrics'>;

export async function revokeToken(ctx: RevokeDeps, client: OAuthClientRecord, token: string, address?: string): Promise<boolean> {
  const revoked = await ctx.store.transaction(async (tx) => {
    const refresh = await tx.refreshTokens.findByValueForUpdate(token);
    if (!refresh) return undefined;
    const grant = await tx.grants.findById(refresh.grantId);
    if (grant?.clientId !== client.clientId || !(await tx.grants.revoke(grant.id))) return { grant: undefined };
    const event: AuditEvent = { event: 'grant_revoked', did: grant.userDid, clientId: client.clientId, wikiSlug: grant.wikiSlug, actor: 'client', address, detail: { via: 'rfc7009' } };
    return { grant, event, stored: await ctx.audit.insertIn(tx, event) };
  });
  if (revoked) {
    if (!revoked.grant) return false;
    ctx.log.info({ clientId: client.clientId, grantId: revoked.grant.id }, 'grant revoked by client');
    ctx.audit.announce(revoked.event, revoked.stored);
    ctx.metrics.grantRevoked('client');
    return true;
  }
  const claims = await ctx.accessTokens.verify(token, undefined);
  if (!claims || claims.clientId !== client.clientId) return false;
  const added = await ctx.store.transaction(async (tx) => {
    if (await tx.revokedAccessTokens.isRevoked(claims.jti)) return false;
    await tx.revokedAccessTokens.add(claims.jti, revokedAccessTokenKeptUntil(claims.expiresAt));
    return true;
  });
  if (!added) return false;
  ctx.log.info({ clientId: client.clientId, jti: claims.jti }, 'access token revoked by client');
  return true;
}

export function revokeRoutes(ctx: AppContext): Router {
  // Keyed like /token (src/web/rate-limits.ts): the client when the token is its own, else the address.
  const limits = tokenEndpointLimits(ctx.config, 'revoke');
  return Router().post(
    OAUTH_PATHS.revoke,
    ...clientAuthenticatedPost(
      limits,
      clientPostAnswer(ctx, limits, async (req, { params, client, attributed }) => {
        limits.client.check(client.clientId);
        if (await revokeToken(ctx, client, params.required('token'), req.ip)) {
          attributed();
          limits.client.record(client.clientId);
        }
      }),
      // RFC 7009 §2.2: 200 whether or not the token was known.
      (res) => res.status(200).end(),
    ),
  );
}
