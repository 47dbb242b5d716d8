// The account page's actions (issue 14): create and delete a wiki, end browser sessions, delete the
// account. Each is a form with the CSRF token (src/web/csrf.ts); success answers 303 back to
// /account?done=… (or home after deleting the account); a refusal re-renders the page with the
// problem next to its form and a 4xx status. The rules live in the domain files named below.
import express, { Router, type Request, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { noStore, rateLimit } from '../web/http.ts';
import { SignInRequired } from '../web/errors.ts';
import { createWikiForUser } from '../wikis/create-wiki.ts';
import { deleteWikiForOwner } from '../wikis/delete-wiki.ts';
import { logSignupsPaused, SignupsPaused } from '../wikis/new-wiki-cap.ts';
import { clearSignInCookies } from './cookies.ts';
import { deleteAccount } from './delete-account.ts';

export type AccountProblem = { form: 'create-wiki' | 'delete-wiki' | 'delete-account'; message: string; slug?: string; value?: string };

/** Renders the account page (routes.ts) with a problem shown next to one form. */
export type RenderAccount = (req: Request, res: Response, problem?: AccountProblem) => Promise<void>;

function field(req: Request, name: string): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value.slice(0, 200) : '';
}

export function accountActionRoutes(ctx: AppContext, renderAccount: RenderAccount): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
  const limit = rateLimit('account-actions', ctx.config.rateLimits.loginPerMinute, ctx.config);

  function signedIn(res: Response) {
    const user = res.locals.user;
    if (!user) throw new SignInRequired();
    return user;
  }

  // src/wikis/create-wiki.ts
  // Awaited: create-wiki.ts and delete-wiki.ts go over the Store too (a no-op await while they are synchronous).
  router.post('/account/wikis', noStore, limit, form, ctx.csrf.protect, async (req, res) => {
    const user = signedIn(res);
    const requested = field(req, 'slug');
    const outcome = await createWikiForUser(ctx, user.did, requested);
    if (outcome.kind === 'paused') {
      logSignupsPaused(ctx, outcome.pausedUntil, user.did);
      throw new SignupsPaused(outcome.pausedUntil);
    }
    if (outcome.kind === 'refused') {
      res.status(outcome.status);
      return await renderAccount(req, res, { form: 'create-wiki', message: outcome.problem, value: requested.trim().toLowerCase().slice(0, 63) });
    }
    res.redirect(303, '/account?done=wiki-created');
  });

  // src/wikis/delete-wiki.ts
  router.post('/account/wikis/delete', noStore, limit, form, ctx.csrf.protect, async (req, res) => {
    const user = signedIn(res);
    const outcome = await deleteWikiForOwner(ctx, user.did, field(req, 'slug'), field(req, 'confirm'));
    if (outcome.kind === 'refused') {
      res.status(outcome.status);
      return await renderAccount(req, res, { form: 'delete-wiki', message: outcome.problem, slug: field(req, 'slug').trim().toLowerCase() });
    }
    await ctx.audit.record({ event: 'wiki_deleted', did: user.did, wikiSlug: field(req, 'slug').trim().toLowerCase(), actor: 'person', address: req.ip });
    res.redirect(303, '/account?done=wiki-deleted');
  });

  // Sessions (src/accounts/sessions.repo.ts). Ending another browser's session stops it at once on
  // the apex and stops its identity-token refreshes; an identity token it already holds lives out
  // its 15 minutes (IDENTITY_TOKEN_TTL_SECONDS; README, "For wiki apps").
  router.post('/account/sessions/revoke', noStore, form, ctx.csrf.protect, async (req, res) => {
    const user = signedIn(res);
    const handle = field(req, 'session');
    if (await ctx.store.repos.sessions.revokeByHandleForUser(user.did, handle)) ctx.log.info({ did: user.did }, 'browser session signed out from the account page');
    res.redirect(303, '/account?done=session-ended');
  });

  router.post('/account/sessions/revoke-others', noStore, form, ctx.csrf.protect, async (req, res) => {
    const user = signedIn(res);
    const ended = await ctx.store.repos.sessions.revokeOthersForUser(user.did, user.sessionId);
    ctx.log.info({ did: user.did, ended }, 'signed out everywhere else from the account page');
    res.redirect(303, '/account?done=others-ended');
  });

  // src/accounts/delete-account.ts
  router.post('/account/delete', noStore, limit, form, ctx.csrf.protect, async (req, res) => {
    const user = signedIn(res);
    const outcome = await deleteAccount(ctx, user.did, field(req, 'confirm'), req.ip);
    if (outcome.kind === 'refused') {
      res.status(400);
      return await renderAccount(req, res, { form: 'delete-account', message: outcome.problem });
    }
    clearSignInCookies(res, ctx.config);
    res.redirect(303, '/?deleted=1');
  });

  return router;
}
