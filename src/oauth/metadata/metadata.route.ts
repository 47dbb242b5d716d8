// Discovery: AS metadata (RFC 8414; also at the OpenID path, which some MCP SDKs try second) and
// the platform's public signing keys. Public, cacheable, readable cross-origin, never a 5xx.
import cors from 'cors';
import { Router, type Request, type Response } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { rateLimit } from '../../web/http.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { authorizationServerMetadata } from './as-metadata.ts';

export function metadataRoutes(ctx: AppContext): Router {
  const router = Router();
  const metadata = authorizationServerMetadata(ctx.config);
  const discovery = [apiResponses, cors(), rateLimit('discovery', ctx.config.rateLimits.discoveryPerMinute, ctx.config)];
  const serveMetadata = [
    ...discovery,
    (_req: Request, res: Response) => {
      res.set('Cache-Control', 'public, max-age=300').json(metadata);
    },
  ];
  router.get('/.well-known/oauth-authorization-server', ...serveMetadata);
  router.get('/.well-known/openid-configuration', ...serveMetadata);
  router.get(OAUTH_PATHS.jwks, ...discovery, (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(ctx.platformKeys.publicJwks);
  });
  // RFC 8615: well-known URIs are read by programs. Anything else there (another method, a PRM the
  // issuer does not have, a path-suffixed variant) falls through to a JSON 404, never an HTML page.
  router.use('/.well-known', apiResponses);
  return router;
}
