import type { RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { readSessionToken, SESSION_COOKIE, type SignedInUser } from './session-cookie.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      user?: SignedInUser;
      api?: boolean;
    }
  }
}

/** Sets res.locals.user from the session cookie (undefined when absent, invalid or revoked). */
export function loadSignedInUser(ctx: AppContext): RequestHandler {
  const deps = { config: ctx.config, keys: ctx.platformKeys, sessions: ctx.sessions };
  return async (req, res, next) => {
    res.locals.user = await readSessionToken(deps, req.cookies?.[SESSION_COOKIE]);
    next();
  };
}
