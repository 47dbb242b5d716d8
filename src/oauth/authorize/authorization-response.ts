// Building the redirect back to the client. RFC 9207: every authorization response, success or
// error, carries `iss` so the client can tell which server answered (mix-up defence).
import type { OAuthError } from '../errors.ts';

export function authorizationResponseUrl(redirectUri: string, issuer: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  url.searchParams.set('iss', issuer);
  return url.href;
}

/** An error sent back to the client after the person decided (OAuth 2.1 §4.1.2.1); never before (RFC 9700 §4.11.2). */
export class AuthorizationErrorRedirect extends Error {
  readonly location: string;
  readonly error: OAuthError;

  constructor(redirectUri: string, issuer: string, state: string | undefined, error: OAuthError) {
    super(error.message);
    this.error = error;
    this.location = authorizationResponseUrl(redirectUri, issuer, {
      error: error.code,
      error_description: error.message,
      state,
    });
  }
}
