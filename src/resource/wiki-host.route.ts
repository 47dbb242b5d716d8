// Everything a wiki host (`{slug}.{apex host}`) answers from this service: its protected resource
// metadata (RFC 9728), its MCP endpoint behind the bearer check, and the /authorize, /token and
// /register aliases some clients build on the MCP origin. Any other path on a wiki host is a 404;
// other hosts pass through untouched.
import { Router, type Request, type RequestHandler } from 'express';
import type { AppContext } from '../context.ts';
import { apiResponses } from '../web/error-handler.ts';
import { NotFound } from '../web/errors.ts';
import { discoveryRateLimit, noStore, precomputeJson, sendJson, type PrecomputedJson } from '../web/http.ts';
import type { DiscoveryLimit } from '../web/rate-limits.ts';
import { wikiSlugOfRequest } from '../wikis/urls.ts';
import type { Caller } from './check-bearer.ts';
import { metadataCors, oauthClientCors } from './cors.ts';
import { PRM_PATH, PRM_ROOT_PATH, protectedResourceMetadata } from './prm.ts';
import { requireWiki, wikiSlugOf } from './require-wiki.ts';
import { VERIFY_PATH } from './verify.route.ts';
import { MCP_PATH, mcpEndpoint, type McpEndpoint } from './mcp.route.ts';
import { OAUTH_PATHS } from '../oauth/paths.ts';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Locals {
      /** The wiki named by the Host header (wiki hosts only). */
      wikiSlug?: string;
      /** Set by the bearer check. */
      caller?: Caller;
    }
  }
}

export interface WikiHostOptions {
  /** The issuer's POST /token chain, served again on wiki hosts. */
  tokenHandlers: RequestHandler[];
  /** The issuer's POST /register chain, served again on wiki hosts. */
  registerHandlers: RequestHandler[];
  /** PRM's discovery budget, when app.ts shares it with the light path (src/web/machine-endpoints.ts). */
  discoveryLimit?: DiscoveryLimit;
  /** The MCP endpoint's chain, when app.ts shares it with the light path (src/web/mcp-light-path.ts). */
  mcp?: McpEndpoint;
}


/** Paths whose 404 is JSON even for a browser. */
const API_PATHS = /^\/(?:\.well-known\/|mcp(?:\/|$)|token\/?$|register\/?$|authorize\/?$)/i;

/** The issuer's authorization endpoint with the same query string, byte for byte. */
export function issuerAuthorizeUrl(publicUrl: string, req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return `${publicUrl}${OAUTH_PATHS.authorize}${q === -1 ? '' : req.originalUrl.slice(q)}`;
}

const notFoundOnWikiHost: RequestHandler = (req, res, next) => {
  if (API_PATHS.test(req.path) || req.accepts(['html', 'json']) === 'json') res.locals.api = true;
  next(new NotFound());
};

export function wikiHostRoutes(ctx: AppContext, opts: WikiHostOptions): RequestHandler {
  const { config } = ctx;
  const router = Router();
  const discoveryLimit = opts.discoveryLimit ?? discoveryRateLimit('wiki-discovery', config.rateLimits.discoveryPerMinute, config);
  const mcp = opts.mcp ?? mcpEndpoint(ctx);
  // Each wiki's PRM, serialised once; bounded (emptied when full: a miss only costs a serialisation).
  const prmDocs = new Map<string, PrecomputedJson>();
  const prmDocument = (slug: string): PrecomputedJson => {
    let doc = prmDocs.get(slug);
    if (doc === undefined) {
      if (prmDocs.size >= 4096) prmDocs.clear();
      doc = precomputeJson(protectedResourceMetadata(config, slug));
      prmDocs.set(slug, doc);
    }
    return doc;
  };

  router.options([PRM_PATH, PRM_ROOT_PATH], metadataCors);
  router.get([PRM_PATH, PRM_ROOT_PATH], metadataCors, apiResponses, discoveryLimit, async (_req, res) => {
    const wiki = await requireWiki(ctx, wikiSlugOf(res));
    res.setHeader('Cache-Control', 'public, max-age=300');
    sendJson(res, prmDocument(wiki.slug));
  });

  router.all(MCP_PATH, ...mcp.handlers);

  // Some Claude.ai versions build these on the MCP origin when the AS lives elsewhere.
  router.get('/authorize', noStore, (req, res) => {
    res.redirect(302, issuerAuthorizeUrl(config.publicUrl, req));
  });
  router.options(['/token', '/register'], oauthClientCors);
  router.post('/token', oauthClientCors, apiResponses, ...opts.tokenHandlers);
  router.post('/register', oauthClientCors, apiResponses, ...opts.registerHandlers);

  router.use(notFoundOnWikiHost);

  return (req, res, next) => {
    // forward_auth subrequests keep the wiki's Host: leave /auth/verify to verifyRoutes.
    if (req.path === VERIFY_PATH) return next();
    const slug = wikiSlugOfRequest(config, req);
    if (slug === undefined) return next();
    res.locals.wikiSlug = slug;
    router(req, res, next);
  };
}
