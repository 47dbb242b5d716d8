// RFC 9700 §4.1.3, OAuth 2.1 §2.3.1, RFC 8252 §7 — redirect URIs are registered in full and compared
// as exact strings; only loopback redirects of native apps may vary their port.
//
// What may be registered:
//  - https: anywhere (web clients, and vscode.dev/redirect);
//  - http: only on loopback (localhost, 127.0.0.1, [::1]); a URI without a port matches any port;
//  - a private-use scheme (RFC 8252 §7.1), e.g. cursor://anysphere.cursor-mcp/oauth/callback or
//    com.example.app:/cb: only for PUBLIC native clients (checked in register/client-metadata.schema.ts),
//    and never a scheme the browser or OS acts on itself (javascript:, data:, file:, blob:, …, see
//    FORBIDDEN_SCHEMES). RFC 8252 recommends reverse-domain schemes but Cursor (cursor:) and VS Code
//    (vscode:) use short ones, so we accept any scheme of 3+ characters outside the forbidden list.
import type { OAuthClientRecord } from './client.ts';

const MAX_REDIRECT_URI_LENGTH = 2000;

/** Hostnames (as URL.hostname spells them) that name the loopback interface. */
const LOOPBACK_HOSTNAMES: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Schemes that are never a place to send an authorization code. */
const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  'javascript:',
  'data:',
  'file:',
  'blob:',
  'vbscript:',
  'about:',
  'filesystem:',
  'ws:',
  'wss:',
  'ftp:',
  // Handled by the browser or OS itself, never by the app that registered them.
  'mailto:',
  'tel:',
  'sms:',
  'intent:',
  'view-source:',
  'jar:',
  'chrome:',
  'edge:',
  'resource:',
  'urn:',
]);

/** RFC 3986 §3.1 scheme syntax (lowercase, as URL.protocol spells it), at least 3 characters. */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+.-]{2,62}:$/;

/** RFC 8252 §7.1 — whether a (valid) redirect URI uses a private-use scheme, i.e. neither http nor https. */
export function isPrivateUseSchemeRedirect(uri: string): boolean {
  const url = parseUrl(uri);
  return url !== undefined && url.protocol !== 'https:' && url.protocol !== 'http:';
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * RFC 7591 §2, RFC 8252 §7.1/§7.3, RFC 9700 §2.1 — why a redirect URI may not be registered, or
 * undefined when it may: absolute, no fragment, no userinfo; https anywhere, http only on a loopback
 * host, or a private-use scheme (`cursor://…`, `com.example.app:/callback`; public clients only).
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (uri.length === 0) return 'a redirect URI is empty';
  if (uri.length > MAX_REDIRECT_URI_LENGTH) return `a redirect URI is longer than ${MAX_REDIRECT_URI_LENGTH} characters`;
  // Browsers drop tabs and newlines and read backslashes as slashes: such URIs mean something else there.
  if (/[\s\\\u0000-\u001f\u007f]/.test(uri)) return `"${uri}" contains whitespace, control characters or backslashes`;
  if (uri.includes('#')) return `"${uri}" has a fragment, which a redirect URI must not have`;
  const url = parseUrl(uri);
  if (!url) return `"${uri}" is not an absolute URI`;
  if (url.username !== '' || url.password !== '') return `"${uri}" contains a user name or password`;
  const scheme = url.protocol;
  if (FORBIDDEN_SCHEMES.has(scheme)) return `"${uri}" uses the ${scheme.slice(0, -1)} scheme, which is not allowed`;
  if (scheme === 'https:') return undefined;
  if (scheme === 'http:') {
    return LOOPBACK_HOSTNAMES.has(url.hostname)
      ? undefined
      : `"${uri}" uses http on a host other than localhost, 127.0.0.1 or [::1]; use https`;
  }
  // RFC 8252 §7.1: a private-use scheme claimed by the app (cursor:, vscode:, com.example.app:).
  if (!PRIVATE_USE_SCHEME.test(scheme)) {
    return `"${uri}" uses the scheme "${scheme.slice(0, -1)}", which is not usable as a native app's private-use scheme`;
  }
  if (url.pathname === '' && url.host === '') return `"${uri}" has nothing after its scheme`;
  return undefined;
}

function isLoopbackHttp(url: URL): boolean {
  return url.protocol === 'http:' && LOOPBACK_HOSTNAMES.has(url.hostname);
}

/**
 * RFC 9700 §4.1.3, RFC 8252 §7.3 — exact string comparison, except that a loopback http redirect
 * may use any port, and localhost, 127.0.0.1 and [::1] stand for one another; path and query must
 * still be identical.
 */
export function redirectUriMatches(requested: string, registered: string): boolean {
  if (requested === registered) return true;
  if (requested.includes('#') || /[\s\\\u0000-\u001f\u007f]/.test(requested)) return false;
  const req = parseUrl(requested);
  const reg = parseUrl(registered);
  if (!req || !reg || !isLoopbackHttp(req) || !isLoopbackHttp(reg)) return false;
  if (req.username !== '' || req.password !== '') return false;
  return req.pathname === reg.pathname && req.search === reg.search;
}

/**
 * OAuth 2.1 §2.3.2 — the redirect URI to use for this request: the requested one when it matches a
 * registered one; with none requested, the registered one if there is exactly one. Else undefined.
 */
export function findRegisteredRedirectUri(
  client: Pick<OAuthClientRecord, 'metadata'>,
  requested: string | undefined,
): string | undefined {
  const registered = client.metadata.redirect_uris;
  if (requested === undefined) return registered.length === 1 ? registered[0] : undefined;
  return registered.some((r) => redirectUriMatches(requested, r)) ? requested : undefined;
}
