// Discovery's per-address limit (discoveryRateLimit, on the in-memory Budget) against the
// express-rate-limit middleware it replaced (rateLimit, still used by the other per-address rows),
// side by side: the same RateLimit and RateLimit-Policy headers (test/deploy/caddy.test.ts reads
// the policy's partition key to learn which address the app saw), IPv6 addresses grouped by /56
// as express-rate-limit groups them, the same 429, and trusted networks skipped.
import express from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/env.ts';
import { errorHandler } from '../../src/web/error-handler.ts';
import { createLogger } from '../../src/web/log.ts';
import { discoveryRateLimit, rateLimit } from '../../src/web/rate-limits.ts';

const LIMIT = 3;

function appWith(limiter: express.RequestHandler) {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.get('/x', (req, res, next) => {
    res.locals.api = true;
    next();
  }, limiter, (_req, res) => {
    res.json({ ok: true });
  });
  app.use(errorHandler(createLogger('silent')));
  return app;
}

const config = { rateLimitTrustedNetworks: parseConfig({ RATE_LIMIT_TRUSTED_NETWORKS: '160.79.104.0/21' }).rateLimitTrustedNetworks };

describe('discoveryRateLimit', () => {
  it.each([['IPv4', '198.51.100.7', '198.51.100.7'], ['IPv6 (one /56)', '2001:db8:1:100::1', '2001:db8:1:1ff::2'], ['IPv4-mapped IPv6', '::ffff:198.51.100.8', '198.51.100.8']])(
    'sends what express-rate-limit sent, request after request (%s)',
    async (_kind, first, second) => {
      const ours = appWith(discoveryRateLimit('discovery', LIMIT, config));
      const theirs = appWith(rateLimit('discovery', LIMIT, config));
      for (let i = 0; i <= LIMIT; i++) {
        const ip = i % 2 === 0 ? first : second; // both addresses spend one budget
        const [a, b] = await Promise.all([ours, theirs].map((app) => request(app).get('/x').set('X-Forwarded-For', ip)));
        expect(a!.status).toBe(b!.status);
        expect(a!.headers['ratelimit-policy']).toBe(b!.headers['ratelimit-policy']);
        expect(a!.headers.ratelimit).toBe(b!.headers.ratelimit);
        expect(a!.body).toEqual(b!.body);
        if (i === LIMIT) {
          expect(a!.status).toBe(429);
          expect(a!.headers['retry-after']).toBe(b!.headers['retry-after']);
          expect(a!.body.error).toBe('too_many_requests');
        }
      }
    },
  );

  it('another /56 and another IPv4 address have their own budget', async () => {
    const app = appWith(discoveryRateLimit('discovery', 1, config));
    await request(app).get('/x').set('X-Forwarded-For', '2001:db8:1:100::1').expect(200);
    await request(app).get('/x').set('X-Forwarded-For', '2001:db8:1:100::2').expect(429);
    await request(app).get('/x').set('X-Forwarded-For', '2001:db8:1:200::1').expect(200);
    await request(app).get('/x').set('X-Forwarded-For', '198.51.100.1').expect(200);
    await request(app).get('/x').set('X-Forwarded-For', '198.51.100.2').expect(200);
  });

  it('skips trusted networks entirely (no budget, no headers)', async () => {
    const app = appWith(discoveryRateLimit('discovery', 1, config));
    for (let i = 0; i < 3; i++) {
      const res = await request(app).get('/x').set('X-Forwarded-For', '160.79.104.9').expect(200);
      expect(res.headers.ratelimit).toBeUndefined();
    }
  });
});
