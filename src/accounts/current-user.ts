// Who is signed in on the apex: ONLY the host-only session cookie counts (src/accounts/cookies.ts).
// The wikis' identity cookie and any pre-split `platform_token` are never read here.
import type { RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { cookieNames, readHostCookie } from './cookies.ts';
import { readSession, type SignedInUser } from './session.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      user?: SignedInUser;
      api?: boolean;
    }
  }
}

/** Sets res.locals.user from the session cookie (undefined when absent, duplicated, invalid or revoked). */
export function loadSignedInUser(ctx: Pick<AppContext, 'config' | 'store'>): RequestHandler {
  const name = cookieNames(ctx.config).session;
  return async (req, res, next) => {
    res.locals.user = await readSession(ctx, readHostCookie(req, name));
    next();
  };
}

/** The value csrf-csrf binds form tokens to: the session cookie, when there is exactly one. */
export function sessionIdentifier(config: AppContext['config']): (req: Parameters<RequestHandler>[0]) => string {
  const name = cookieNames(config).session;
  return (req) => readHostCookie(req, name) ?? '';
}
