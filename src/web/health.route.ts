// GET /healthz — for the process supervisor, the proxy and uptime checks: the process answers and
// the database answers a trivial query. Never cached, never rate-limited, the same on every host name.
// Caddy's active health checks use it to take an instance out of the rotation (docs/caddy.md,
// "Several instances"): it must answer fast and say 503 only when this instance cannot serve.
//   200 {"status":"ok","database":"ok"}
//   200 {"status":"degraded","database":"ok","cause":"disk_full","since":"…"}: reads work, writes fail
//       for a storage fault (src/db/faults.ts); writes answer 503 + Retry-After. Ends by itself at the
//       next successful write (or a minute without a new fault). 200 so that the proxy keeps sending the
//       reads it can still serve; monitors should alert on the body (docs/operations.md).
//   503 {"status":"unavailable","database":"unreachable","cause"?:…}: the database cannot even be read
//       (or, for a networked store, did not answer within DATABASE_PROBE_TIMEOUT_MS).
// The database check is one function (`DatabaseProbe`): by default the store's `ping()`
// (src/storage/store.ts): `SELECT 1` on SQLite's connection (queued behind an open transaction, like
// every store call), or through the PostgreSQL pool.
import { Router } from 'express';
import type { AppContext } from '../context.ts';
import { storageFaultKind } from '../db/faults.ts';
import { noStore } from './http.ts';

export const HEALTH_PATH = '/healthz';
/** A networked database that has not answered by then counts as unreachable (Caddy's health_timeout is longer). */
export const DATABASE_PROBE_TIMEOUT_MS = 2000;

/** Resolves when the database answers a trivial query; throws (or rejects) when it does not. */
export type DatabaseProbe = () => void | Promise<void>;

/** Any pool with `query`: `SELECT 1` through it (the PostgreSQL store's ping does the same). */
export function poolProbe(pool: { query(sql: string): Promise<unknown> }): DatabaseProbe {
  return async () => {
    await pool.query('SELECT 1');
  };
}

class ProbeTimeout extends Error {
  constructor() {
    super(`the database did not answer within ${DATABASE_PROBE_TIMEOUT_MS} ms`);
  }
}

async function probeWithin(probe: DatabaseProbe, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(probe),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ProbeTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes(
  ctx: Pick<AppContext, 'store' | 'log'> & Partial<Pick<AppContext, 'storage'>>,
  probe: DatabaseProbe = () => ctx.store.ping(),
): Router {
  const router = Router();
  router.get(HEALTH_PATH, noStore, async (_req, res) => {
    try {
      await probeWithin(probe, DATABASE_PROBE_TIMEOUT_MS);
    } catch (err) {
      const cause = err instanceof ProbeTimeout ? 'timeout' : storageFaultKind(err);
      ctx.log.error({ err, cause }, 'health check failed: database unreachable; this instance answers 503 until it answers again (check the database server, its disk and the network to it)');
      res.status(503).json(cause === undefined ? { status: 'unavailable', database: 'unreachable' } : { status: 'unavailable', database: 'unreachable', cause });
      return;
    }
    const degraded = ctx.storage?.current();
    if (degraded) res.json({ status: 'degraded', database: 'ok', cause: degraded.cause, since: degraded.since });
    else res.json({ status: 'ok', database: 'ok' });
  });
  return router;
}
