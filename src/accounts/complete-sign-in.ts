// What happens once the PDS has vouched for a DID: a known user gets a session; a first-time user
// gets a short-lived signup ticket. Returns data; the route sets cookies and redirects.
import type { AppContext } from '../context.ts';
import type { AtprotoIdentity, SignInState } from '../atproto/sign-in.ts';
import { SignInFailed } from '../atproto/sign-in.ts';
import { sha256Hex, timingSafeEqualStrings } from '../lib/secrets.ts';
import { createSessionToken } from './session-cookie.ts';

export const SIGNUP_TICKET_TTL_SECONDS = 15 * 60;

export interface SignupTicketPayload {
  handle: string;
  displayName: string | null;
  returnTo: string | undefined;
}

export type SignInOutcome =
  | { kind: 'session'; sessionToken: string; returnTo: string }
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
  ctx: AppContext,
  identity: AtprotoIdentity,
  state: SignInState,
  userAgent: string | null,
): Promise<SignInOutcome> {
  const user = ctx.users.recordLogin(identity.did, identity.handle, identity.displayName);
  if (user) {
    const sessionToken = await createSessionToken({ config: ctx.config, keys: ctx.platformKeys, sessions: ctx.sessions }, user, userAgent);
    ctx.log.info({ did: user.did, username: user.username }, 'signed in');
    return { kind: 'session', sessionToken, returnTo: state.returnTo ?? '/account' };
  }
  const payload: SignupTicketPayload = { handle: identity.handle, displayName: identity.displayName, returnTo: state.returnTo };
  const signupTicket = ctx.tickets.issue('signup', identity.did, payload, SIGNUP_TICKET_TTL_SECONDS);
  ctx.log.info({ did: identity.did }, 'first sign-in, signup pending');
  return { kind: 'signup', signupTicket };
}
