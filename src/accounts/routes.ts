// Pages of the signed-in person: start page, signup (first sign-in), account, sign-out, and the
// wikis' identity-token refresh (GET /auth/wiki-session) with its public keys.
import cors from 'cors';
import express, { Router, type Request, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { noStore, rateLimit } from '../web/http.ts';
import { AppError, SignInRequired } from '../web/errors.ts';
import { wikiOrigin } from '../wikis/urls.ts';
import { describeClientIdentity, type ClientIdentity } from '../oauth/authorize/client-identity.ts';
import { returnToTarget, safeReturnTo } from '../web/return-to.ts';
import { refuseSignupWhilePaused } from '../wikis/new-wiki-cap.ts';
import { clearSignInCookies, clearSignupCookie, cookieNames, readHostCookie, setIdentityCookie, setSessionCookie } from './cookies.ts';
import { returnToAfterSignIn, type SignupTicketPayload } from './complete-sign-in.ts';
import { IDENTITY_JWKS_PATH, signIdentityToken, WIKI_SESSION_PATH } from './identity-token.ts';
import { createSession } from './session.ts';
import { suggestedUsername } from './username.ts';
import { signUp } from './signup.ts';
import { recentActivity, revokeByPerson } from '../audit/recent-activity.ts';
import { accountActionRoutes, type RenderAccount } from './account-actions.routes.ts';
import { accountPageData, DONE_MESSAGES } from './account-page.ts';
import { jwksCacheControl } from '../config/jwks-cache.ts';

class NotAWiki extends AppError {
  constructor() {
    super(400, 'invalid_return_to', 'This link does not lead back to a wiki of this site.', { title: 'Unknown wiki' });
  }
}

class SignupExpired extends AppError {
  constructor() {
    super(400, 'signup_expired', 'Your sign-in for choosing a username has expired. Please sign in again.', { title: 'Please sign in again' });
  }
}

export function accountRoutes(ctx: AppContext): Router {
  const { config } = ctx;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  router.get('/', (req, res) => {
    if (res.locals.user) return res.redirect(303, '/account');
    res.render('home', { title: 'Welcome', accountDeleted: req.query.deleted === '1' });
  });

  // The account page; also rendered by the actions (account-actions.routes.ts) with a problem.
  const renderAccount: RenderAccount = async (req, res, problem) => {
    const signedIn = res.locals.user;
    if (!signedIn) throw new SignInRequired();
    const account = await ctx.store.repos.users.findByDid(signedIn.did);
    if (!account) throw new SignInRequired();
    const connected = await ctx.store.repos.grants.listConnectedApps(account.did);
    // Who each app is, by the consent page's rule: every client is unverified; a metadata-document
    // client is shown with the host of its client_id (issue 9 finding 7).
    const apps = connected.map((grant) => ({
      id: grant.id,
      ...shownIdentity(describeClientIdentity({ clientId: grant.clientId, kind: grant.clientKind, metadata: grant.clientMetadata })),
      wiki: grant.wikiSlug,
      scopes: grant.scope.split(' '),
      approvedAt: new Date(grant.createdAt * 1000).toISOString().slice(0, 16).replace('T', ' '),
      lastUsedAt: new Date(grant.lastUsedAt * 1000).toISOString().slice(0, 16).replace('T', ' '),
    }));
    const done = typeof req.query.done === 'string' ? DONE_MESSAGES[req.query.done] : undefined;
    res.locals.recentActivity = await recentActivity(ctx, account.did); // views/partials/recent-activity.ejs
    res.render('account', {
      title: 'Your account',
      account,
      apps,
      csrfToken: ctx.csrf.token(req, res),
      ...(await accountPageData(ctx, account.did, signedIn.sessionId, connected)),
      problem,
      done: problem ? undefined : done,
    });
  };

  router.get('/account', noStore, async (req, res) => {
    if (!res.locals.user) return res.redirect(303, `/auth/login?return_to=${encodeURIComponent('/account')}`);
    await renderAccount(req, res);
  });
  router.use(accountActionRoutes(ctx, renderAccount));

  // Connected apps: revoking the grant ends its refresh tokens and, at the resource, its access tokens at once.
  router.post('/account/apps/revoke', noStore, form, ctx.csrf.protect, async (req, res) => {
    const signedIn = res.locals.user;
    if (!signedIn) throw new SignInRequired();
    const grantId = (req.body as Record<string, unknown>).grant;
    if (typeof grantId === 'string' && (await revokeByPerson(ctx, signedIn.did, grantId, req.ip))) {
      ctx.log.info({ did: signedIn.did, grantId }, 'connected app revoked by user');
    }
    res.redirect(303, '/account');
  });

  async function signupTicket(req: Request) {
    const value = readHostCookie(req, cookieNames(config).signup);
    const ticket = value === undefined ? undefined : await ctx.store.repos.tickets.peek<SignupTicketPayload>('signup', value);
    if (!ticket || value === undefined) throw new SignupExpired();
    return { value, ...ticket };
  }

  function renderSignup(req: Request, res: Response, handle: string, username: string, problem?: string) {
    res.render('signup', {
      title: 'Choose your username',
      csrfToken: ctx.csrf.token(req, res),
      handle,
      username,
      problem,
      wikiExample: wikiOrigin(config, username || 'yourname'),
    });
  }

  router.get('/auth/signup', noStore, async (req, res) => {
    const ticket = await signupTicket(req);
    // Awaited: new-wiki-cap.ts goes over the Store too (a no-op await while it is synchronous).
    await refuseSignupWhilePaused(ctx, ticket.did);
    renderSignup(req, res, ticket.payload.handle, suggestedUsername(ticket.payload.handle));
  });

  router.post('/auth/signup', noStore, rateLimit('signup', config.rateLimits.loginPerMinute, config), form, ctx.csrf.protect, async (req, res) => {
    const ticket = await signupTicket(req);
    const requested = typeof (req.body as Record<string, unknown>).username === 'string' ? String(req.body.username) : '';
    const result = await signUp(ctx, ticket.did, ticket.payload, requested);
    if (!result.ok) {
      res.status(result.conflict ? 409 : 400);
      return renderSignup(req, res, ticket.payload.handle, requested.trim().toLowerCase().slice(0, 63), result.problem);
    }
    // The ticket is used up only once the account exists, so a refused name can be retried.
    await ctx.store.repos.tickets.consume('signup', ticket.value);
    await ctx.audit.record({ event: 'signup', did: result.user.did, wikiSlug: result.user.username, actor: 'person', address: req.ip, detail: { handle: ticket.payload.handle } });
    const sessionSecret = await createSession(ctx, result.user, req.get('user-agent') ?? null);
    const identityToken = await signIdentityToken(ctx, result.user);
    clearSignupCookie(res, config);
    setSessionCookie(res, config, sessionSecret);
    setIdentityCookie(res, config, identityToken);
    res.redirect(303, await returnToAfterSignIn(ctx, result.user.did, ticket.payload.returnTo));
  });

  // Sign-out ends both: the session row is revoked, the host-only session cookie and the wikis'
  // identity cookie (on COOKIE_DOMAIN) are cleared. Identity tokens already copied elsewhere live out
  // their short lifetime (IDENTITY_TOKEN_TTL_SECONDS) and are not refreshed any more.
  router.post('/auth/logout', noStore, form, ctx.csrf.protect, async (req, res) => {
    const user = res.locals.user;
    clearSignInCookies(res, config);
    if (user) {
      await ctx.store.repos.sessions.revoke(user.sessionId);
      try {
        // Revokes the tokens at the PDS and forgets them here.
        await (await ctx.atproto.get()).revoke(user.did);
      } catch (err) {
        ctx.log.warn({ reqId: req.id, did: user.did, err }, 'could not revoke the ATProto session at the PDS');
      }
      ctx.log.info({ did: user.did }, 'signed out');
      await ctx.audit.record({ event: 'sign_out', did: user.did, actor: 'person', address: req.ip });
    }
    res.redirect(303, '/');
  });

  // The wikis' identity-token refresh: with a live apex session, a fresh identity cookie and a 303
  // back to the wiki (an existing wiki host of this deployment only, never elsewhere); without one,
  // the sign-in page, which comes back here. A session revoked by sign-out or `users revoke-sessions`
  // gets no new token, and the stale identity cookie is cleared.
  router.get(WIKI_SESSION_PATH, noStore, rateLimit('wiki-session', config.rateLimits.loginPerMinute, config), async (req, res) => {
    const returnTo = safeReturnTo(req.query.return_to, config);
    const target = returnTo === undefined ? undefined : returnToTarget(returnTo, config);
    const wiki = target?.kind === 'wiki' ? await ctx.store.repos.wikis.findBySlug(target.slug) : undefined;
    if (!returnTo || !wiki) throw new NotAWiki();
    const signedIn = res.locals.user;
    if (!signedIn) {
      clearSignInCookies(res, config);
      const back = `${WIKI_SESSION_PATH}?return_to=${encodeURIComponent(returnTo)}`;
      return res.redirect(303, `/auth/login?return_to=${encodeURIComponent(back)}`);
    }
    setIdentityCookie(res, config, await signIdentityToken(ctx, signedIn));
    res.redirect(303, returnTo);
  });

  // The identity token's public keys: the "identity" key set only (never the access-token keys).
  router.get(IDENTITY_JWKS_PATH, cors(), (_req, res) => {
    res.set('Cache-Control', jwksCacheControl(ctx.config)).json(ctx.identityKeys.publicJwks);
  });

  return router;
}

/** What the connected apps list shows of a client: the consent page's identity (client-identity.ts). */
function shownIdentity(identity: ClientIdentity): { clientName: string; unverified: boolean; publishedBy: string | undefined } {
  return { clientName: identity.name, unverified: identity.unverified, publishedBy: identity.publishedBy };
}
