// The app's security headers (helmet). Server-rendered pages; the only script the CSP allows is
// the account page's copy-button file, named by its full URL (CSP3 §6.7.2.7: a source with a path
// matches that file only), so no other same-origin response can ever run as a script. No
// form-action: Chrome applies it to the redirect after a form post, which must be free to go to a
// PDS or an OAuth client. HSTS only in production (https).
//
// Cross-Origin-Opener-Policy (HTML standard, "cross-origin opener policies"): `same-origin`
// everywhere except the pages of the authorization flow, which send `unsafe-none`. Claude.ai and
// other web MCP clients open /authorize in a popup and wait for the callback page on their own
// origin to `window.opener.postMessage` the result; one `same-origin` page anywhere in the popup's
// history severs the opener for good, and the client never hears back (issue 10, item 7).
import type { RequestHandler } from 'express';
import helmet, { type HelmetOptions } from 'helmet';
import { OAUTH_PATHS } from '../oauth/paths.ts';

/**
 * The pages a popup walks through between the client's /authorize and its callback: authorize (and
 * the wiki-host /authorize alias), sign-in, the ATProto callback and the hand-off after the PDS,
 * sign-up for a first-time person, and consent. Compared lower case without a trailing slash, as
 * Express routes them.
 */
export const POPUP_FLOW_PATHS: ReadonlySet<string> = new Set([
  OAUTH_PATHS.authorize,
  '/authorize',
  '/auth/login',
  '/auth/callback',
  '/auth/handoff',
  '/auth/signup',
  OAUTH_PATHS.consent,
]);

function isPopupFlowPath(path: string): boolean {
  const p = path.toLowerCase();
  return POPUP_FLOW_PATHS.has(p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p);
}

/** The one script file the pages may load (public/copy.js, served under /static). */
export const COPY_SCRIPT_PATH = '/static/copy.js';

/**
 * The headers, as [name, value] pairs: `everywhere`, and `popupFlow` for POPUP_FLOW_PATHS. The
 * middleware below sets them; the light path (machine-endpoints.ts) writes `everywhere` with its answers.
 */
export function securityHeaderSets(production: boolean, publicUrl?: string): { everywhere: HeaderSet; popupFlow: HeaderSet } {
  const options: HelmetOptions = {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        ...(publicUrl === undefined ? {} : { scriptSrc: [`${publicUrl}${COPY_SCRIPT_PATH}`] }),
        imgSrc: ["'self'", 'data:'],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: production ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-site' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
  };
  return {
    everywhere: precomputed(helmet(options)),
    popupFlow: precomputed(helmet({ ...options, crossOriginOpenerPolicy: { policy: 'unsafe-none' } })),
  };
}

/** `publicUrl`: the apex origin, which names the script file in script-src. */
export function securityHeaders(production: boolean, publicUrl?: string): RequestHandler {
  const { everywhere, popupFlow } = securityHeaderSets(production, publicUrl);
  return (req, res, next) => {
    const headers = isPopupFlowPath(req.path) ? popupFlow : everywhere;
    for (let i = 0; i < headers.length; i++) res.setHeader(headers[i]![0], headers[i]![1]);
    next();
  };
}

export type HeaderSet = ReadonlyArray<readonly [string, string]>;

/**
 * The headers helmet sets, computed once: with this configuration (no nonces) they are the same for
 * every request, and helmet's own per-request work (one middleware per header) showed in profiles.
 * helmet also removes X-Powered-By, which app.ts disables.
 */
function precomputed(middleware: ReturnType<typeof helmet>): HeaderSet {
  const headers: Array<[string, string]> = [];
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers.push([name, String(value)]);
      return res;
    },
    removeHeader() {},
  };
  let done = false;
  middleware({} as never, res as never, () => {
    done = true;
  });
  if (!done) throw new Error('helmet did not finish synchronously');
  return headers;
}
