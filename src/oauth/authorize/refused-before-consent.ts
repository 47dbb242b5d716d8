// RFC 9700 §4.11.2 (authorization server as open redirector) — until the person has pressed Allow
// or Deny, an invalid authorization request is never redirected to the client, even to a redirect
// URI the client registered: anyone can register one (DCR) or publish one (a metadata document), so
// redirecting would let any link on this domain bounce a visitor to any site. The person gets an
// error page instead, with a plainly labelled link to the application's origin. Redirects carrying
// `error=` happen only after the person's own click (consent.ts).
import type { OAuthError } from '../errors.ts';
import { AppError } from '../../web/errors.ts';

export interface BackLink {
  href: string;
  /** The host the link leads to, shown to the person. */
  host: string;
}

/** The origin of an http(s) redirect URI, as a link the person may choose to follow; none for other schemes. */
export function backLinkFor(redirectUri: string): BackLink | undefined {
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return { href: `${url.origin}/`, host: url.host };
}

/** Rendered as the authorize-error page (400), never a redirect. */
export class AuthorizationRefusedBeforeConsent extends AppError {
  readonly oauthError: OAuthError;
  readonly clientId: string;
  readonly clientName: string;
  readonly backLink: BackLink | undefined;

  constructor(error: OAuthError, client: { clientId: string; name: string }, redirectUri: string) {
    super(400, error.code, error.message, { title: 'This app sent an invalid request', cause: error });
    this.oauthError = error;
    this.clientId = client.clientId;
    this.clientName = client.name;
    this.backLink = backLinkFor(redirectUri);
  }
}
