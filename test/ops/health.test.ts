// GET /healthz: 200 {"status":"ok"} while the database answers, 503 {"status":"unavailable"} when it
// does not; never cached, on any host name.
import express from 'express';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { healthRoutes } from '../../src/web/health.route.ts';
import { createLogger } from '../../src/web/log.ts';
import { tempData, type TempData } from '../support/seed.ts';

let t: TempData;
let app: express.Express;
beforeEach(() => {
  t = tempData();
  app = express().use(healthRoutes({ db: t.db, log: createLogger('silent') }));
});
afterEach(() => t.cleanup());

describe('/healthz', () => {
  it('answers 200 ok, uncached, when the database answers', async () => {
    const res = await request(app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
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
    expect(res.body).toEqual({ status: 'unavailable' });
    expect(res.headers['cache-control']).toBe('no-store');
  });
});
