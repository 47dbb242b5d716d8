// Bench child for the memory figure: RSS after N token issuances. The refresh grant function
// (refreshAccessToken, what POST /token runs after parsing and client authentication) is called
// directly, in-process, on the app's real context and database: no HTTP, so the figure is the
// token machinery's (signing, SQLite, rotation), not sockets'. CHAINS refresh families run side by
// side; each request presents the refresh token the previous one returned (every token is used once).
// Run with --expose-gc. Environment: BENCH_DATABASE_FILE, DATA_DIR, BENCH_SCALE, BENCH_ISSUANCES,
// BENCH_CHAINS, and the app's configuration.
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { refreshAccessToken } from '../../src/oauth/token/grants/refresh-token.ts';
import { readTokenParams } from '../../src/oauth/token/token-params.ts';
import { requireEnv } from './child-util.ts';
import { createPools } from './pools.ts';
import type { Scale } from './seed.ts';

export interface MemoryReport {
  method: 'refreshAccessToken called directly (in-process, no HTTP)';
  issuances: number;
  chains: number;
  seconds: number;
  issuancesPerSecond: number;
  /** Bytes. */
  rssBefore: number;
  rssAfter: number;
  rssAfterGc: number;
  rssPeak: number;
  heapUsedBefore: number;
  heapUsedAfterGc: number;
  /** V8 heap committed after GC (part of RSS even when little of it is used). */
  heapTotalAfterGc: number;
  /** Bytes held outside the JS heap (Buffers, ArrayBuffers) after GC. */
  externalAfterGc: number;
  /** RSS (bytes) after each tenth of the issuances: a plateau is an allocator high-water mark, a slope a leak. */
  rssTimeline: number[];
  /** refresh_tokens rows afterwards (each issuance adds one; rotated ones stay until their own expiry). */
  refreshTokenRows: number;
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with --expose-gc');
  collect();
  collect();
}

async function main(): Promise<void> {
  const scale = JSON.parse(requireEnv('BENCH_SCALE')) as Scale;
  const issuances = Number(requireEnv('BENCH_ISSUANCES'));
  const chains = Number(requireEnv('BENCH_CHAINS'));
  const config = parseConfig({ ...process.env, DATABASE_FILE: requireEnv('BENCH_DATABASE_FILE') });
  const ctx = await createContext(config);
  const starts = createPools(ctx, scale).refreshPool(chains).map((body) => new URLSearchParams(body));

  const clients = await Promise.all(
    starts.map(async (p) => {
      const client = await ctx.store.repos.clients.find(p.get('client_id') ?? '');
      if (!client) throw new Error('seeded client missing');
      return client;
    }),
  );

  let rssPeak = 0;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss());
  }, 50);

  gc();
  const before = process.memoryUsage();
  const started = performance.now();
  let issued = 0;
  const rssTimeline: number[] = [];
  const step = Math.max(1, Math.floor(issuances / 10));
  await Promise.all(
    starts.map(async (start, i) => {
      const client = clients[i];
      if (!client) throw new Error('no client');
      let token = start.get('refresh_token') ?? '';
      while (issued < issuances) {
        issued++;
        if (issued % step === 0) rssTimeline.push(process.memoryUsage.rss());
        const body = { grant_type: 'refresh_token', refresh_token: token, client_id: client.clientId, resource: start.get('resource') ?? '' };
        const response = await refreshAccessToken(ctx, client, readTokenParams(body, 'application/x-www-form-urlencoded'));
        token = response.refresh_token;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = process.memoryUsage();
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, after.rss);
  gc();
  const afterGc = process.memoryUsage();
  const rows = ctx.sqlite!.db.prepare('SELECT count(*) AS n FROM refresh_tokens').get() as { n: number };
  const report: MemoryReport = {
    method: 'refreshAccessToken called directly (in-process, no HTTP)',
    issuances: issued,
    chains,
    seconds,
    issuancesPerSecond: issued / seconds,
    rssBefore: before.rss,
    rssAfter: after.rss,
    rssAfterGc: afterGc.rss,
    rssPeak,
    heapUsedBefore: before.heapUsed,
    heapUsedAfterGc: afterGc.heapUsed,
    heapTotalAfterGc: afterGc.heapTotal,
    externalAfterGc: afterGc.external,
    rssTimeline,
    refreshTokenRows: rows.n,
  };
  ctx.close();
  // Exit once the report is on its way.
  process.send?.({ type: 'memory-report', report }, undefined, {}, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
