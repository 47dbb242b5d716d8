// /authorize, as a list of named checks (OAuth 2.1 §4.1.1). No error here is ever redirected to
// the client (RFC 9700 §4.11.2, see refused-before-consent.ts): the person has not acted yet.
import type { AppContext } from '../../context.ts';
import { InvalidRequest, OAuthError } from '../errors.ts';
import { clientDisplayName } from '../clients/client.ts';
import { AuthorizationRefusedBeforeConsent } from './refused-before-consent.ts';
import type { PendingAuthorization } from './authorization-requests.repo.ts';
import { checkClientAndRedirectUri } from './checks/client-and-redirect-uri.ts';
import { checkCodeChallenge } from './checks/code-challenge.ts';
import { checkResource } from './checks/resource.ts';
import { checkResponseType } from './checks/response-type.ts';
import { checkScope } from './checks/scope.ts';
import type { Params } from './params.ts';

/** Throws UnverifiedAuthorizationRequest or AuthorizationRefusedBeforeConsent: both are pages. */
export async function validateAuthorizationRequest(ctx: Pick<AppContext, 'clientResolver' | 'config' | 'store'>, params: Params): Promise<PendingAuthorization> {
  const { client, redirectUri, redirectUriSent } = await checkClientAndRedirectUri(ctx, params);
  // The redirect URI is the registered one, but nothing is sent there before the person decides.
  const state = typeof params.state === 'string' && params.state.length <= 2048 ? params.state : undefined;
  try {
    checkResponseType(params);
    const codeChallenge = checkCodeChallenge(params);
    const scopes = checkScope(params, client);
    const wikiSlug = await checkResource(ctx, params);
    if (params.state !== undefined && state === undefined) throw new InvalidRequest('The "state" parameter must be given once, in at most 2048 characters.');
    return { clientId: client.clientId, redirectUri, redirectUriSent, state, codeChallenge, scopes, wikiSlug };
  } catch (err) {
    if (err instanceof OAuthError) {
      throw new AuthorizationRefusedBeforeConsent(err, { clientId: client.clientId, name: clientDisplayName(client) }, redirectUri);
    }
    throw err;
  }
}
