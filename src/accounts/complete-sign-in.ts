// What happens once the PDS has vouched for a DID: a known user gets a session (and the wikis'
// identity token); a first-time user gets a short-lived signup ticket. Returns data; the route sets
// cookies (src/accounts/cookies.ts) and redirects.
// return_to rule (issue 9 finding 10): after sign-in, only the apex or a wiki the person OWNS;
// anything else falls back to the account page.
import type { Config } from '../config/env.ts';
import type { AppContext } from '../context.ts';
import type { AtprotoIdentity, SignInState } from '../atproto/sign-in.ts';
import { SignInFailed } from '../atproto/sign-in.ts';
import { sha256Hex, timingSafeEqualStrings } from '../lib/secrets.ts';
import { returnToTarget, safeReturnTo } from '../web/return-to.ts';
import type { Store } from '../storage/store.ts';
import { SIGNUP_TICKET_TTL_SECONDS } from '../lifetimes.ts';
import { signIdentityToken } from './identity-token.ts';
import { createSession } from './session.ts';

export const ACCOUNT_PAGE = '/account';

/** Where to send a person after sign-in: `returnTo` when it is the apex or a wiki they own, else the account page. */
export async function returnToAfterSignIn(
  deps: { config: Pick<Config, 'publicUrl'>; store: Pick<Store, 'repos'> },
  did: string,
  returnTo: unknown,
): Promise<string> {
  const safe = safeReturnTo(returnTo, deps.config);
  if (safe === undefined) return ACCOUNT_PAGE;
  const target = returnToTarget(safe, deps.config);
  if (target.kind === 'apex') return safe;
  return (await deps.store.repos.wikis.findBySlug(target.slug))?.ownerDid === did ? safe : ACCOUNT_PAGE;
}

export interface SignupTicketPayload {
  handle: string;
  displayName: string | null;
  returnTo: string | undefined;
}

export type SignInOutcome =
  | { kind: 'session'; sessionSecret: string; identityToken: string; returnTo: string }
  | { kind: 'signup'; signupTicket: string };

/**
 * Login CSRF defence: the sign-in must finish in the browser that started it, proven by the
 * binding cookie whose hash travelled with the ATProto state.
 */
export function checkSignInBinding(state: SignInState, bindingCookie: unknown): void {
  if (typeof bindingCookie !== 'string' || !timingSafeEqualStrings(sha256Hex(bindingCookie), state.bindingHash)) {
    throw new SignInFailed('This sign-in was started in another browser or has expired. Please sign in again.');
  }
}

export async function completeSignIn(
  ctx: Pick<AppContext, 'config' | 'store' | 'identityKeys' | 'log'> & Partial<Pick<AppContext, 'audit' | 'metrics'>>,
  identity: AtprotoIdentity,
  state: SignInState,
  userAgent: string | null,
  origin: { address?: string } = {},
): Promise<SignInOutcome> {
  ctx.metrics?.signIn('completed');
  const user = await ctx.store.repos.users.recordLogin(identity.did, identity.handle, identity.displayName);
  if (user) {
    const sessionSecret = await createSession(ctx, user, userAgent);
    const identityToken = await signIdentityToken(ctx, user);
    ctx.log.info({ did: user.did, username: user.username }, 'signed in');
    await ctx.audit?.record({ event: 'sign_in', did: user.did, actor: 'person', address: origin.address, detail: { handle: identity.handle } });
    return { kind: 'session', sessionSecret, identityToken, returnTo: await returnToAfterSignIn(ctx, user.did, state.returnTo) };
  }
  const payload: SignupTicketPayload = { handle: identity.handle, displayName: identity.displayName, returnTo: state.returnTo };
  const signupTicket = await ctx.store.repos.tickets.issue('signup', identity.did, payload, SIGNUP_TICKET_TTL_SECONDS);
  ctx.log.info({ did: identity.did }, 'first sign-in, signup pending');
  return { kind: 'signup', signupTicket };
}
