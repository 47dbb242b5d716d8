// The daily cap on new wikis (issue 9 finding 11, "the certificate authority's quota"). In on-demand
// TLS mode every new wiki costs one certificate, and Let's Encrypt issues at most 50 new ones per
// registered domain per week: without a cap, ~50 throwaway sign-ups would spend the week's quota and
// leave every later wiki without HTTPS. The rules:
//  1. At most NEW_WIKIS_PER_DAY wikis are created per rolling 24 hours, all kinds counted, globally.
//  2. Sign-up past the cap creates nothing and answers 503 "sign-ups are paused until …" with Retry-After
//     (the moment the oldest wiki in the window leaves it); the operator's log line says what to do.
//  3. The operator is not capped: `admin wikis create` marks its wikis `created_by = 'operator'`.
//  4. The TLS `ask` (tls-ask.route.ts) approves a wiki only if it exists and either the operator made
//     it, or it was among the first NEW_WIKIS_PER_DAY of the 24 hours before its creation: a wiki that
//     slipped past the cap by another path never gets a certificate, so the ask cannot be used to burn them.
// In wildcard-dns mode no per-wiki certificate is issued: the cap then only limits growth (raise it).
// Storage: the Store's `wikis.newWikisPausedUntil` (rule 1) and `wikis.createdWithinCap` (rule 4, which
// tls-ask.route.ts calls); a creation checks rule 1 and inserts in one transaction that calls
// `wikis.lockCreation()` first (create-wiki.ts, signup.ts, admin/wikis.ts).
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';
import type { Repositories } from '../storage/store.ts';
import { AppError } from '../web/errors.ts';

export const CAP_WINDOW_SECONDS = 24 * 60 * 60;

type CapConfig = Pick<AppContext['config'], 'newWikisPerDay'>;

/** Rule 1: undefined while a wiki may be created now; otherwise when the next one may (seconds since the epoch). */
export function newWikisPausedUntil(repos: Pick<Repositories, 'wikis'>, config: CapConfig, now = nowSeconds()): Promise<number | undefined> {
  return repos.wikis.newWikisPausedUntil(config.newWikisPerDay, now);
}

/** Rule 2, for the person: a plain page, 503 with Retry-After. */
export class SignupsPaused extends AppError {
  constructor(until: number, now = nowSeconds()) {
    const when = new Date(until * 1000).toISOString().replace(/:\d\d\.\d{3}Z$/, ' UTC').replace('T', ' ');
    super(
      503,
      'signups_paused',
      `Sign-ups are paused until ${when}: this service creates only a limited number of new wikis each day. Your Bluesky sign-in worked; please come back then and choose your username.`,
      { headers: { 'Retry-After': String(Math.max(1, until - now)) }, title: 'Sign-ups are paused' },
    );
  }
}

/** Rule 2, for the operator: what happened and what to do. */
export function logSignupsPaused(deps: Pick<AppContext, 'log' | 'config'>, until: number, did: string): void {
  deps.log.warn(
    { did, newWikisPerDay: deps.config.newWikisPerDay, pausedUntil: new Date(until * 1000).toISOString() },
    `new-wiki cap reached (NEW_WIKIS_PER_DAY=${deps.config.newWikisPerDay}): sign-ups paused until the oldest of today's wikis is 24 h old. ` +
      'With CADDY_TLS_MODE=wildcard-dns raise NEW_WIKIS_PER_DAY; with on-demand TLS switch to wildcard-dns first ' +
      "(Let's Encrypt allows 50 new certificates per domain per week), or create the wiki yourself with `admin wikis create`.",
  );
}

/**
 * Rule 2 up front: the username page (GET /auth/signup) says sign-ups are paused before the person
 * picks a name, with the same 503 page and the same operator log line as a refused sign-up.
 */
export async function refuseSignupWhilePaused(deps: Pick<AppContext, 'store' | 'config' | 'log'>, did: string): Promise<void> {
  const until = await newWikisPausedUntil(deps.store.repos, deps.config);
  if (until === undefined) return;
  logSignupsPaused(deps, until, did);
  throw new SignupsPaused(until);
}
