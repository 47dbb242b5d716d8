// CPU per request of the edge cases over real loopback sockets, split into user and kernel time: the
// real app (createApp, as server.ts builds it, with the unit's NODE_OPTIONS/MALLOC_ARENA_MAX) and the
// bench's bare routes in one child pinned to CPU 1, autocannon on CPU 0, c=1 / 16 / 64. Kernel time
// and the per-request syscalls are what edge-inproc.ts (no socket) cannot show; `--strace` counts
// the child's syscalls per request (strace -c -f, slower: only the counts are worth reading).
//   node scripts/bench/edge-socket.ts [--only as-metadata,prm] [--conc 1,16,64] [--seconds 3] [--strace]
// Environment for the child (A/B of a setting): anything the app's config reads, e.g. LOG_LEVEL=warn,
// and BENCH_PRAGMA='cache_size=-4000' (pragmas run on the app's connection; several: ';').
// EDGE_REFRESH_POOL: the single-use refresh tokens made for the `refresh` case (default 40,000).
// EDGE_NODE_ARGS: node flags for the child that NODE_OPTIONS refuses (e.g. --trace-gc); EDGE_STDOUT=1
// shows the child's stdout (its request log unless LOG_LEVEL=warn, and what those flags print).
// Each run prints req/s, p50, p99 and the slowest (ms, 2xx answers) and the child's CPU per request.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { RequestSpec } from 'autocannon';
import express from 'express';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { startCheckpointer } from '../../src/db/checkpoints.ts';
import { authorizationServerMetadata } from '../../src/oauth/metadata/as-metadata.ts';
import { HTTP_SERVER_OPTIONS } from '../../src/web/header-limits.ts';
import { applyServerTimeouts } from '../../src/web/server-timeouts.ts';
import { applyBenchPragmas, listen } from './child-util.ts';
import { runLoad } from './load.ts';
import { createPools } from './pools.ts';
import { APEX_HOST, buildDatabase, SCOPE, SMALL } from './seed.ts';
import { unitEnvironment } from './unit-env.ts';

const TICKS = 100;

interface Ready {
  appPort: number;
  barePort: number;
  tokens: { token: string; host: string }[];
  /** Form bodies of single-use refresh tokens (the `refresh` case; it stops once they are spent). */
  refreshBodies: string[];
}

async function serve(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-socket-'));
  const file = path.join(dir, 'bench.sqlite');
  buildDatabase(file, SMALL);
  const unlimited = '1000000000';
  const config = parseConfig({
    LOG_LEVEL: 'info',
    ...process.env,
    DATA_DIR: dir,
    DATABASE_FILE: file,
    RATE_LIMIT_DISCOVERY_PER_MINUTE: unlimited,
    RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: unlimited,
    RATE_LIMIT_TOKEN_PER_MINUTE: unlimited,
    RATE_LIMIT_CLIENT_PER_MINUTE: unlimited,
    RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: unlimited,
  });
  const ctx = await createContext(config);
  applyBenchPragmas(ctx.sqlite);
  if (process.env.BENCH_CHECKPOINTS !== 'off') startCheckpointer(ctx.sqlite!.db, config.databaseFile, ctx.log);
  const pools = createPools(ctx, SMALL);
  const tokens = await pools.accessTokens(200);
  const refreshBodies = await pools.refreshPool(Number(process.env.EDGE_REFRESH_POOL ?? '40000'));
  // The pools' writes copied now, not during the first run: the checkpoint worker's copy of them
  // (~1 page per request of the first case, strace) was charged to that case's CPU and syscalls.
  ctx.sqlite!.db.pragma('wal_checkpoint(TRUNCATE)');
  const appServer = http.createServer(HTTP_SERVER_OPTIONS, createApp(ctx));
  applyServerTimeouts(appServer);
  const bare = express();
  bare.disable('x-powered-by');
  const authHeaders = { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'X-Auth-Did': 'did:plc:x', 'X-Auth-Handle': 'h', 'X-Auth-Wiki': 'w0', 'X-Auth-Scopes': SCOPE, 'X-Auth-Client-Id': 'c' };
  bare.all('/bare/verify', (_req, res) => {
    res.status(200).set(authHeaders).end();
  });
  const metadata = authorizationServerMetadata(config);
  bare.get('/bare/json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(metadata);
  });
  const bareServer = http.createServer(bare);
  applyServerTimeouts(bareServer);
  const ready: Ready = { appPort: await listen(appServer), barePort: await listen(bareServer), tokens, refreshBodies };
  process.send?.(ready);
  process.on('disconnect', () => {
    ctx.close();
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
}

/** CPU ticks and context switches of every thread of `pid` (a thread that ended meanwhile is lost: fine for deltas over a run). */
function cpuTicks(pid: number): { user: number; system: number; switches: number } {
  let user = 0;
  let system = 0;
  let switches = 0;
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(fields[11]);
      system += Number(fields[12]);
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)$/gm)) switches += Number(m[1]);
    } catch {
      // The thread ended.
    }
  }
  return { user, system, switches };
}

async function main(): Promise<void> {
  if (process.argv[2] === 'serve') return serve();
  const { values: flags } = parseArgs({
    options: {
      only: { type: 'string' },
      conc: { type: 'string', default: '1,16,64' },
      seconds: { type: 'string', default: '3' },
      strace: { type: 'boolean', default: false },
      'strace-log': { type: 'string' },
      perf: { type: 'string' },
    },
  });
  try {
    execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    // No taskset: unpinned.
  }
  const script = fileURLToPath(import.meta.url);
  const { NODE_COMPILE_CACHE: _cache, ...unit } = unitEnvironment(); // the bench's warmed cache is run.ts's business
  const nodeArgs = (process.env.EDGE_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
  const child = spawn('taskset', ['-c', '1', process.execPath, ...nodeArgs, script, 'serve'], {
    stdio: ['ignore', process.env.EDGE_STDOUT === '1' ? 'inherit' : 'ignore', 'inherit', 'ipc'],
    env: { ...process.env, ...unit, ...(flags.perf ? { NODE_OPTIONS: `${unit.NODE_OPTIONS ?? ''} --perf-basic-prof-only-functions`.trim() } : {}) },
  });
  const ready = await new Promise<Ready>((resolve) => child.once('message', (m) => resolve(m as Ready)));
  const pid = child.pid!; // taskset execs node in place
  const t = ready.tokens;
  let next = 0;
  const verify: RequestSpec = {
    method: 'GET',
    path: '/auth/verify',
    setupRequest: (r) => {
      const k = t[next++ % t.length]!;
      return { ...r, headers: { host: k.host, 'x-forwarded-host': k.host, authorization: `Bearer ${k.token}` } };
    },
  };
  let nextRefresh = 0;
  const refresh: RequestSpec = {
    method: 'POST',
    path: '/auth/oauth/token',
    headers: { host: APEX_HOST, 'content-type': 'application/x-www-form-urlencoded' },
    setupRequest: (r) => ({ ...r, body: ready.refreshBodies[nextRefresh++] ?? 'grant_type=refresh_token&refresh_token=pool-exhausted&client_id=none' }),
  };
  const cases: { id: string; port: number; spec: RequestSpec }[] = [
    { id: 'refresh', port: ready.appPort, spec: refresh },
    { id: 'as-metadata', port: ready.appPort, spec: { method: 'GET', path: '/.well-known/oauth-authorization-server', headers: { host: APEX_HOST } } },
    { id: 'prm', port: ready.appPort, spec: { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', headers: { host: t[0]!.host } } },
    { id: 'verify', port: ready.appPort, spec: verify },
    { id: 'bare-json', port: ready.barePort, spec: { method: 'GET', path: '/bare/json' } },
    { id: 'bare-verify', port: ready.barePort, spec: { method: 'GET', path: '/bare/verify' } },
  ];
  const only = flags.only?.split(',');
  const seconds = Number(flags.seconds);
  try {
    for (const c of cases) {
      if (only && !only.includes(c.id)) continue;
      for (const conc of flags.conc.split(',').map(Number)) {
        await runLoad(c.port, [c.spec], conc, 1); // warm-up
        let strace: ReturnType<typeof spawn> | undefined;
        let straceOut = '';
        if (flags.strace) {
          const log = flags['strace-log'];
          strace = spawn('strace', log ? ['-f', '-tt', '-o', `${log}.${c.id}.${conc}`, '-p', String(pid)] : ['-c', '-f', '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
          strace.stderr!.on('data', (d: Buffer) => (straceOut += d.toString()));
          await new Promise((r) => setTimeout(r, 500));
        }
        let perf: ReturnType<typeof spawn> | undefined;
        if (flags.perf) {
          perf = spawn('perf', ['record', '-F', '1999', '-g', '-o', `${flags.perf}.${c.id}.${conc}`, '-p', String(pid)], { stdio: 'ignore' });
          await new Promise((r) => setTimeout(r, 300));
        }
        const before = cpuTicks(pid);
        const r = await runLoad(c.port, [c.spec], conc, seconds);
        const after = cpuTicks(pid);
        if (perf) {
          perf.kill('SIGINT');
          await new Promise((r) => perf!.once('close', r));
        }
        const n = r.ok + r.non2xx;
        const us = (ticks: number) => ((ticks / TICKS) * 1e6) / n;
        console.log(
          `${c.id.padEnd(12)} c=${String(conc).padEnd(3)} ${String(Math.round(r.rps)).padStart(6)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  max ${r.max.toFixed(0).padStart(4)} ms  user ${us(after.user - before.user).toFixed(0).padStart(4)} µs  sys ${us(after.system - before.system).toFixed(0).padStart(4)} µs  switches ${((after.switches - before.switches) / n).toFixed(2)}  non2xx ${r.non2xx}${c.id === 'refresh' && nextRefresh > ready.refreshBodies.length ? ' (the refresh pool ran out: these runs answered 401s; raise EDGE_REFRESH_POOL)' : ''}`,
        );
        if (strace) {
          strace.kill('SIGINT');
          await new Promise((r) => strace!.once('close', r));
          for (const line of straceOut.split('\n')) {
            const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
            if (m && Number(m[1]) / n >= 0.05) console.log(`    ${m[2]!.padEnd(16)} ${(Number(m[1]) / n).toFixed(2)} per request`);
          }
        }
      }
    }
  } finally {
    child.disconnect();
  }
}

await main();
