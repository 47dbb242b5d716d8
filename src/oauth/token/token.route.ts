// POST /auth/oauth/token (RFC 6749 §3.2): [no-store, JSON errors, rate limit, form body,
// client authentication, grant dispatch]. The same handlers serve /token on wiki hosts.
import express, { type RequestHandler } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore, rateLimit } from '../../web/http.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { UnauthorizedClient, UnsupportedGrantType } from '../errors.ts';
import { authenticateClient } from './client-auth.ts';
import { exchangeAuthorizationCode } from './grants/authorization-code.ts';
import { refreshAccessToken } from './grants/refresh-token.ts';
import type { TokenResponse } from './token-response.ts';
import { readTokenParams, type TokenParams } from './token-params.ts';

type GrantHandler = (ctx: AppContext, client: OAuthClientRecord, params: TokenParams) => Promise<TokenResponse>;

const grantHandlers: Record<string, GrantHandler> = {
  authorization_code: exchangeAuthorizationCode,
  refresh_token: refreshAccessToken,
};

export function tokenHandlers(ctx: AppContext): RequestHandler[] {
  return [
    apiResponses,
    noStore,
    rateLimit('token', ctx.config.rateLimits.tokenPerMinute),
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 }),
    async (req, res) => {
      const params = readTokenParams(req.body, req.get('content-type'));
      const client = await authenticateClient(ctx, req);
      const grantType = params.required('grant_type');
      const handler = Object.hasOwn(grantHandlers, grantType) ? grantHandlers[grantType] : undefined;
      if (!handler) throw new UnsupportedGrantType(`grant_type "${grantType}" is not supported.`);
      if (!client.metadata.grant_types.includes(grantType)) {
        throw new UnauthorizedClient(`This client did not register the ${grantType} grant.`);
      }
      res.json(await handler(ctx, client, params));
    },
  ];
}
