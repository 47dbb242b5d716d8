// GET /healthz — for the process supervisor, the proxy and uptime checks: the process answers and
// the database answers a trivial query. Never cached, never rate-limited, the same on every host name.
//   200 {"status":"ok"}
//   200 {"status":"degraded","cause":"disk_full","since":"…"}: reads work, writes fail for a storage
//       fault (src/db/faults.ts); writes answer 503 + Retry-After. Ends by itself at the next
//       successful write (or a minute without a new fault). 200 so that the proxy keeps sending the
//       reads it can still serve; monitors should alert on the body (docs/operations.md).
//   503 {"status":"unavailable","cause":…}: the database cannot even be read.
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { storageFaultKind } from '../db/faults.ts';
import { noStore } from './http.ts';

export const HEALTH_PATH = '/healthz';

export function healthRoutes(ctx: Pick<AppContext, 'db' | 'log'> & Partial<Pick<AppContext, 'storage'>>): Router {
  const router = Router();
  router.get(HEALTH_PATH, noStore, (_req, res) => {
    try {
      ctx.db.prepare('SELECT 1').get();
    } catch (err) {
      const cause = storageFaultKind(err);
      ctx.log.error({ err, cause }, 'health check failed: database unavailable');
      res.status(503).json(cause === undefined ? { status: 'unavailable' } : { status: 'unavailable', cause });
      return;
    }
    const degraded = ctx.storage?.current();
    if (degraded) res.json({ status: 'degraded', cause: degraded.cause, since: degraded.since });
    else res.json({ status: 'ok' });
  });
  return router;
}
