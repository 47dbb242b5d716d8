// GET /auth/oauth/authorize → validate, keep the request server-side, go to the consent page
// (through Bluesky sign-in when needed). GET/POST /auth/oauth/consent → show, then decide.
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { AppContext } from '../../context.ts';
import { noStore, rateLimit, singleString } from '../../web/http.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { AuthorizationRefusedBeforeConsent } from './refused-before-consent.ts';
import { decideConsent, describeConsent, loadConsent, AuthorizationRequestExpired } from './consent.ts';
import { validateAuthorizationRequest } from './validate-authorization-request.ts';

const AUTHORIZE_PATH = OAUTH_PATHS.authorize;
const CONSENT_PATH = OAUTH_PATHS.consent;

export function authorizeRoutes(ctx: AppContext): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '8kb', parameterLimit: 20 });
  const limit = rateLimit('authorize', ctx.config.rateLimits.tokenPerMinute, ctx.config);

  router.get(AUTHORIZE_PATH, noStore, limit, async (req, res) => {
    const pending = await validateAuthorizationRequest(ctx, req.query);
    const requestId = await ctx.store.repos.authorizationRequests.insert(pending);
    res.redirect(303, consentUrl(requestId));
  });

  router.get(CONSENT_PATH, noStore, async (req, res) => {
    const requestId = singleString(req.query.request);
    if (!requestId) throw new AuthorizationRequestExpired();
    const user = res.locals.user;
    if (!user) return res.redirect(303, `/auth/login?return_to=${encodeURIComponent(consentUrl(requestId))}`);
    const { pending, client } = await loadConsent(ctx, requestId);
    res.render('consent', {
      title: 'Allow access?',
      consent: await describeConsent(ctx, requestId, pending, client, user),
      csrfToken: ctx.csrf.token(req, res),
    });
  });

  router.post(CONSENT_PATH, noStore, limit, form, ctx.csrf.protect, async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const requestId = singleString(body.request);
    if (!requestId) throw new AuthorizationRequestExpired();
    const user = res.locals.user;
    if (!user) return res.redirect(303, `/auth/login?return_to=${encodeURIComponent(consentUrl(requestId))}`);
    const decision = body.decision === 'allow' ? 'allow' : 'deny';
    const outcome = await decideConsent(ctx, requestId, user, decision, singleString(body.wiki), { address: req.ip });
    if (outcome.kind === 'redirect') return res.redirect(303, outcome.redirectTo);
    // Allow without a wiki: the same page again, saying what is missing (the request is still pending).
    const { pending, client } = await loadConsent(ctx, requestId);
    res.status(400).render('consent', {
      title: 'Choose a wiki',
      consent: await describeConsent(ctx, requestId, pending, client, user, { choiceMissing: true }),
      csrfToken: ctx.csrf.token(req, res),
    });
  });

  // RFC 9700 §4.11.2: a request refused before the person acted is a page, never a redirect.
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(err instanceof AuthorizationRefusedBeforeConsent)) return next(err);
    ctx.log.info(
      { reqId: req.id, clientId: err.clientId, code: err.code, msg: err.message },
      'authorization request refused before consent; shown as a page (the client must fix its request)',
    );
    res.status(err.status).set('Cache-Control', 'no-store').render('authorize-error', {
      title: err.title ?? 'This app sent an invalid request',
      status: err.status,
      code: err.code,
      message: err.message,
      clientName: err.clientName,
      backLink: err.backLink,
      requestId: String(req.id ?? ''),
    });
  });
  return router;
}

function consentUrl(requestId: string): string {
  return `${CONSENT_PATH}?request=${encodeURIComponent(requestId)}`;
}
