// The shell the two client-authenticated endpoints share, POST /token (RFC 6749 §3.2) and POST
// /revoke (RFC 7009 §2.1), in this order: no-store and JSON errors; the address gate before the
// body is read; a small application/x-www-form-urlencoded body; the parameters read once
// (token-params.ts: each at most once); client authentication (client-auth.ts). Then the endpoint's
// own step. Whose budget the request spends (token-rate-limits.ts): the address, unless the step
// called `attributed()` because a proven client of its own credential pays instead; this holds
// whether the step then answers or throws.
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore } from '../../web/http.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { authenticateClient } from './client-auth.ts';
import type { TokenEndpointLimits } from './token-rate-limits.ts';
import { readTokenParams, type TokenParams } from './token-params.ts';

export interface ClientPost {
  params: TokenParams;
  client: OAuthClientRecord;
  /** The request is the proven client's: the address does not pay for it. */
  attributed(): void;
}

export function clientAuthenticatedPost(
  ctx: Pick<AppContext, 'clientResolver' | 'clientAssertions'>,
  limits: Pick<TokenEndpointLimits, 'address'>,
  step: (req: Request, res: Response, post: ClientPost) => Promise<void>,
): RequestHandler[] {
  return [
    apiResponses,
    noStore,
    limits.address.check,
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 }),
    async (req, res) => {
      let attributed = false;
      try {
        const params = readTokenParams(req.body, req.get('content-type'));
        const client = await authenticateClient(ctx, req);
        await step(req, res, { params, client, attributed: () => void (attributed = true) });
      } finally {
        if (!attributed) limits.address.spend(req.ip);
      }
    },
  ];
}
