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
  const discovery = [apiResponses, cors(), rateLimit('discovery', ctx.config.rateLimits.discoveryPerMinute)];
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
  return router;
}
