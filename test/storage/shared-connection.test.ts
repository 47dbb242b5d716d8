// The app's SQLite store is over the context's own connection (src/context.ts), which
// src/db/instrument.ts instruments: a store transaction is one timed write for the metrics and the
// storage health. (Every caller now goes through the store: no raw write shares the connection.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({}, { listen: false });
});
afterAll(async () => {
  await app?.close();
});

describe('the context store over the context connection', () => {
  it('a store transaction is one observed write (robot_auth_db_write_duration_seconds), as db.transaction is', async () => {
    const count = async () => {
      const metric = await app.ctx.metrics.registry.getSingleMetric('robot_auth_db_write_duration_seconds')?.get();
      return metric?.values.find((v) => (v as { metricName?: string }).metricName === 'robot_auth_db_write_duration_seconds_count')?.value ?? 0;
    };
    const before = await count();
    await app.ctx.store.transaction(async (tx) => {
      await tx.revokedAccessTokens.add('one', 4_000_000_000);
      await tx.revokedAccessTokens.add('two', 4_000_000_000);
      await tx.revokedAccessTokens.add('three', 4_000_000_000);
    });
    expect(await count()).toBe(before + 1);
  });
});
