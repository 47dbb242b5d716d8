// "Create a wiki" on the account page (issue 14). The rules, in the order they are checked:
//  1. The slug follows the username rules (src/accounts/username.ts: a DNS label, RFC 1035 §2.3.1,
//     3–63 characters, not a reserved name), as it is the first label of https://{slug}.PLATFORM_DOMAIN.
//  2. A person has at most WIKIS_PER_USER wikis in all (0: only the first, made at signup).
//  3. Within one transaction: the daily cap on new wikis (src/wikis/new-wiki-cap.ts) applies; the
//     slug is neither an existing wiki, nor another person's username (their first wiki lives
//     there), nor held after a deletion for someone else (src/wikis/reserved-names.ts).
// Nothing is written unless every rule passes; the outcome is returned, never thrown, except the
// cap's SignupsPaused-style 503, which the caller throws after the transaction.
// Storage: one Store transaction (src/storage/store.ts rules 1–5) that first takes the wiki-creation
// lock (`wikis.lockCreation()`: on PostgreSQL concurrent creations on several instances then run one
// at a time, so neither cap is exceeded); the log line is written after commit.
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
import { usernameProblem } from '../accounts/username.ts';
import { isUniqueViolation } from '../storage/wrap.ts';
import { newWikisPausedUntil } from './new-wiki-cap.ts';
import { reservedNameProblem } from './reserved-names.ts';

export type CreateWikiOutcome =
  | { kind: 'created'; slug: string }
  | { kind: 'refused'; problem: string; status: 400 | 403 | 409 }
  | { kind: 'paused'; pausedUntil: number };

/** WIKIS_PER_USER, where 0 means "only the first wiki". */
export function wikiLimit(config: Pick<AppContext['config'], 'wikisPerUser'>): number {
  return Math.max(1, config.wikisPerUser);
}

export async function createWikiForUser(deps: Pick<AppContext, 'store' | 'config' | 'log'>, did: string, requestedSlug: string): Promise<CreateWikiOutcome> {
  const slug = requestedSlug.trim().toLowerCase();
  const problem = usernameProblem(slug, deps.config.reservedUsernames);
  if (problem) return { kind: 'refused', problem: problem.replace('A username', 'A wiki name'), status: 400 };
  const limit = wikiLimit(deps.config);
  const taken: CreateWikiOutcome = { kind: 'refused', problem: `"${slug}" is already taken. Please choose another name.`, status: 409 };
  let outcome: CreateWikiOutcome;
  try {
    outcome = await deps.store.transaction(async (tx): Promise<CreateWikiOutcome> => {
      await tx.wikis.lockCreation();
      if ((await tx.wikis.countByOwner(did)) >= limit) {
        return { kind: 'refused', problem: `You already have ${limit === 1 ? 'a wiki' : `${limit} wikis`}, the most this service allows per person.`, status: 403 };
      }
      const namesake = await tx.users.findByUsername(slug);
      if ((await tx.wikis.findBySlug(slug)) || (namesake && namesake.did !== did)) return taken;
      const reserved = await reservedNameProblem(tx, slug, did);
      if (reserved) return { kind: 'refused', problem: reserved, status: 409 };
      const pausedUntil = await newWikisPausedUntil(tx, deps.config);
      if (pausedUntil !== undefined) return { kind: 'paused', pausedUntil };
      await tx.wikis.insertCreatedByPerson(slug, did, nowSeconds());
      await tx.reservedNames.release(slug);
      return { kind: 'created', slug };
    });
  } catch (err) {
    // Another writer took the slug between the check and the insert (a path without the lock).
    if (isUniqueViolation(err)) return taken;
    throw err;
  }
  if (outcome.kind === 'created') deps.log.info({ did, slug }, 'wiki created from the account page');
  return outcome;
}
