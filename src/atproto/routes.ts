// /auth: sign in with an ATProto handle, the callback, the development hand-off, and the client's
// public metadata and keys. This file only turns a callback into a verified identity; the session,
// every cookie's policy and the return_to rule belong to src/accounts/ (sign-out too).
import express, { Router, type Request, type Response } from 'express';
import type { AppContext } from '../context.ts';
import { randomToken, sha256Hex } from '../lib/secrets.ts';
import { noStore, rateLimit, singleString } from '../web/http.ts';
import { safeReturnTo } from '../web/return-to.ts';
import { checkSignInBinding, completeSignIn, returnToAfterSignIn } from '../accounts/complete-sign-in.ts';
import { cookieNames, readHostCookie, setBindingCookie } from '../accounts/cookies.ts';
import { sendSignInOutcome } from '../accounts/sign-in-response.ts';
import { finishSignIn, normaliseLoginInput, SignInFailed, startSignIn, type AtprotoIdentity, type SignInState } from './sign-in.ts';
import { HANDOFF_TICKET_TTL_SECONDS } from '../lifetimes.ts';


interface HandoffPayload {
  identity: AtprotoIdentity;
  state: SignInState;
}

export function atprotoRoutes(ctx: AppContext): Router {
  const { config } = ctx;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
  const bindingCookie = cookieNames(config).binding;

  // A PDS fetches these during a sign-in, after startSignIn has loaded the client: as the library validated them.
  router.get('/auth/client-metadata.json', async (_req, res) => {
    const client = await ctx.atproto.get();
    res.set('Cache-Control', 'public, max-age=300').json(client.clientMetadata);
  });
  router.get('/auth/jwks.json', async (_req, res) => {
    const client = await ctx.atproto.get();
    res.set('Cache-Control', 'public, max-age=300').json(client.jwks);
  });

  /** Sign-in failures by stage (robot_auth_sign_ins_total{stage="failed"}); the error goes on to the error page. */
  const signInFailed = (reason: string) => (err: unknown): never => {
    if (err instanceof SignInFailed) ctx.metrics.signIn('failed', reason);
    throw err;
  };
  const countSignInFailure = (reason: string, check: () => void): void => {
    try {
      check();
    } catch (err) {
      signInFailed(reason)(err);
    }
  };

  function renderLogin(req: Request, res: Response, view: { returnTo: string | undefined; handle: unknown; problem?: string }) {
    res.render('login', {
      title: 'Sign in',
      csrfToken: ctx.csrf.token(req, res),
      returnTo: view.returnTo ?? '',
      handle: singleString(view.handle) ?? '',
      problem: view.problem,
    });
  }

  router.get('/auth/login', noStore, async (req, res) => {
    const returnTo = safeReturnTo(req.query.return_to, config);
    if (res.locals.user) return res.redirect(303, await returnToAfterSignIn(ctx, res.locals.user.did, returnTo));
    renderLogin(req, res, { returnTo, handle: req.query.handle });
  });

  router.post('/auth/login', noStore, rateLimit('login', config.rateLimits.loginPerMinute, config), form, ctx.csrf.protect, async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const returnTo = safeReturnTo(body.return_to, config);
    const identifier = normaliseLoginInput(body.handle);
    if (!identifier) {
      res.status(400);
      return renderLogin(req, res, {
        returnTo,
        handle: body.handle,
        problem: 'Enter your handle (for example alice.bsky.social), your DID, or your server address.',
      });
    }
    const binding = randomToken();
    try {
      const url = await startSignIn(ctx, identifier, { returnTo, bindingHash: sha256Hex(binding) });
      ctx.metrics.signIn('started');
      setBindingCookie(res, config, binding);
      res.redirect(303, url.href);
    } catch (err) {
      if (!(err instanceof SignInFailed)) throw err;
      ctx.metrics.signIn('failed', 'start');
      ctx.log.info({ reqId: req.id, identifier, cause: String(err.cause) }, 'sign-in could not start');
      res.status(400);
      renderLogin(req, res, { returnTo, handle: body.handle, problem: err.message });
    }
  });

  router.get('/auth/callback', noStore, rateLimit('callback', config.rateLimits.loginPerMinute, config), async (req, res) => {
    const params = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
    const outcome = await finishSignIn(await ctx.atproto.get(), params).catch(signInFailed('callback'));
    if (outcome.kind === 'cancelled') ctx.metrics.signIn('failed', 'cancelled');
    if (outcome.kind === 'cancelled') return res.render('cancelled', { title: 'Sign-in cancelled' });
    if (!config.production) {
      // The loopback client's callback is on 127.0.0.1, but the session belongs on PUBLIC_URL:
      // pass the result over with a single-use, 2-minute ticket.
      const payload: HandoffPayload = { identity: outcome.identity, state: outcome.state };
      const ticket = await ctx.store.repos.tickets.issue('handoff', outcome.identity.did, payload, HANDOFF_TICKET_TTL_SECONDS);
      return res.redirect(303, `${config.publicUrl}/auth/handoff?ticket=${encodeURIComponent(ticket)}`);
    }
    countSignInFailure('binding', () => checkSignInBinding(outcome.state, readHostCookie(req, bindingCookie)));
    sendSignInOutcome(res, config, await completeSignIn(ctx, outcome.identity, outcome.state, req.get('user-agent') ?? null, { address: req.ip }));
  });

  if (!config.production) {
    // Every sign-in passes here once, right after the callback: the same per-address budget.
    router.get('/auth/handoff', noStore, rateLimit('handoff', config.rateLimits.loginPerMinute, config), async (req, res) => {
      const value = singleString(req.query.ticket);
      const ticket = value ? await ctx.store.repos.tickets.consume<HandoffPayload>('handoff', value) : undefined;
      if (!ticket) throw signInFailed('handoff')(new SignInFailed('This sign-in link is invalid, expired or was already used. Please sign in again.'));
      countSignInFailure('binding', () => checkSignInBinding(ticket.payload.state, readHostCookie(req, bindingCookie)));
      sendSignInOutcome(res, config, await completeSignIn(ctx, ticket.payload.identity, ticket.payload.state, req.get('user-agent') ?? null, { address: req.ip }));
    });
  }

  return router;
}
