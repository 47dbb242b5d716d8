// CSRF protection for every form: csrf-csrf's signed double-submit cookie, bound to the browser
// session when there is one. Cross-site form posts are also refused by Sec-Fetch-Site/Origin
// (defence in depth for browsers that send them).
import crypto from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { doubleCsrf } from 'csrf-csrf';
import type { Config } from '../config/env.ts';
import type { PlatformKeys } from '../config/keys.ts';
import { InvalidCsrfToken } from './errors.ts';

export interface Csrf {
  /** Token to put in a form's hidden `_csrf` field (sets the cookie when needed). */
  token(req: Request, res: Response): string;
  /** Middleware for POST routes. */
  protect: RequestHandler;
}

export interface CsrfOptions {
  /** The double-submit cookie's name (the cookie policy lives in src/accounts/cookies.ts). */
  cookieName: string;
  /** What tokens are bound to: the browser session's cookie value, or '' when anonymous. */
  sessionIdentifier(req: Request): string;
}

export function createCsrf(config: Pick<Config, 'production' | 'publicUrl'>, keys: PlatformKeys, options: CsrfOptions): Csrf {
  // Derived from the platform signing keys' private parts, so there is no extra secret to configure;
  // after a key rotation, forms rendered under the previous key still validate. Read from the live key
  // set (a reload replaces `keys.all`, src/config/key-reload.ts): with several instances, a form
  // rendered by one that already has the new key must validate on another, and vice versa.
  let derived: { from: unknown; secrets: string[] } | undefined;
  const secrets = (): string[] => {
    if (derived?.from !== keys.all) {
      derived = { from: keys.all, secrets: keys.all.map((key) => Buffer.from(crypto.hkdfSync('sha256', key.secretSeed, 'robot-auth', 'csrf', 32)).toString('base64url')) };
    }
    return derived.secrets;
  };
  const { generateCsrfToken, validateRequest } = doubleCsrf({
    getSecret: secrets,
    // Bound to the session cookie when signed in; anonymous forms (sign-in) get a cookie-bound token.
    getSessionIdentifier: options.sessionIdentifier,
    // __Host- cookies (production) cannot be set by a sibling wiki host (cookie tossing) and need Secure.
    cookieName: options.cookieName,
    cookieOptions: { httpOnly: true, sameSite: 'lax', secure: config.production, path: '/' },
    getCsrfTokenFromRequest: (req) => {
      const body = req.body as Record<string, unknown> | undefined;
      return typeof body?._csrf === 'string' ? body._csrf : undefined;
    },
  });
  const apexOrigin = config.publicUrl;
  return {
    token: (req, res) => generateCsrfToken(req, res, { overwrite: false, validateOnReuse: false }),
    protect: (req: Request, _res: Response, next: NextFunction) => {
      const site = req.get('sec-fetch-site');
      const origin = req.get('origin');
      const crossSite = site === 'cross-site' || (origin !== undefined && origin !== 'null' && origin !== apexOrigin);
      if (crossSite || !validateRequest(req)) return next(new InvalidCsrfToken());
      next();
    },
  };
}
