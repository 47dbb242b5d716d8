// Discovery: AS metadata (RFC 8414; also at the OpenID path, which some MCP SDKs try second) and
// the platform's public signing keys. Public, cacheable, readable cross-origin, never a 5xx.
import { Router, type Request, type Response } from 'express';
import type { AppContext } from '../../context.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { metadataCors } from '../../resource/cors.ts';
import { discoveryRateLimit, precomputeJson, sendJson, type PrecomputedJson } from '../../web/http.ts';
import type { DiscoveryLimit } from '../../web/rate-limits.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { authorizationServerMetadata } from './as-metadata.ts';
import { jwksCacheControl } from '../../config/jwks-cache.ts';

/** `limit`: the discovery budget, passed in when app.ts shares it with the light path (src/web/machine-endpoints.ts). */
export function metadataRoutes(ctx: AppContext, limit: DiscoveryLimit = discoveryRateLimit('discovery', ctx.config.rateLimits.discoveryPerMinute, ctx.config)): Router {
  const router = Router();
  // Serialised once (the JWKS again after a key reload, which replaces publicJwks).
  const metadata = precomputeJson(authorizationServerMetadata(ctx.config));
  let jwks: { source: unknown; doc: PrecomputedJson } | undefined;
  const jwksDoc = (): PrecomputedJson => {
    const source = ctx.platformKeys.publicJwks;
    if (jwks?.source !== source) jwks = { source, doc: precomputeJson(source) };
    return jwks.doc;
  };
  // Any origin may read them (Access-Control-Allow-Origin: *, no credentials).
  const discovery = [apiResponses, metadataCors, limit];
  const serveMetadata = [
    ...discovery,
    (_req: Request, res: Response) => {
      res.setHeader('Cache-Control', 'public, max-age=300');
      sendJson(res, metadata);
    },
  ];
  router.get('/.well-known/oauth-authorization-server', ...serveMetadata);
  router.get('/.well-known/openid-configuration', ...serveMetadata);
  router.get(OAUTH_PATHS.jwks, ...discovery, (_req, res) => {
    res.setHeader('Cache-Control', jwksCacheControl(ctx.config));
    sendJson(res, jwksDoc());
  });
  // RFC 8615: well-known URIs are read by programs. Anything else there (another method, a PRM the
  // issuer does not have, a path-suffixed variant) falls through to a JSON 404, never an HTML page.
  router.use('/.well-known', apiResponses);
  return router;
}
