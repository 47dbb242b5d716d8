// POST /auth/oauth/revoke (RFC 7009). A refresh token revokes its whole grant (§2.1: and so every
// access token of it); an access token is deny-listed until it expires. Unknown or foreign tokens
// get the same 200 (§2.2), so the endpoint reveals nothing.
import express, { Router } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore } from '../../web/http.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { authenticateClient } from '../token/client-auth.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { readTokenParams } from '../token/token-params.ts';
import { tokenEndpointLimits } from '../token/token-rate-limits.ts';

/** Revokes `token` if it is the client's; returns whether it was (the rate limit then charges the client). */
export type RevokeDeps = Pick<AppContext, 'refreshTokens' | 'grants' | 'accessTokens' | 'revokedAccessTokens' | 'log' | 'audit' | 'metrics'>;

export async function revokeToken(ctx: RevokeDeps, client: OAuthClientRecord, token: string, address?: string): Promise<boolean> {
  const refresh = ctx.refreshTokens.findByValue(token);
  if (refresh) {
    const grant = ctx.grants.findById(refresh.grantId);
    if (grant?.clientId !== client.clientId) return false;
    if (ctx.grants.revoke(grant.id)) {
      ctx.log.info({ clientId: client.clientId, grantId: grant.id }, 'grant revoked by client');
      ctx.audit.record({ event: 'grant_revoked', did: grant.userDid, clientId: client.clientId, wikiSlug: grant.wikiSlug, actor: 'client', address, detail: { via: 'rfc7009' } });
      ctx.metrics.grantRevoked('client');
    }
    return true;
  }
  const claims = await ctx.accessTokens.verify(token, undefined);
  if (!claims || claims.clientId !== client.clientId) return false;
  ctx.revokedAccessTokens.add(claims.jti, claims.expiresAt);
  ctx.log.info({ clientId: client.clientId, jti: claims.jti }, 'access token revoked by client');
  return true;
}

export function revokeRoutes(ctx: AppContext): Router {
  // Keyed like /token (src/web/rate-limits.ts): the client when the token is its own, else the address.
  const limits = tokenEndpointLimits(ctx.config, 'revoke');
  return Router().post(
    OAUTH_PATHS.revoke,
    apiResponses,
    noStore,
    limits.address.check,
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 }),
    async (req, res) => {
      let attributed = false;
      try {
        const params = readTokenParams(req.body, req.get('content-type'));
        const client = await authenticateClient(ctx, req);
        limits.client.check(client.clientId);
        attributed = await revokeToken(ctx, client, params.required('token'), req.ip);
        if (attributed) limits.client.record(client.clientId);
        res.status(200).end();
      } finally {
        if (!attributed) limits.address.spend(req);
      }
    },
  );
}
