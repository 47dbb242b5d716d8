// POST /auth/oauth/revoke (RFC 7009). A refresh token revokes its whole grant (§2.1: and so every
// access token of it); an access token is deny-listed until it expires. Unknown or foreign tokens
// get the same 200 (§2.2), so the endpoint reveals nothing.
import express, { Router } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore, rateLimit } from '../../web/http.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { authenticateClient } from '../token/client-auth.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { readTokenParams } from '../token/token-params.ts';

export async function revokeToken(ctx: AppContext, client: OAuthClientRecord, token: string): Promise<void> {
  const refresh = ctx.refreshTokens.findByValue(token);
  if (refresh) {
    const grant = ctx.grants.findById(refresh.grantId);
    if (grant?.clientId === client.clientId && ctx.grants.revoke(grant.id)) {
      ctx.log.info({ clientId: client.clientId, grantId: grant.id }, 'grant revoked by client');
    }
    return;
  }
  const claims = await ctx.accessTokens.verify(token, undefined);
  if (claims && claims.clientId === client.clientId) {
    ctx.revokedAccessTokens.add(claims.jti, claims.expiresAt);
    ctx.log.info({ clientId: client.clientId, jti: claims.jti }, 'access token revoked by client');
  }
}

export function revokeRoutes(ctx: AppContext): Router {
  return Router().post(
    OAUTH_PATHS.revoke,
    apiResponses,
    noStore,
    rateLimit('revoke', ctx.config.rateLimits.tokenPerMinute),
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 }),
    async (req, res) => {
      const params = readTokenParams(req.body, req.get('content-type'));
      const client = await authenticateClient(ctx, req);
      await revokeToken(ctx, client, params.required('token'));
      res.status(200).end();
    },
  );
}
