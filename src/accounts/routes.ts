// Pages of the signed-in person: start page, signup (first sign-in), account.
import express, { Router, type Request, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { noStore, rateLimit } from '../web/http.ts';
import { AppError, SignInRequired } from '../web/errors.ts';
import { wikiMcpUrl, wikiOrigin } from '../wikis/urls.ts';
import { SIGNUP_COOKIE } from '../atproto/routes.ts';
import { displayNameFor } from '../oauth/clients/client.ts';
import { createSessionToken, SESSION_COOKIE, sessionCookieOptions } from './session-cookie.ts';
import type { SignupTicketPayload } from './complete-sign-in.ts';
import { suggestedUsername } from './username.ts';
import { signUp } from './signup.ts';

class SignupExpired extends AppError {
  constructor() {
    super(400, 'signup_expired', 'Your sign-in for choosing a username has expired. Please sign in again.', { title: 'Please sign in again' });
  }
}

export function accountRoutes(ctx: AppContext): Router {
  const { config } = ctx;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });

  router.get('/', (_req, res) => {
    if (res.locals.user) return res.redirect(303, '/account');
    res.render('home', { title: 'Welcome' });
  });

  router.get('/account', noStore, (req, res) => {
    const signedIn = res.locals.user;
    if (!signedIn) return res.redirect(303, `/auth/login?return_to=${encodeURIComponent('/account')}`);
    const account = ctx.users.findByDid(signedIn.did);
    if (!account) throw new SignInRequired();
    const wikis = ctx.wikis.listByOwner(account.did).map((w) => ({
      slug: w.slug,
      url: wikiOrigin(config, w.slug),
      mcpUrl: wikiMcpUrl(config, w.slug),
    }));
    const apps = ctx.grants.listConnectedApps(account.did).map((grant) => ({
      id: grant.id,
      clientName: displayNameFor(grant.clientId, grant.clientName),
      unverified: grant.clientKind === 'registered',
      wiki: grant.wikiSlug,
      scopes: grant.scope.split(' '),
      approvedAt: new Date(grant.createdAt * 1000).toISOString().slice(0, 16).replace('T', ' '),
      lastUsedAt: new Date(grant.lastUsedAt * 1000).toISOString().slice(0, 16).replace('T', ' '),
    }));
    res.render('account', { title: 'Your account', account, wikis, apps, csrfToken: ctx.csrf.token(req, res) });
  });

  // Connected apps: revoking the grant ends its refresh tokens and, at the resource, its access tokens at once.
  router.post('/account/apps/revoke', noStore, form, ctx.csrf.protect, (req, res) => {
    const signedIn = res.locals.user;
    if (!signedIn) throw new SignInRequired();
    const grantId = (req.body as Record<string, unknown>).grant;
    if (typeof grantId === 'string' && ctx.grants.revokeForUser(grantId, signedIn.did)) {
      ctx.log.info({ did: signedIn.did, grantId }, 'connected app revoked by user');
    }
    res.redirect(303, '/account');
  });

  function signupTicket(req: Request) {
    const value: unknown = req.cookies?.[SIGNUP_COOKIE];
    const ticket = typeof value === 'string' ? ctx.tickets.peek<SignupTicketPayload>('signup', value) : undefined;
    if (!ticket || typeof value !== 'string') throw new SignupExpired();
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

  router.get('/auth/signup', noStore, (req, res) => {
    const ticket = signupTicket(req);
    renderSignup(req, res, ticket.payload.handle, suggestedUsername(ticket.payload.handle));
  });

  router.post('/auth/signup', noStore, rateLimit('signup', config.rateLimits.loginPerMinute, config), form, ctx.csrf.protect, async (req, res) => {
    const ticket = signupTicket(req);
    const requested = typeof (req.body as Record<string, unknown>).username === 'string' ? String(req.body.username) : '';
    const result = signUp(ctx, ticket.did, ticket.payload, requested);
    if (!result.ok) {
      res.status(result.conflict ? 409 : 400);
      return renderSignup(req, res, ticket.payload.handle, requested.trim().toLowerCase().slice(0, 63), result.problem);
    }
    // The ticket is used up only once the account exists, so a refused name can be retried.
    ctx.tickets.consume('signup', ticket.value);
    const token = await createSessionToken({ config, keys: ctx.platformKeys, sessions: ctx.sessions }, result.user, req.get('user-agent') ?? null);
    res.clearCookie(SIGNUP_COOKIE, { httpOnly: true, secure: config.production, sameSite: 'lax', path: '/' });
    res.cookie(SESSION_COOKIE, token, { ...sessionCookieOptions(config), maxAge: config.sessionTtlSeconds * 1000 });
    res.redirect(303, ticket.payload.returnTo ?? '/account');
  });

  return router;
}
