// While callers move to the store (issue 12), the app's SQLite store and the synchronous
// repositories share one connection (src/context.ts; src/storage/sqlite/sqlite-store.ts says why
// that is safe). These pin the two facts that argument rests on, on the context the app builds:
// a raw write that lands inside an open store transaction commits with it, and the store
// transaction is one timed write for the metrics and storage health (src/db/instrument.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({}, { listen: false });
});
afterAll(async () => {
  await app?.close();
});

const rows = (table: string) => (app.ctx.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;

describe('the context store over the context connection', () => {
  it('is SQLite over the same connection: a row written through one is read through the other', async () => {
    expect(app.ctx.store.dialect).toBe('sqlite');
    const value = await app.ctx.store.repos.tickets.issue('signup', 'did:plc:shared', { n: 1 }, 600);
    expect(app.ctx.tickets.peek('signup', value)).toBeDefined();
  });

  it('a raw write that runs while a store transaction is open commits with it', async () => {
    const before = rows('revoked_access_tokens');
    await app.ctx.store.transaction(async (tx) => {
      await tx.revokedAccessTokens.add('store-jti', 4_000_000_000);
      // Another request's continuation, between two awaits of this transaction, writing through the raw repositories.
      await new Promise<void>((resolve) =>
        queueMicrotask(() => {
          app.ctx.revokedAccessTokens.add('raw-jti', 4_000_000_000);
          resolve();
        }),
      );
      expect(app.ctx.db.inTransaction).toBe(true);
      await tx.revokedAccessTokens.isRevoked('store-jti');
    });
    expect(app.ctx.db.inTransaction).toBe(false);
    expect(rows('revoked_access_tokens')).toBe(before + 2);
    expect(app.ctx.revokedAccessTokens.isRevoked('raw-jti')).toBe(true);
  });

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
