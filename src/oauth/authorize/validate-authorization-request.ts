// /authorize, as a list of named checks (OAuth 2.1 §4.1.1). The first check decides whether later
// errors may be redirected: only once the client and its redirect URI are verified.
import type { AppContext } from '../../context.ts';
import { InvalidRequest, OAuthError } from '../errors.ts';
import { AuthorizationErrorRedirect } from './authorization-response.ts';
import type { PendingAuthorization } from './authorization-requests.repo.ts';
import { checkClientAndRedirectUri } from './checks/client-and-redirect-uri.ts';
import { checkCodeChallenge } from './checks/code-challenge.ts';
import { checkResource } from './checks/resource.ts';
import { checkResponseType } from './checks/response-type.ts';
import { checkScope } from './checks/scope.ts';
import type { Params } from './params.ts';

/** Throws UnverifiedAuthorizationRequest (page) or AuthorizationErrorRedirect (back to the client). */
export async function validateAuthorizationRequest(ctx: AppContext, params: Params): Promise<PendingAuthorization> {
  const { client, redirectUri, redirectUriSent } = await checkClientAndRedirectUri(ctx, params);
  // From here on the redirect URI is trusted; echo `state` only if it is a single string.
  const state = typeof params.state === 'string' && params.state.length <= 2048 ? params.state : undefined;
  try {
    checkResponseType(params);
    const codeChallenge = checkCodeChallenge(params);
    const scopes = checkScope(params, client);
    const wikiSlug = checkResource(ctx, params);
    if (params.state !== undefined && state === undefined) throw new InvalidRequest('The "state" parameter must be given once, in at most 2048 characters.');
    return { clientId: client.clientId, redirectUri, redirectUriSent, state, codeChallenge, scopes, wikiSlug };
  } catch (err) {
    if (err instanceof OAuthError) throw new AuthorizationErrorRedirect(redirectUri, ctx.config.publicUrl, state, err);
    throw err;
  }
}
