// createApp(ctx): the Express application, with every feature router mounted. It never listens:
// server.ts does, and tests drive it in-process with supertest.
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import cookieParser from 'cookie-parser';
import type { AppContext } from './context.ts';
import { loadSignedInUser } from './accounts/current-user.ts';
import { accountRoutes } from './accounts/routes.ts';
import { atprotoRoutes } from './atproto/routes.ts';
import { errorHandler, notFoundHandler } from './web/error-handler.ts';
import { authorizeRoutes } from './oauth/authorize/authorize.route.ts';
import { metadataRoutes } from './oauth/metadata/metadata.route.ts';
import { OAUTH_PATHS } from './oauth/paths.ts';
import { registrationHandlers } from './oauth/register/register.route.ts';
import { revokeRoutes } from './oauth/revoke/revoke.route.ts';
import { earlyTokenDispatch, tokenEndpoint } from './oauth/token/token.route.ts';
import { oauthClientCors } from './resource/cors.ts';
import { verifyRoutes } from './resource/verify.route.ts';
import { wikiHostRoutes } from './resource/wiki-host.route.ts';
import { TLS_ASK_PATH, tlsAskRoutes } from './wikis/tls-ask.route.ts';
import { HEALTH_PATH, healthRoutes } from './web/health.route.ts';
import { headerLimits } from './web/header-limits.ts';
import { requestLog } from './web/request-log.ts';
import { securityHeaders } from './web/security-headers.ts';
import { machineEndpoints } from './web/machine-endpoints.ts';
import { tokenLightPath } from './web/token-light-path.ts';
import { mcpLightPath } from './web/mcp-light-path.ts';
import { mcpEndpoint } from './resource/mcp.route.ts';
import { discoveryRateLimit } from './web/rate-limits.ts';
import { requestMetrics } from './metrics/route-groups.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * `handler` (a router whose routes all live under `prefix`) only for paths that start with
 * `prefix`, compared lower case as Express routes them; every other request passes it at the cost
 * of one comparison instead of a walk through the router (docs/benchmarks.md, "Round 3").
 */
function under(prefix: string, handler: RequestHandler): RequestHandler {
  return (req, res, next) => {
    const p = req.path;
    if (p.startsWith(prefix) || p.toLowerCase().startsWith(prefix)) handler(req, res, next);
    else next();
  };
}

export function createApp(ctx: AppContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', ctx.config.trustProxy);
  app.set('views', path.join(ROOT, 'views'));
  app.set('view engine', 'ejs');
  app.locals.platformName = ctx.config.platformName;

  app.use(requestMetrics(ctx.metrics)); // one histogram observation per response (src/metrics/)
  // Before the request log, so health probes do not fill it; on every host.
  app.use(under(HEALTH_PATH, healthRoutes(ctx)));

  app.use(requestLog(ctx.log));
  app.use(securityHeaders(ctx.config.production, ctx.config.publicUrl));
  app.use(headerLimits); // before anything parses a header (credentials, cookies, hosts)

  // Built once so the issuer and the wiki-host fallbacks share one rate-limit budget.
  const tokens = tokenEndpoint(ctx);
  const token = tokens.handlers;
  const register = registrationHandlers(ctx);
  // Shared with the light path below (one budget whichever path answers).
  const verify = verifyRoutes(ctx);
  const mcp = mcpEndpoint(ctx);
  const discoveryLimit = discoveryRateLimit('discovery', ctx.config.rateLimits.discoveryPerMinute, ctx.config);
  const wikiDiscoveryLimit = discoveryRateLimit('wiki-discovery', ctx.config.rateLimits.discoveryPerMinute, ctx.config);
  const errors = errorHandler(ctx.log, ctx);

  // perf-token2 (issue 11): the apex POST /auth/oauth/token before the routers below, which never
  // answer it; wiki hosts still reach wikiHostRoutes (404 there). token.route.ts earlyTokenDispatch.
  app.use(earlyTokenDispatch(ctx.config, token));

  // Wiki hosts ({slug}.PLATFORM_DOMAIN): protected-resource metadata, /mcp, and the /authorize,
  // /token, /register fallbacks. Everything else on a wiki host ends there (404).
  app.use(verify); // forward_auth: first, and answered without routing (verify.route.ts)
  app.use(under(TLS_ASK_PATH, tlsAskRoutes(ctx))); // Caddy's on-demand TLS `ask` (GET /internal/tls-ask), on its local address
  app.use(wikiHostRoutes(ctx, { tokenHandlers: token, registerHandlers: register, discoveryLimit: wikiDiscoveryLimit, mcp }));

  // The apex: the authorization server and the pages.
  app.all([OAUTH_PATHS.token, OAUTH_PATHS.register, OAUTH_PATHS.revoke], oauthClientCors); // browser MCP clients; preflights end here
  app.use(under('/.well-known', metadataRoutes(ctx, discoveryLimit)));
  app.post(OAUTH_PATHS.token, ...token);
  app.post(OAUTH_PATHS.register, ...register);
  app.use(revokeRoutes(ctx));

  app.use('/static', express.static(path.join(ROOT, 'public'), { maxAge: '1h', index: false }));
  app.use(cookieParser());
  app.use(loadSignedInUser(ctx));
  app.use(authorizeRoutes(ctx));
  app.use(atprotoRoutes(ctx));
  app.use(accountRoutes(ctx));

  app.use(notFoundHandler);
  app.use(errors);

  // The light path: plain GETs of the machine endpoints answered before Express's router, with the
  // same answer (src/web/machine-endpoints.ts); anything else goes on to the stack above.
  const light = machineEndpoints({ ctx, app, discoveryLimit, wikiDiscoveryLimit, verify, errors });
  // And the plain POST /auth/oauth/token (src/web/token-light-path.ts): Express's router and body parser skipped, the same last step.
  const tokenLight = tokenLightPath({ ctx, app, errors }, tokens);
  // And the plain POST /mcp of a wiki host (src/web/mcp-light-path.ts): the same chain, whoami answered in one writeHead.
  const mcpLight = mcpLightPath({ ctx, app, errors }, mcp);
  // Express 5 calls app.handle(req, res, next) for each request (next only when mounted in another app).
  type Handle = (req: IncomingMessage, res: ServerResponse, next?: unknown) => void;
  const dispatch = app as unknown as { handle: Handle };
  const handle = dispatch.handle.bind(app);
  dispatch.handle = (req, res, next) => {
    if (next !== undefined) return handle(req, res, next);
    const answered = tokenLight(req, res) || mcpLight(req, res) || light(req, res);
    if (answered === false) handle(req, res, next);
    else if (answered !== true) void answered.then((done) => done || handle(req, res, next));
  };
  return app;
}
