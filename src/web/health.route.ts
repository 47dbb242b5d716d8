// GET /healthz — for the process supervisor, the proxy and uptime checks: the process answers and
// the database answers a trivial query. 200 {"status":"ok"} or 503 {"status":"unavailable"}; never
// cached, never rate-limited, the same on every host name.
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { noStore } from './http.ts';

export const HEALTH_PATH = '/healthz';

export function healthRoutes(ctx: Pick<AppContext, 'db' | 'log'>): Router {
  const router = Router();
  router.get(HEALTH_PATH, noStore, (_req, res) => {
    try {
      ctx.db.prepare('SELECT 1').get();
      res.json({ status: 'ok' });
    } catch (err) {
      ctx.log.error({ err }, 'health check failed: database unavailable');
      res.status(503).json({ status: 'unavailable' });
    }
  });
  return router;
}
