// GET /auth/verify — Caddy forward_auth for wiki hosts: the proxy forwards the original request's
// headers (Host unchanged, Authorization, X-Forwarded-*) here; 2xx lets the request through with the
// X-Auth-* headers (copy them upstream with copy_headers), anything else goes back to the client
// as is (401/403 with the wiki's WWW-Authenticate challenge, 404 for an unknown wiki).
// The wiki is the one the Host header names, the Host the wiki server also sees; a request whose
// X-Forwarded-Host disagrees is refused with 400 (wikiSlugOfRequest in src/wikis/urls.ts).
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { isWikiScope, WIKI_READ, formatScope, type WikiScope } from '../oauth/scopes.ts';
import { apiResponses } from '../web/error-handler.ts';
import { BadRequest } from '../web/errors.ts';
import { noStore, singleString } from '../web/http.ts';
import { grantKeyedLimits } from '../web/rate-limits.ts';
import { wikiSlugOfRequest } from '../wikis/urls.ts';
import { checkBearer, type Caller } from './check-bearer.ts';
import { WikiNotFound } from './require-wiki.ts';

export const VERIFY_PATH = '/auth/verify';

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

export function verifyRoutes(ctx: AppContext): Router {
  const router = Router();
  // Every request to every wiki page passes through here: per grant, or per address without a valid token.
  const limits = grantKeyedLimits(ctx.config, 'verify');

  // forward_auth sends GET by default; any method is accepted in case the proxy keeps the original one.
  router.all(VERIFY_PATH, noStore, apiResponses, limits.address.check, async (req, res) => {
    const caller = await limits.spendFor(req, async () => {
      const slug = wikiSlugOfRequest(ctx.config, req);
      if (slug === undefined) throw new WikiNotFound(undefined);
      return checkBearer(ctx, req.get('authorization'), slug, requiredScopeFrom(req.query.scope));
    });
    res.status(200).set(authHeaders(caller)).end();
  });
  return router;
}
