// GET /healthz: 200 {"status":"ok","database":"ok"} while the database answers, 503
// {"status":"unavailable","database":"unreachable"} when it does not; never cached, on any host name.
// The database check is one function (DatabaseProbe): a networked store's (PostgreSQL) goes through the
// same path, including one that hangs (Caddy's active health check must see a 503, not a stalled request).
import express from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import type { Store } from '../../src/storage/store.ts';
import { DATABASE_PROBE_TIMEOUT_MS, healthRoutes } from '../../src/web/health.route.ts';
import { createLogger } from '../../src/web/log.ts';
import { tempData, type TempData } from '../support/seed.ts';

let t: TempData;
let store: Store;
let app: express.Express;
beforeEach(() => {
  t = tempData();
  // The app's store over the same connection: its ping() is the default probe.
  store = createSqliteStore(t.db, { closeDatabase: false });
  app = express().use(healthRoutes({ store, log: createLogger('silent') }));
});
afterEach(() => t.cleanup());

describe('/healthz', () => {
  it('answers 200 ok, uncached, when the database answers', async () => {
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', database: 'ok' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers on a wiki host name and to HEAD too', async () => {
    expect((await request(app).get('/healthz').set('Host', 'alice.localhost:3000')).status).toBe(200);
    expect((await request(app).head('/healthz')).status).toBe(200);
  });

  it('answers 503 unavailable when the database is gone', async () => {
    t.db.close();
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', database: 'unreachable' });
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('reports a store whose probe rejects as unreachable (503), and one that answers as ok', async () => {
    const down = express().use(healthRoutes({ store, log: createLogger('silent') }, async () => Promise.reject(new Error('ECONNREFUSED'))));
    const res = await request(down).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', database: 'unreachable' });
    const up = express().use(healthRoutes({ store, log: createLogger('silent') }, async () => undefined));
    expect((await request(up).get('/healthz')).body).toEqual({ status: 'ok', database: 'ok' });
  });

  it('answers 503 (cause timeout) within the probe timeout when the database hangs', async () => {
    const hung = express().use(healthRoutes({ store, log: createLogger('silent') }, () => new Promise<void>(() => {})));
    const started = Date.now();
    const res = await request(hung).get('/healthz');
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ status: 'unavailable', database: 'unreachable', cause: 'timeout' });
    expect(Date.now() - started).toBeLessThan(DATABASE_PROBE_TIMEOUT_MS + 1000);
  });
});
