// The precomputed security headers are exactly the ones helmet itself sets, on an ordinary path and
// on the authorization popup's pages (COOP unsafe-none there, issue 10 item 7).
import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../../src/web/security-headers.ts';

function headersOf(res: request.Response): Record<string, string> {
  const skip = new Set(['date', 'connection', 'content-length', 'content-type', 'etag', 'keep-alive', 'x-powered-by']);
  return Object.fromEntries(Object.entries(res.headers).filter(([k]) => !skip.has(k)).map(([k, v]) => [k, String(v)]));
}

function appWith(mw: express.RequestHandler): express.Express {
  const app = express();
  app.use(mw);
  app.use((_req, res) => res.send('ok'));
  return app;
}

describe('securityHeaders', () => {
  it.each([true, false])('production=%s: the same headers as helmet with the same options', async (production) => {
    const ours = appWith(securityHeaders(production));
    // helmet, configured as security-headers.ts documents it.
    const options = {
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], styleSrc: ["'self'"], imgSrc: ["'self'", 'data:'], baseUri: ["'none'"], frameAncestors: ["'none'"] },
      },
      strictTransportSecurity: production ? { maxAge: 31536000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'no-referrer' as const },
      frameguard: { action: 'deny' as const },
      crossOriginResourcePolicy: { policy: 'same-site' as const },
    };
    const plain = appWith(helmet({ ...options, crossOriginOpenerPolicy: { policy: 'same-origin' } }));
    const popup = appWith(helmet({ ...options, crossOriginOpenerPolicy: { policy: 'unsafe-none' } }));

    const page = headersOf(await request(ours).get('/auth/verify'));
    expect(page).toEqual(headersOf(await request(plain).get('/auth/verify')));
    expect(page['cross-origin-opener-policy']).toBe('same-origin');
    expect(page['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(page['x-frame-options']).toBe('DENY');
    expect(page['strict-transport-security'] !== undefined).toBe(production);

    const flow = headersOf(await request(ours).get('/auth/oauth/authorize/'));
    expect(flow).toEqual(headersOf(await request(popup).get('/auth/oauth/authorize/')));
    expect(flow['cross-origin-opener-policy']).toBe('unsafe-none');
  });
});
