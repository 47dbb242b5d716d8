// Bench child: the real app (createApp, exactly as server.ts builds it) on a seeded database, and a
// bare Express app with one route per shape of response, both on 127.0.0.1. It answers the runner's
// IPC requests: fresh refresh tokens and codes (inserted here, values handed back), access tokens,
// and the signing baselines measured on this process's core while no load runs.
// Environment: BENCH_DATABASE_FILE, DATA_DIR, BENCH_SCALE (JSON), plus the app's own configuration
// (LOG_LEVEL, RATE_LIMIT_*_PER_MINUTE, DATABASE_URL, ...), read with parseConfig like the real server.
// BENCH_STORE=postgres (with DATABASE_URL, seeded by the runner: postgres.ts): the app serves from
// PostgreSQL, the pools go into it, and the write baseline commits there.
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import express from 'express';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext, type AppContext } from '../../src/context.ts';
import { startCheckpointer } from '../../src/db/checkpoints.ts';
import { nowSeconds, openDatabase } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { randomToken, sha256Hex } from '../../src/lib/secrets.ts';
import { authorizationServerMetadata } from '../../src/oauth/metadata/as-metadata.ts';
import { signAccessToken } from '../../src/oauth/tokens/access-token.ts';
import { HTTP_SERVER_OPTIONS } from '../../src/web/header-limits.ts';
import { applyServerTimeouts } from '../../src/web/server-timeouts.ts';
import { answerRequests, applyBenchPragmas, listen, requireEnv } from './child-util.ts';
import { accessTokenInput, createPools, createPostgresPools } from './pools.ts';
import type { ChildRequest, LoopBaseline, ReadyMessage, SettleResult } from './protocol.ts';
import { clientId, SCOPE, userDid, userHandle, wikiSlug, type Scale } from './seed.ts';

async function loop(seconds: number, op: () => Promise<unknown>): Promise<LoopBaseline> {
  for (let i = 0; i < 50; i++) await op(); // warm-up
  const started = performance.now();
  const until = started + seconds * 1000;
  let ops = 0;
  while (performance.now() < until) {
    await op();
    ops++;
  }
  const elapsed = (performance.now() - started) / 1000;
  return { ops, seconds: elapsed, opsPerSecond: ops / elapsed, meanMs: (elapsed * 1000) / ops };
}

/** The bare Express app: the same response shapes with nothing behind them. */
async function bareApp(ctx: AppContext, scale: Scale): Promise<express.Express> {
  const sample = await signAccessToken({ config: ctx.config, keys: ctx.platformKeys }, accessTokenInput(scale, 0));
  const tokenResponse = {
    access_token: sample.token,
    token_type: 'Bearer',
    expires_in: sample.expiresIn,
    refresh_token: randomToken(32),
    scope: SCOPE,
  };
  const who = { did: userDid(0), handle: userHandle(0), wiki: wikiSlug(0), scopes: SCOPE.split(' ') };
  const authHeaders = {
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'X-Auth-Did': who.did,
    'X-Auth-Handle': who.handle,
    'X-Auth-Wiki': who.wiki,
    'X-Auth-Scopes': SCOPE,
    'X-Auth-Client-Id': clientId(0),
  };
  const whoamiResult = { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
  const metadata = authorizationServerMetadata(ctx.config);

  const app = express();
  app.disable('x-powered-by');
  app.post('/bare/token', express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 30 }), (_req, res) => {
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json(tokenResponse);
  });
  app.all('/bare/verify', (_req, res) => {
    res.status(200).set(authHeaders).end();
  });
  app.post('/bare/mcp', express.json({ limit: '1mb' }), (req, res) => {
    const id = (req.body as { id?: unknown }).id ?? null;
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({ result: whoamiResult, jsonrpc: '2.0', id });
  });
  app.get('/bare/json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(metadata);
  });
  return app;
}

async function main(): Promise<void> {
  const scale = JSON.parse(requireEnv('BENCH_SCALE')) as Scale;
  const config = parseConfig({ ...process.env, DATABASE_FILE: requireEnv('BENCH_DATABASE_FILE') });
  const ctx = await createContext(config);
  applyBenchPragmas(ctx.sqlite);
  const postgres = process.env.BENCH_STORE === 'postgres';
  if (postgres && ctx.store.dialect !== 'postgres') throw new Error(`BENCH_STORE=postgres: the app serves from ${ctx.store.dialect} (is DATABASE_URL set?)`);
  // As server.ts runs it: WAL checkpoints in their worker (SQLite only), the same server options and
  // timeouts. BENCH_CHECKPOINTS=sqlite leaves SQLite's automatic checkpoints in the commits (A/B only).
  if (ctx.sqlite && process.env.BENCH_CHECKPOINTS !== 'sqlite') startCheckpointer(ctx.sqlite.db, ctx.sqlite.file, ctx.log);
  // The bench's own connection to PostgreSQL (pools, write baseline): not the app's pool.
  const benchPg = postgres && config.databaseUrl !== undefined ? createPool({ url: config.databaseUrl, poolSize: 1, applicationName: 'robot-auth-bench' }) : undefined;
  const pools = benchPg ? createPostgresPools(benchPg, ctx, scale) : createPools(ctx, scale);

  const appServer = http.createServer(HTTP_SERVER_OPTIONS, createApp(ctx));
  applyServerTimeouts(appServer);
  const bareServer = http.createServer(await bareApp(ctx, scale));
  applyServerTimeouts(bareServer);
  const appPort = await listen(appServer);
  const barePort = await listen(bareServer);

  // The "one write transaction" of the refresh baseline: on SQLite a scratch file with the app's
  // pragmas; on PostgreSQL a scratch table in the app's database (one autocommit INSERT, WAL-logged
  // like the app's tables, so its commit waits for the WAL flush as theirs do).
  const scratch = openDatabase(path.join(config.dataDir, 'scratch.sqlite'));
  scratch.exec('CREATE TABLE IF NOT EXISTS scratch (hash TEXT PRIMARY KEY, grant_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) STRICT');
  const scratchInsert = scratch.prepare('INSERT INTO scratch (hash, grant_id, created_at, expires_at) VALUES (?, ?, ?, ?)');
  const scratchWrite = scratch.transaction((hash: string) => {
    const now = nowSeconds();
    scratchInsert.run(hash, 'grant', now, now + 3600);
  });
  if (benchPg) await benchPg.query('CREATE TABLE IF NOT EXISTS bench_scratch (hash text PRIMARY KEY, grant_id text NOT NULL, created_at bigint NOT NULL, expires_at bigint NOT NULL)');
  const write = async (hash: string): Promise<void> => {
    if (!benchPg) return void scratchWrite.immediate(hash);
    const now = nowSeconds();
    await benchPg.query({ name: 'bench-scratch', text: 'INSERT INTO bench_scratch (hash, grant_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', values: [hash, 'grant', now, now + 3600] });
  };
  const signInput = accessTokenInput(scale, 0);
  const sign = async () => signAccessToken({ config: ctx.config, keys: ctx.platformKeys }, signInput);
  /** Outermost SQLite writes the app made (src/db/instrument.ts's histogram count). */
  const sqliteWrites = async (): Promise<number> => {
    const metric = await ctx.metrics.registry.getSingleMetric('robot_auth_db_write_duration_seconds')?.get();
    return metric?.values.find((v) => (v as { metricName?: string }).metricName === 'robot_auth_db_write_duration_seconds_count')?.value ?? 0;
  };

  let profiler: Session | undefined;

  const handle = async (msg: ChildRequest): Promise<unknown> => {
    switch (msg.type) {
      case 'refresh-pool':
        return pools.refreshPool(msg.count);
      case 'code-pool':
        return pools.codePool(msg.count);
      case 'access-tokens':
        return pools.accessTokens(msg.count);
      case 'sign-baseline':
        return loop(msg.seconds, sign);
      case 'sign-write-baseline':
        return loop(msg.seconds, async () => {
          await sign();
          await write(sha256Hex(randomToken(32)));
        });
      case 'memory':
        return process.memoryUsage();
      case 'sqlite-writes':
        return sqliteWrites();
      case 'settle': {
        // Between runs nothing is in flight: the app's connection is idle.
        if (!ctx.sqlite) return null satisfies SettleResult;
        // RESTART, not TRUNCATE: every frame copied and the next commit starts the WAL over, in the
        // file as it is (as in steady service; a truncated file would be grown again by the run).
        // A pass of the checkpoint worker makes this one return busy at once (busy_timeout does not
        // wait for the checkpoint lock): try again for up to 5 s.
        const start = performance.now();
        let row: { busy: number; log: number; checkpointed: number } | undefined;
        for (;;) {
          [row] = ctx.sqlite.db.pragma('wal_checkpoint(RESTART)') as (typeof row & object)[];
          if (row?.busy !== 1 || performance.now() - start > 5000) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        return { ms: performance.now() - start, frames: row?.checkpointed ?? 0, busy: row?.busy === 1 } satisfies SettleResult;
      }
      case 'profile-start':
        profiler = new Session();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
        await profiler.post('Profiler.start');
        return true;
      case 'profile-stop': {
        if (!profiler) throw new Error('no profile running');
        const { profile } = await profiler.post('Profiler.stop');
        profiler.disconnect();
        profiler = undefined;
        fs.mkdirSync(path.dirname(msg.file), { recursive: true });
        fs.writeFileSync(msg.file, JSON.stringify(profile));
        return msg.file;
      }
      case 'exit':
        appServer.closeAllConnections();
        bareServer.closeAllConnections();
        appServer.close();
        bareServer.close();
        scratch.close();
        await benchPg?.end();
        await ctx.close();
        // Let the reply go out, then leave (a --cpu-prof profile is written on exit).
        setImmediate(() => process.exit(0));
        return true;
    }
  };

  answerRequests(handle);
  process.send?.({ type: 'ready', appPort, barePort, store: ctx.store.dialect } satisfies ReadyMessage);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
