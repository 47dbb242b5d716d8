// OAuth 2.1 §4.1.2.1, RFC 9700 §4.1: until the client and its redirect URI are verified, an
// error must not redirect anywhere; the person gets an error page instead.
import type { AppContext } from '../../../context.ts';
import { AppError } from '../../../web/errors.ts';
import type { OAuthClientRecord } from '../../clients/client.ts';
import { findRegisteredRedirectUri } from '../../clients/redirect-uri.ts';
import { looksLikeClientIdUrl } from '../../clients/client-metadata-document.ts';
import { ClientDocumentUnusable } from '../../clients/document-failure.ts';
import { optionalParam, type Params } from '../params.ts';

/** Rendered as a page, never redirected. */
export class UnverifiedAuthorizationRequest extends AppError {
  constructor(message: string) {
    super(400, 'invalid_request', message, { title: 'This app sent an invalid request' });
  }
}

export interface VerifiedClient {
  client: OAuthClientRecord;
  redirectUri: string;
  redirectUriSent: boolean;
}

export async function checkClientAndRedirectUri(ctx: Pick<AppContext, 'clientResolver'>, params: Params): Promise<VerifiedClient> {
  let clientId: string | undefined;
  let requestedRedirect: string | undefined;
  try {
    clientId = optionalParam(params, 'client_id');
    requestedRedirect = optionalParam(params, 'redirect_uri');
  } catch (err) {
    throw new UnverifiedAuthorizationRequest((err as Error).message);
  }
  if (!clientId) throw new UnverifiedAuthorizationRequest('The app did not say who it is (client_id is missing).');
  const client = await ctx.clientResolver.resolve(clientId);
  if (!client && looksLikeClientIdUrl(clientId)) {
    // Item 9: say whether the app's document could not be fetched, was refused, or is not accepted here.
    throw new ClientDocumentUnusable(clientId, ctx.clientResolver.failureFor(clientId));
  }
  if (!client) {
    throw new UnverifiedAuthorizationRequest(
      'This app is not registered here, or its registration could not be read. Remove the connection in the app and add it again.',
    );
  }
  const redirectUri = findRegisteredRedirectUri(client, requestedRedirect);
  if (!redirectUri) {
    throw new UnverifiedAuthorizationRequest(
      'The return address this app gave does not match the one it registered, so we did not send you back to it.',
    );
  }
  return { client, redirectUri, redirectUriSent: requestedRedirect !== undefined };
}
