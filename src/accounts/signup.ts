// First-time signup: choose a username (also the slug of the first wiki).
import type { AppContext } from '../context.ts';
import { usernameProblem } from './username.ts';
import type { User } from './users.repo.ts';
import type { SignupTicketPayload } from './complete-sign-in.ts';

export type SignupResult = { ok: true; user: User } | { ok: false; problem: string };

export function signUp(ctx: AppContext, did: string, ticket: SignupTicketPayload, requestedName: string): SignupResult {
  const username = requestedName.trim().toLowerCase();
  const problem = usernameProblem(username, ctx.config.reservedUsernames);
  if (problem) return { ok: false, problem };
  if (ctx.users.findByDid(did)) return { ok: false, problem: 'You already have an account. Please sign in again.' };
  const result = ctx.users.insertWithFirstWiki({ did, handle: ticket.handle, displayName: ticket.displayName, username });
  if (result === 'taken') return { ok: false, problem: `"${username}" is already taken. Please choose another name.` };
  ctx.log.info({ did, username }, 'user signed up');
  return { ok: true, user: result };
}
