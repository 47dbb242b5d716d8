// The shell the two client-authenticated endpoints share, POST /token (RFC 6749 §3.2) and POST
// /revoke (RFC 7009 §2.1), in this order: no-store and JSON errors; the address gate before the
// body is read; a small application/x-www-form-urlencoded body; the parameters read once
// (token-params.ts: each at most once); client authentication (client-auth.ts). Then the endpoint's
// own step, which returns what to answer and never touches the response. Whose budget the request
// spends (token-rate-limits.ts): the address, unless the step called `attributed()` because a
// proven client of its own credential pays instead; this holds whether the step then answers or throws.
import express, { type RequestHandler } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore } from '../../web/http.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { authenticateClient } from './client-auth.ts';
import type { TokenEndpointLimits } from './token-rate-limits.ts';
import { readTokenParams, type TokenParams } from './token-params.ts';
import { FORM_BODY_OPTIONS } from './form-body.ts';

/**
 * What the step and client authentication read of the request: its parsed body, its address and
 * two headers. An Express request is one; the token endpoint's light path (src/web/token-light-path.ts)
 * makes one from the raw request.
 */
export interface PostedRequest {
  body: unknown;
  ip: string | undefined;
  /** A request header by name (any case), as Express's req.get. */
  get(name: 'content-type' | 'authorization'): string | undefined;
}

export interface ClientPost {
  params: TokenParams;
  client: OAuthClientRecord;
  /** The request is the proven client's: the address does not pay for it. */
  attributed(): void;
}

/** The endpoint's last step (after the body is read): parameters, client authentication, the endpoint's own step; its outcome. */
export type ClientPostAnswer<T> = (req: PostedRequest) => Promise<T>;

export function clientPostAnswer<T>(
  ctx: Pick<AppContext, 'clientResolver' | 'clientAssertions'>,
  limits: Pick<TokenEndpointLimits, 'address'>,
  step: (req: PostedRequest, post: ClientPost) => Promise<T>,
): ClientPostAnswer<T> {
  return async (req) => {
    let attributed = false;
    try {
      const params = readTokenParams(req.body, req.get('content-type'));
      const client = await authenticateClient(ctx, req);
      return await step(req, { params, client, attributed: () => void (attributed = true) });
    } finally {
      if (!attributed) limits.address.spend(req.ip);
    }
  };
}

/** The form body as the Express chain reads it (the light path, src/web/token-light-path.ts, reads it itself: form-body.ts). */
export const formBody = express.urlencoded(FORM_BODY_OPTIONS);

/** The whole chain: JSON errors, no-store, the address gate, the form body, then `answer` and `write` (its outcome to the response). */
export function clientAuthenticatedPost<T>(
  limits: Pick<TokenEndpointLimits, 'address'>,
  answer: ClientPostAnswer<T>,
  write: (res: Parameters<RequestHandler>[1], outcome: T) => void,
): RequestHandler[] {
  return [apiResponses, noStore, limits.address.check, formBody, async (req, res) => write(res, await answer(req))];
}
