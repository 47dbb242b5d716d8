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
import { FORM_BODY_OPTIONS } from './form-body.ts';

export interface ClientPost {
  params: TokenParams;
  client: OAuthClientRecord;
  /** The request is the proven client's: the address does not pay for it. */
  attributed(): void;
}

/** The endpoint's last step (after the body is read into `req.body`): parameters, client authentication, the endpoint's own step. */
export type ClientPostAnswer = (req: Request, res: Response) => Promise<void>;

export function clientPostAnswer(
  ctx: Pick<AppContext, 'clientResolver' | 'clientAssertions'>,
  limits: Pick<TokenEndpointLimits, 'address'>,
  step: (req: Request, res: Response, post: ClientPost) => Promise<void>,
): ClientPostAnswer {
  return async (req, res) => {
    let attributed = false;
    try {
      const params = readTokenParams(req.body, req.get('content-type'));
      const client = await authenticateClient(ctx, req);
      await step(req, res, { params, client, attributed: () => void (attributed = true) });
    } finally {
      if (!attributed) limits.address.spend(req.ip);
    }
  };
}

/** The form body as the Express chain reads it (the light path, src/web/token-light-path.ts, reads it itself: form-body.ts). */
export const formBody = express.urlencoded(FORM_BODY_OPTIONS);

/** The whole chain: JSON errors, no-store, the address gate, the form body, then `answer`. */
export function clientAuthenticatedPost(limits: Pick<TokenEndpointLimits, 'address'>, answer: ClientPostAnswer): RequestHandler[] {
  return [apiResponses, noStore, limits.address.check, formBody, answer];
}
