// GET /auth/verify — Caddy forward_auth for wiki hosts: the proxy forwards the original request's
// headers (Host unchanged, Authorization, X-Forwarded-*) here; 2xx lets the request through with the
// X-Auth-* headers (copy them upstream with copy_headers), anything else goes back to the client
// as is (401/403 with the wiki's WWW-Authenticate challenge, 404 for an unknown wiki).
// The wiki is the one the Host header names, the Host the wiki server also sees; a request whose
// X-Forwarded-Host disagrees is refused with 400 (wikiSlugOfRequest in src/wikis/urls.ts).
// A caller's 2xx is read by the proxy alone and never reaches a browser: it carries no body and no
// page's security headers (CSP, frame and sniffing rules: nothing to apply them to), only no-store
// and X-Auth-* (answerWithout; the light path likewise). A refusal is what the client sees, and
// keeps them all.
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { MaybePromise } from '../lib/maybe-promise.ts';
import { isWikiScope, WIKI_READ, formatScope, type WikiScope } from '../oauth/scopes.ts';
import { apiResponses } from '../web/error-handler.ts';
import { securityHeaderSets } from '../web/security-headers.ts';
import { BadRequest } from '../web/errors.ts';
import { noStore, setNoStore, singleString } from '../web/http.ts';
import { grantKeyedLimits } from '../web/rate-limits.ts';
import { wikiSlugOfRequest, type HostHeaders } from '../wikis/urls.ts';
import { checkBearer, type BearerDeps, type Caller } from './check-bearer.ts';
import { WikiNotFound } from './require-wiki.ts';

export const VERIFY_PATH = '/auth/verify';

/** The security headers (securityHeaders' `everywhere` set) a caller's 2xx goes without. */
function answerWithout(config: Pick<BearerDeps['config'], 'production' | 'publicUrl'>): string[] {
  return securityHeaderSets(config.production, config.publicUrl).everywhere.map(([name]) => name);
}

/** `?scope=wiki:write` in the forward_auth URI names the scope a route needs; wiki:read by default. */
export function requiredScopeFrom(value: unknown): WikiScope {
  if (value === undefined) return WIKI_READ;
  const scope = singleString(value);
  if (scope === undefined || !isWikiScope(scope)) throw new BadRequest('The scope parameter must be wiki:read or wiki:write.');
  return scope;
}

/** The identity headers the proxy copies to the wiki. */
export function authHeaders(caller: Caller): Record<string, string> {
  return {
    'X-Auth-Did': caller.did,
    'X-Auth-Handle': caller.handle,
    'X-Auth-Wiki': caller.wiki,
    'X-Auth-Scopes': formatScope(caller.scopes),
    'X-Auth-Client-Id': caller.clientId,
  };
}

/** What one /auth/verify request's bearer check reads from the request. */
export interface VerifyInput {
  /** The request's address as Express's req.ip has it (trust proxy applied): its budget. */
  ip: string | undefined;
  /** Host and X-Forwarded-Host: which wiki (wikiSlugOfRequest). */
  hosts: HostHeaders;
  authorization: string | undefined;
  /** `?scope=`, as req.query has it; undefined without a query. */
  scope: unknown;
}

/** The /auth/verify handler app.ts mounts, and its check for the light path (src/web/machine-endpoints.ts). */
export interface VerifyRoutes extends RequestHandler {
  /** Whether `ip` has budget left (nothing spent); a request from an address without is refused 429 by the handler. */
  addressOpen(ip: string | undefined): boolean;
  /** What the route's chain does to the response before its check (noStore, apiResponses). */
  markResponse(res: Response): void;
  /**
   * The bearer check exactly as the handler runs it after the address check: the caller (its
   * grant's budget spent), or the typed error to answer (the address's budget spent).
   */
  check(input: VerifyInput): MaybePromise<Caller>;
}

/**
 * The proxy calls this once per request to every wiki page, so it is answered without Express
 * routing: the exact path runs the chain directly; other spellings Express would route here
 * (`/auth/verify/`, any case) take the router; every other request passes on at the cost of one
 * string comparison. Mounted after the request log, security headers and header limits (app.ts).
 */
export function verifyRoutes(ctx: BearerDeps): VerifyRoutes {
  // Every request to every wiki page passes through here: per grant, or per address without a valid token.
  const limits = grantKeyedLimits(ctx.config, 'verify');

  const check = (input: VerifyInput): MaybePromise<Caller> =>
    limits.spendFor(input.ip, () => {
      const slug = wikiSlugOfRequest(ctx.config, input.hosts);
      if (slug === undefined) throw new WikiNotFound(undefined);
      return checkBearer(ctx, input.authorization, slug, requiredScopeFrom(input.scope));
    });

  const without = answerWithout(ctx.config);
  const markResponse = (res: Response): void => {
    setNoStore(res);
    res.locals.api = true;
  };

  const verify = async (req: Request, res: Response): Promise<void> => {
    // req.query parses the query string on each read: only when there is one.
    const scope = req.url.includes('?') ? (req.query.scope as unknown) : undefined;
    const caller = await check({ ip: req.ip, hosts: req, authorization: req.get('authorization'), scope });
    const headers = authHeaders(caller);
    res.status(200);
    for (const name of without) res.removeHeader(name);
    for (const name in headers) res.setHeader(name, headers[name]!);
    res.end();
  };

  const router = Router();
  // forward_auth sends GET by default; any method is accepted in case the proxy keeps the original one.
  router.all(VERIFY_PATH, noStore, apiResponses, limits.address.check, (req, res) => verify(req, res));

  const handler: RequestHandler = (req, res, next) => {
    const path = req.path;
    if (path === VERIFY_PATH) {
      // The same chain as the route above: noStore and apiResponses (markResponse), the address budget, verify.
      markResponse(res);
      try {
        limits.address.check(req, res, () => undefined);
      } catch (err) {
        next(err);
        return;
      }
      verify(req, res).catch(next);
      return;
    }
    if (path.length <= VERIFY_PATH.length + 1 && path.toLowerCase().startsWith(VERIFY_PATH)) {
      router(req, res, next);
      return;
    }
    next();
  };
  return Object.assign(handler, { addressOpen: (ip: string | undefined) => limits.address.open(ip), markResponse, check });
}
