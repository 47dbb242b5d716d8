// The HTTP side of a finished sign-in: the cookies (policy in src/accounts/cookies.ts) and the
// redirect. src/atproto/ hands over a verified identity; this is where it becomes a session.
import type { Response } from 'express';
import type { Config } from '../config/env.ts';
import { clearBindingCookie, setIdentityCookie, setSessionCookie, setSignupCookie } from './cookies.ts';
import type { SignInOutcome } from './complete-sign-in.ts';

export function sendSignInOutcome(res: Response, config: Config, outcome: SignInOutcome): void {
  clearBindingCookie(res, config);
  if (outcome.kind === 'session') {
    setSessionCookie(res, config, outcome.sessionSecret);
    setIdentityCookie(res, config, outcome.identityToken);
    res.redirect(303, outcome.returnTo);
  } else {
    setSignupCookie(res, config, outcome.signupTicket);
    res.redirect(303, '/auth/signup');
  }
}
