// First-time signup: choose a username (also the slug of the first wiki). The new wiki counts
// against NEW_WIKIS_PER_DAY (src/wikis/new-wiki-cap.ts): the check and the insert are one transaction.
import type { AppContext } from '../context.ts';
import { logSignupsPaused, SignupsPaused } from '../wikis/new-wiki-cap.ts';
import { reservationProblem } from '../wikis/reserved-names.ts';
// Until this file switches to the Store (branch store-accounts): the SQLite statements, synchronously.
import { newWikisPausedUntil, releaseName, reservationOf } from '../storage/sqlite/wikis-admin.ts';
import { usernameProblem } from './username.ts';
import type { User } from './users.repo.ts';
import type { SignupTicketPayload } from './complete-sign-in.ts';

/** `conflict`: the name is fine but someone has it (HTTP 409); otherwise the name itself is refused (400). */
export type SignupResult = { ok: true; user: User } | { ok: false; problem: string; conflict: boolean };

/** Throws SignupsPaused (503) past the daily cap on new wikis; nothing is written then. */
export type SignupDeps = Pick<AppContext, 'db' | 'config' | 'users' | 'log'>;

export function signUp(ctx: SignupDeps, did: string, ticket: SignupTicketPayload, requestedName: string): SignupResult {
  const username = requestedName.trim().toLowerCase();
  const problem = usernameProblem(username, ctx.config.reservedUsernames);
  if (problem) return { ok: false, problem, conflict: false };
  if (ctx.users.findByDid(did)) return { ok: false, problem: 'You already have an account. Please sign in again.', conflict: true };
  const outcome = ctx.db
    .transaction(() => {
      // A deleted wiki's or account's name is held for a while (src/wikis/reserved-names.ts).
      const reserved = reservationProblem(username, reservationOf(ctx.db, username), did);
      if (reserved) return { kind: 'reserved' as const, problem: reserved };
      const pausedUntil = newWikisPausedUntil(ctx.db, ctx.config.newWikisPerDay);
      if (pausedUntil !== undefined) return { kind: 'paused' as const, pausedUntil };
      const result = ctx.users.insertWithFirstWiki({ did, handle: ticket.handle, displayName: ticket.displayName, username });
      if (result !== 'taken') releaseName(ctx.db, username);
      return { kind: 'done' as const, result };
    })
    .immediate();
  if (outcome.kind === 'reserved') return { ok: false, problem: outcome.problem, conflict: true };
  if (outcome.kind === 'paused') {
    logSignupsPaused(ctx, outcome.pausedUntil, did);
    throw new SignupsPaused(outcome.pausedUntil);
  }
  const { result } = outcome;
  if (result === 'taken') return { ok: false, problem: `"${username}" is already taken. Please choose another name.`, conflict: true };
  ctx.log.info({ did, username }, 'user signed up');
  return { ok: true, user: result };
}
