// CPU per token request, in process and without a network, for A/B runs of the token endpoint on a
// busy shared machine (where the req/s and even the per-request CPU of `npm run bench` swing with
// other load). The app is built as the bench child builds it (scripts/bench/server.ts: same context,
// createApp, the server's HTTP options, the checkpoint worker); requests are written as raw HTTP/1.1
// bytes into in-memory sockets handed to Node's http server, so each request still goes through
// Node's HTTP parser, every middleware, the handler, the response writer and the request log (to
// stdout: redirect it). The single-use refresh tokens and codes come from the bench pools, made
// before the clock starts. Prints the main thread's CPU time per answer (process.threadCpuUsage:
// what the token path itself costs) and the process's (all threads: + checkpoint worker and GC
// helpers), --rounds times per case, and the median. Per answer it also prints what the round wrote:
// COMMITs (robot_auth_db_write_duration_seconds' count: one per transaction, or per group of
// transactions committed together, src/storage/sqlite/sqlite-store.ts), and from /proc/self/io the
// bytes and write calls of the whole process (WAL frames are 4,120 bytes; the checkpoint worker's
// copies into the database file and the request log to stdout count too).
//   taskset -c 1 node scripts/bench/profile-token.ts [--alg ES256] [--conc 16] [--n 4000] [--rounds 5] [--frames] [--statements] [--db FILE] > /dev/null
// The figures go to stderr. --statements times each SQLite statement (BEGIN, SAVEPOINT and COMMIT
// included) in the last round and prints its wall µs per answer, by SQL text. --profile FILE writes a CPU profile of the last round; --heap-profile FILE
// what the last round allocated (sampled), and prints the KiB per answer by allocation site.
import fs from 'node:fs';
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { startCheckpointer } from '../../src/db/checkpoints.ts';
import { HTTP_SERVER_OPTIONS } from '../../src/web/header-limits.ts';
import { lightPathSwitch } from '../../src/web/light-request.ts';
import { applyBenchPragmas } from './child-util.ts';
import { createPools } from './pools.ts';
import { APEX_HOST, buildDatabase, LARGE, QUICK_LARGE, SMALL, type Scale } from './seed.ts';

const { values: flags } = parseArgs({
  options: {
    alg: { type: 'string', default: 'ES256' },
    conc: { type: 'string', default: '16' },
    n: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '5' },
    cases: { type: 'string', default: 'refresh,authcode' },
    profile: { type: 'string' },
    // What the last round allocates, by allocation site (V8's sampling heap profiler, every 4 KiB on
    // average, objects collected since included): a .heapprofile for DevTools, and the top sites on stderr.
    'heap-profile': { type: 'string' },
    // The token endpoint through Express's router and body parser (the light paths off), for A/B.
    express: { type: 'boolean', default: false },
    // No checkpoints at all (no worker, wal_autocheckpoint = 0): the WAL only grows, and its growth
    // ÷ 4,120 bytes is the frames (pages) written per answer. Slower rounds: for counting, not timing.
    frames: { type: 'boolean', default: false },
    // A copy of this seeded database instead of a small one built here: the bench's large one
    // (bench-results/cache/db-1000000-….sqlite; the scale is read from its name).
    db: { type: 'string' },
    // Wall time of each prepared statement's run/get/all in the last round, per answer, by its SQL.
    statements: { type: 'boolean', default: false },
  },
});
const conc = Number(flags.conc);
const n = Number(flags.n);
const rounds = Number(flags.rounds);
const say = (line: string) => process.stderr.write(`${line}\n`);

/** An in-memory connection: bytes written by the server are dropped; `send` feeds a request in. */
function fakeSocket(): Duplex & { send(bytes: string): void } {
  const socket = new Duplex({
    read() {},
    write(_chunk, _enc, cb) {
      cb();
    },
  }) as Duplex & { send(bytes: string): void; remoteAddress: string; remotePort: number; setTimeout(): void; setNoDelay(): void; setKeepAlive(): void };
  socket.remoteAddress = '127.0.0.1';
  socket.remotePort = 40000;
  socket.setTimeout = () => {};
  socket.setNoDelay = () => {};
  socket.setKeepAlive = () => {};
  // Delivered on a later turn of the event loop, as bytes from a real socket are (the poll phase):
  // pushed at once, every request of a run would be served inside one turn, and whatever Node or
  // the app does once per turn (the request log's buffered writes, setImmediate) would never run.
  socket.send = (bytes) => void setImmediate(() => socket.push(bytes));
  return socket;
}

const request = (body: string) =>
  `POST /auth/oauth/token HTTP/1.1\r\nHost: ${APEX_HOST}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/** The scale of a cached bench database, from its name (db-<grants>-<hash>.sqlite, seed.ts prepareDatabase). */
function scaleOf(file: string): Scale {
  const grants = Number(/db-(\d+)-/.exec(path.basename(file))?.[1]);
  const scale = [SMALL, QUICK_LARGE, LARGE].find((s) => s.grants === grants);
  if (!scale) throw new Error(`--db ${file}: not a bench database of a known scale (db-<grants>-<hash>.sqlite)`);
  return scale;
}

/** Per SQL source: calls and nanoseconds, while `on`. Wraps the methods of better-sqlite3's Statement prototype once. */
const statementTimes = { on: false, bySql: new Map<string, { calls: number; ns: bigint }>() };
function timeStatements(): void {
  // Before the app prepares any statement: src/db/instrument.ts keeps each writer's own `run`.
  const scratch = new Database(':memory:');
  const proto = Object.getPrototypeOf(scratch.prepare('SELECT 1')) as Record<string, unknown>;
  scratch.close();
  for (const method of ['run', 'get', 'all']) {
    const original = proto[method] as (this: Database.Statement, ...args: unknown[]) => unknown;
    proto[method] = function (this: Database.Statement, ...args: unknown[]) {
      if (!statementTimes.on) return original.apply(this, args);
      const t0 = process.hrtime.bigint();
      try {
        return original.apply(this, args);
      } finally {
        // The clock stops before the bookkeeping: only the statement is timed.
        const ns = process.hrtime.bigint() - t0;
        let entry = statementTimes.bySql.get(this.source);
        if (entry === undefined) statementTimes.bySql.set(this.source, (entry = { calls: 0, ns: 0n }));
        entry.calls++;
        entry.ns += ns;
      }
    };
  }
}

function summarizeStatements(answers: number): void {
  const rows = [...statementTimes.bySql].sort((a, b) => Number(b[1].ns - a[1].ns));
  const total = rows.reduce((sum, [, e]) => sum + Number(e.ns), 0);
  const lines = rows.map(([sql, e]) => `  ${(Number(e.ns) / 1000 / answers).toFixed(1).padStart(7)} µs  ${(e.calls / answers).toFixed(3).padStart(6)} calls  ${sql.replace(/\s+/g, ' ').slice(0, 110)}`);
  say(`SQLite statements, wall per answer (last round): ${(total / 1000 / answers).toFixed(1)} µs\n${lines.join('\n')}`);
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-token-'));
  const dbFile = path.join(dir, 'app.sqlite');
  const scale = flags.db ? scaleOf(flags.db) : SMALL;
  if (flags.db) fs.copyFileSync(flags.db, dbFile);
  else buildDatabase(dbFile, scale);
  const unlimited = '1000000000';
  const config = parseConfig({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dir,
    DATABASE_FILE: dbFile,
    LOG_LEVEL: 'info',
    ACCESS_TOKEN_ALG: flags.alg,
    RATE_LIMIT_TOKEN_PER_MINUTE: unlimited,
    RATE_LIMIT_CLIENT_PER_MINUTE: unlimited,
    RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: unlimited,
  });
  if (flags.statements) timeStatements();
  const ctx = await createContext(config);
  applyBenchPragmas(ctx.sqlite); // BENCH_PRAGMA='cache_size=-4000': an A/B of a SQLite setting
  const checkpointer = flags.frames ? undefined : startCheckpointer(ctx.sqlite!.db, config.databaseFile, ctx.log);
  if (flags.frames) ctx.sqlite!.db.pragma('wal_autocheckpoint = 0');
  const pools = createPools(ctx, scale);
  const app = createApp(ctx);
  lightPathSwitch.enabled = !flags.express;
  let onFinish: ((status: number) => void) | undefined;
  const server = http.createServer(HTTP_SERVER_OPTIONS, (req, res) => {
    res.once('finish', () => onFinish?.(res.statusCode));
    app(req, res);
  });
  const sockets = Array.from({ length: conc }, () => {
    const s = fakeSocket();
    server.emit('connection', s);
    return s;
  });

  /** Sends every body, `conc` at a time (one in flight per socket); resolves when all are answered. */
  async function drive(bodies: string[]): Promise<number> {
    let next = 0;
    let done = 0;
    let failed = 0;
    return new Promise((resolve) => {
      const queue: Duplex[] = [];
      const sendNext = (s: Duplex & { send(b: string): void }) => {
        const body = bodies[next++];
        if (body !== undefined) {
          queue.push(s);
          s.send(request(body));
        }
      };
      onFinish = (status) => {
        if (status !== 200) failed++;
        const s = queue.shift() as Duplex & { send(b: string): void };
        if (++done === bodies.length) resolve(failed);
        else sendNext(s);
      };
      for (const s of sockets) sendNext(s);
    });
  }

  /** COMMITs so far, the process's written bytes and write calls, and its read calls (Linux /proc/self/io). */
  async function writes(): Promise<{ commits: number; bytes: number; calls: number; reads: number; frames: number }> {
    const metric = await ctx.metrics.registry.getSingleMetric('robot_auth_db_write_duration_seconds')?.get();
    const commits = metric?.values.find((v) => (v as { metricName?: string }).metricName === 'robot_auth_db_write_duration_seconds_count')?.value ?? 0;
    const io = fs.readFileSync('/proc/self/io', 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    const wal = fs.statSync(`${dbFile}-wal`, { throwIfNoEntry: false })?.size ?? 0;
    return { commits, bytes: field('wchar'), calls: field('syscw'), reads: field('syscr'), frames: wal / 4120 };
  }

  const cases = flags.cases.split(',');
  const pool = (id: string, count: number) => (id === 'refresh' ? pools.refreshPool(count) : pools.codePool(count));
  for (const id of cases) await drive(pool(id, 500)); // warm-up
  const results = new Map<string, { thread: number[]; all: number[] }>(cases.map((id) => [id, { thread: [], all: [] }]));
  let profiler: Session | undefined;
  let heap: Session | undefined;
  for (let round = 0; round < rounds; round++) {
    // Every case's single-use tokens are made before the clock (and the profilers) start.
    const roundBodies = new Map(cases.map((id) => [id, pool(id, n)]));
    if (flags['heap-profile'] && round === rounds - 1) {
      heap = new Session();
      heap.connect();
      await heap.post('HeapProfiler.enable');
      await heap.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    if (flags.statements && round === rounds - 1) statementTimes.on = true;
    if (flags.profile && round === rounds - 1) {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
      await profiler.post('Profiler.start');
    }
    for (const id of cases) {
      const bodies = roundBodies.get(id)!;
      const io0 = await writes();
      const thread0 = process.threadCpuUsage();
      const all0 = process.cpuUsage();
      const t0 = performance.now();
      const failed = await drive(bodies);
      const wall = performance.now() - t0;
      const thread = process.threadCpuUsage(thread0);
      const all = process.cpuUsage(all0);
      const perThread = (thread.user + thread.system) / n;
      const perAll = (all.user + all.system) / n;
      const io = await writes();
      const frames = flags.frames ? `${((io.frames - io0.frames) / n).toFixed(2)} WAL frames, ` : '';
      const wrote = `${frames}${((io.commits - io0.commits) / n).toFixed(3)} commits, ${((io.bytes - io0.bytes) / n / 1024).toFixed(1)} KiB in ${((io.calls - io0.calls) / n).toFixed(2)} write calls, ${((io.reads - io0.reads) / n).toFixed(2)} read calls`;
      results.get(id)?.thread.push(perThread);
      results.get(id)?.all.push(perAll);
      say(`${id.padEnd(9)} round ${round + 1}: main thread ${perThread.toFixed(0)} µs/req, process ${perAll.toFixed(0)} µs/req, wall ${((wall * 1000) / n).toFixed(0)} µs/req; per answer ${wrote}${failed ? `, FAILED ${failed}` : ''}`);
    }
  }
  statementTimes.on = false;
  if (flags.statements) summarizeStatements(n * cases.length);
  if (heap) {
    const { profile } = await heap.post('HeapProfiler.stopSampling');
    fs.writeFileSync(path.resolve(flags['heap-profile']!), JSON.stringify(profile));
    heap.disconnect();
    summarizeAllocations(profile, n * cases.length, cases);
  }
  if (profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    fs.writeFileSync(path.resolve(flags.profile ?? 'token.cpuprofile'), JSON.stringify(profile));
    profiler.disconnect();
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;
  for (const [id, r] of results) {
    say(`${id}: median main thread ${median(r.thread).toFixed(0)} µs/req (min ${Math.min(...r.thread).toFixed(0)}), process ${median(r.all).toFixed(0)} µs/req  (${flags.alg}, ${conc} connections, ${n} requests × ${rounds})`);
  }
  for (const s of sockets) s.destroy();
  await checkpointer?.stop();
  await ctx.close();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Bytes allocated per answer (of the round's cases together), by the allocating function (self) and by the app's own frame nearest to it. */
function summarizeAllocations(profile: { head: HeapNode }, answers: number, cases: string[]): void {
  const self = new Map<string, number>();
  const byApp = new Map<string, number>();
  const place = (f: HeapNode['callFrame']) => `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}`;
  let total = 0;
  const walk = (node: HeapNode, app: string | undefined) => {
    const at = place(node.callFrame);
    const here = node.callFrame.url.includes('/src/') && !node.callFrame.url.includes('/node_modules/') ? at : app;
    if (node.selfSize > 0) {
      total += node.selfSize;
      self.set(at, (self.get(at) ?? 0) + node.selfSize);
      const key = here ?? '(outside src/)';
      byApp.set(key, (byApp.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, undefined);
  const top = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `  ${(v / answers / 1024).toFixed(2).padStart(7)} KiB  ${k}`).join('\n');
  const mixed = cases.length > 1 ? `; ${cases.join(' and ')} together: run one case for its own figure` : '';
  say(`allocated ${(total / answers / 1024).toFixed(1)} KiB per answer (sampled${mixed})\nby allocating function:\n${top(self)}\nby the nearest frame in src/:\n${top(byApp)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
