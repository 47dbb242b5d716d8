// The app's security headers (helmet). Server-rendered pages with no scripts at all. No
// form-action: Chrome applies it to the redirect after a form post, which must be free to go to a
// PDS or an OAuth client. HSTS only in production (https).
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export function securityHeaders(production: boolean): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: production ? { maxAge: 31536000, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    frameguard: { action: 'deny' },
    crossOriginResourcePolicy: { policy: 'same-site' },
  });
}
