// First-time signup: choose a username (also the slug of the first wiki). The new wiki counts
// against NEW_WIKIS_PER_DAY (src/wikis/new-wiki-cap.ts) and a deleted wiki's or account's name is
// held for a while (src/wikis/reserved-names.ts). The checks and the insert are one store
// transaction (src/storage/store.ts) that takes the wiki-creation lock first (wikis.lockCreation:
// an advisory lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so concurrent signups and wiki
// creations on any instance check the cap one at a time; a lost race for the name is 'taken'
// (users.insertWithFirstWiki writes both rows or neither). Logs and the 503 come after commit.
import type { AppContext } from '../context.ts';
import { logSignupsPaused, SignupsPaused } from '../wikis/new-wiki-cap.ts';
import { reservedNameProblem } from '../wikis/reserved-names.ts';
import { usernameProblem } from './username.ts';
import type { User } from './users.repo.ts';
import type { SignupTicketPayload } from './complete-sign-in.ts';

/** `conflict`: the name is fine but someone has it (HTTP 409); otherwise the name itself is refused (400). */
export type SignupResult = { ok: true; user: User } | { ok: false; problem: string; conflict: boolean };

/** Throws SignupsPaused (503) past the daily cap on new wikis; nothing is written then. */
export type SignupDeps = Pick<AppContext, 'store' | 'config' | 'log'>;

type Decided =
  | { kind: 'exists' }
  | { kind: 'reserved'; problem: string }
  | { kind: 'paused'; pausedUntil: number }
  | { kind: 'done'; result: User | 'taken' };

export async function signUp(ctx: SignupDeps, did: string, ticket: SignupTicketPayload, requestedName: string): Promise<SignupResult> {
  const username = requestedName.trim().toLowerCase();
  const problem = usernameProblem(username, ctx.config.reservedUsernames);
  if (problem) return { ok: false, problem, conflict: false };
  const outcome = await ctx.store.transaction(async (tx): Promise<Decided> => {
    await tx.wikis.lockCreation();
    if (await tx.users.findByDid(did)) return { kind: 'exists' };
    const reserved = await reservedNameProblem(tx, username, did);
    if (reserved) return { kind: 'reserved', problem: reserved };
    const pausedUntil = await tx.wikis.newWikisPausedUntil(ctx.config.newWikisPerDay);
    if (pausedUntil !== undefined) return { kind: 'paused', pausedUntil };
    const result = await tx.users.insertWithFirstWiki({ did, handle: ticket.handle, displayName: ticket.displayName, username });
    // The name was taken by the person it was held for: the reservation has done its job.
    if (result !== 'taken') await tx.reservedNames.release(username);
    return { kind: 'done', result };
  });
  if (outcome.kind === 'exists') return { ok: false, problem: 'You already have an account. Please sign in again.', conflict: true };
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
