// The request metric's `group` label: a small fixed set chosen from the path's first characters,
// never the raw path (which would make one series per URL). Cheap: a few startsWith per request.
import type { RequestHandler } from 'express';
import type { Metrics } from './metrics.ts';

const PREFIXES: readonly [string, string][] = [
  ['/auth/oauth/token', 'token'],
  ['/token', 'token'],
  ['/auth/oauth/register', 'register'],
  ['/register', 'register'],
  ['/auth/oauth/revoke', 'revoke'],
  ['/auth/oauth/', 'authorize'],
  ['/authorize', 'authorize'],
  ['/.well-known/', 'metadata'],
  ['/mcp', 'mcp'],
  ['/auth/verify', 'verify'],
  ['/auth/wiki-', 'wiki_session'],
  ['/auth/', 'sign_in'],
  ['/account', 'account'],
  ['/healthz', 'health'],
  ['/static/', 'static'],
  ['/internal/', 'internal'],
];

export function routeGroup(path: string): string {
  for (const [prefix, group] of PREFIXES) if (path.startsWith(prefix)) return group;
  return path === '/' ? 'home' : 'other';
}

/** One histogram observation per response, when it finishes. */
export function requestMetrics(metrics: Pick<Metrics, 'request'>): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      metrics.request(routeGroup(req.path), res.statusCode, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
}
