// POST /auth/oauth/token (RFC 6749 §3.2): [no-store, JSON errors, address gate, form body, client
// authentication (that shell: client-post.ts), grant dispatch; the grant's transaction names the
// asker whose budgets it spends].
// The same handlers serve /token on wiki hosts. Whose budget a request spends: token-rate-limits.ts
// and src/web/rate-limits.ts. The answer (RFC 6749 §5.1) is one JSON.stringify, written with no
// ETag (a POST answer carrying credentials is never revalidated) by `writeTokenAnswer`.
import { Router, type RequestHandler } from 'express';
import type { ServerResponse } from 'node:http';
import type { AppContext } from '../../context.ts';
import type { Config } from '../../config/env.ts';
import { oauthClientCors } from '../../resource/cors.ts';
import { wikiSlugOfRequest } from '../../wikis/urls.ts';
import { OAUTH_PATHS } from '../paths.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import { UnauthorizedClient, UnsupportedGrantType } from '../errors.ts';
import { clientAuthenticatedPost, clientPostAnswer, type ClientPostAnswer } from './client-post.ts';
import type { AddressGate } from '../../web/rate-limits.ts';
import { exchangeAuthorizationCode } from './grants/authorization-code.ts';
import { refreshAccessToken } from './grants/refresh-token.ts';
import { tokenEndpointLimits, type Asker, type TokenRequestOrigin } from './token-rate-limits.ts';
import type { TokenResponse } from './token-response.ts';
import type { TokenParams } from './token-params.ts';

/** `origin`: the request's source address, and the hook that spends the asker's budgets. */
type GrantHandler = (ctx: AppContext, client: OAuthClientRecord, params: TokenParams, origin: TokenRequestOrigin) => Promise<TokenResponse>;

const grantHandlers: Record<string, GrantHandler> = {
  authorization_code: exchangeAuthorizationCode,
  refresh_token: refreshAccessToken,
};

export interface TokenEndpoint {
  /** The Express chain after CORS (client-post.ts: JSON errors, no-store, address gate, form body, `answer`, `writeTokenAnswer`). */
  handlers: RequestHandler[];
  /** Its last step, for the light path (src/web/token-light-path.ts), which reads the body itself: the JSON body of a 200. */
  answer: ClientPostAnswer<string>;
  /** The address gate both spend. */
  address: AddressGate;
}

/** The media type of a token answer (and of the OAuth errors the error handler writes). */
export const TOKEN_ANSWER_TYPE = 'application/json; charset=utf-8';

/** A token answer, as the Express chain writes it (the light path writes the same with one writeHead). */
function writeTokenAnswer(res: Pick<ServerResponse, 'statusCode' | 'setHeader' | 'end'>, body: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', TOKEN_ANSWER_TYPE);
  res.end(body);
}

export function tokenEndpoint(ctx: AppContext): TokenEndpoint {
  const limits = tokenEndpointLimits(ctx.config, 'token');
  const answer = clientPostAnswer(ctx, limits, async (req, { params, client, attributed }): Promise<string> => {
    const grantType = params.required('grant_type');
    const handler = Object.hasOwn(grantHandlers, grantType) ? grantHandlers[grantType] : undefined;
    if (!handler) throw new UnsupportedGrantType(`grant_type "${grantType}" is not supported.`);
    if (!client.metadata.grant_types.includes(grantType)) {
      throw new UnauthorizedClient(`This client did not register the ${grantType} grant.`);
    }
    // Once per request: a PostgreSQL transaction retried after a deadlock runs its callback again
    // (src/storage/store.ts rule 4), and must not spend the budgets twice.
    let asked = false;
    const attribute = (asker: Asker): void => {
      if (asked) return;
      asked = true;
      limits.spend(asker);
      if (asker.proven) attributed();
    };
    const body = JSON.stringify(await handler(ctx, client, params, { address: req.ip, attribute }));
    ctx.metrics.tokenIssued(grantType as 'authorization_code' | 'refresh_token');
    return body;
  });
  return { handlers: clientAuthenticatedPost(limits, answer, writeTokenAnswer), answer, address: limits.address };
}

/**
 * The issuer's POST /auth/oauth/token, dispatched right after the header limits instead of after the
 * verify, TLS-ask, wiki-host and metadata routers, which never answer it (docs/benchmarks.md,
 * "Round 4: the token endpoint"). Same chain as the apex route (CORS, then `tokenEndpoint`'s handlers). A wiki
 * host is left to wiki-host.route.ts, which answers 404 there (the check is the one it uses,
 * wikiSlugOfRequest, and throws the same HostMismatch); any other spelling of the path (case,
 * trailing slash) takes the ordinary route.
 */
export function earlyTokenDispatch(config: Pick<Config, 'apexHost'>, chain: RequestHandler[]): RequestHandler {
  const router = Router();
  router.post(OAUTH_PATHS.token, oauthClientCors, ...chain);
  return (req, res, next) => {
    if (req.method !== 'POST' || req.path !== OAUTH_PATHS.token || wikiSlugOfRequest(config, req) !== undefined) return next();
    router(req, res, next);
  };
}
