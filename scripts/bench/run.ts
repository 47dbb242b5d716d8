// `npm run bench` — load benchmarks of the token endpoint, the bearer check and discovery, each
// figure beside a baseline measured in the same run, on a small and a large seeded database; the
// same-run comparison with node-oidc-provider (RS256 and ES256; compare.ts, peer-oidc.ts); then
// memory after many token issuances, start-up time and idle RSS of `node src/server.ts`, and
// database size before/after purging. Every target (targets.ts) is printed PASS or MISS. With
// --stores=sqlite,postgres the load cases also run on PostgreSQL (stores.ts, postgres.ts), each run
// straight after its SQLite twin, and a table gives postgres ÷ sqlite and writes/s per store;
// the targets stay computed on SQLite. Prints tables and writes bench-results/bench-<timestamp>.json
// (and .txt). See docs/benchmarks.md.
// Exits non-zero only when a case errors (a child crashes, a probe or a request fails): never
// for a MISS, so CI runs `--quick` as a smoke check.
//
//   npm run bench                      full run (~30 min on 2 cores with PostgreSQL installed; the large database is cached)
//   npm run bench -- --quick           smoke run (~2 min): 1 s runs, a 10× smaller large database
//   npm run bench -- --only verify,whoami --sizes small --profile   CPU profiles of the app child
//   npm run bench -- --stores=sqlite,postgres --sizes=small --no-peer   the store comparison alone
//
// All load goes to 127.0.0.1 only; every run is bounded in time.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BenchChild } from './child.ts';
import { CASES, COMPARED_CASE_IDS, PEER_CASES, pairedBare, selectCases, type BuildContext, type LoadCase } from './cases.ts';
import { accessTokenAlg, ALGS, buildComparisonRows, type Alg, type ComparisonResult, type SideResult } from './compare.ts';
import { CpuNoise, NOISY_CORES } from './cpu-noise.ts';
import { measureDbSize, type DbSizeReport } from './db-size.ts';
import { probe, runLoad, type RunResult } from './load.ts';
import type { MemoryReport } from './memory.ts';
import type { AccessTokenForWiki, LoopBaseline, ReadyMessage, SettleResult } from './protocol.ts';
import { buildRows, buildScaleRows, fmtMs, fmtRate, renderTables, type CaseResult, type SizeResult } from './report.ts';
import { APEX_HOST, LARGE, prepareDatabase, QUICK_LARGE, SMALL, type Scale } from './seed.ts';
import { measureStartup, type StartupReport } from './startup.ts';
import { pgWrites, postgresAvailable, startBenchPostgres, type BenchPostgres, type PgCommit } from './postgres.ts';
import { buildStoreRows, postgresWriteMeter, renderStoreTable, sqliteWriteMeter, STORES, type StoreName, type WriteMeter } from './stores.ts';
import { evaluate, TARGETS } from './targets.ts';
import { benchUnitEnvironment, describeUnitEnvironment } from './unit-env.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../..');
const RESULTS_DIR = path.join(ROOT, 'bench-results');
/** Repeats stop once they have cost this many seconds in all, so a busy machine cannot stretch the run without bound. */
const RETRY_BUDGET_SECONDS = 150;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'start-warmup': { type: 'string' },
    connections: { type: 'string' },
    sizes: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
    'no-pin': { type: 'boolean', default: false },
    issuances: { type: 'string' },
    'no-memory': { type: 'boolean', default: false },
    'no-db-size': { type: 'boolean', default: false },
    'no-peer': { type: 'boolean', default: false },
    algs: { type: 'string' },
    'no-startup': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    retries: { type: 'string' },
    'compare-rounds': { type: 'string' },
    'edge-rounds': { type: 'string' },
    stores: { type: 'string' },
    'pg-commit': { type: 'string', default: 'sync' },
    'pg-sizes': { type: 'string', default: 'small' },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(`npm run bench -- [options]
  --quick                 smoke run: 1 s per run, no warm-up, large database of ${QUICK_LARGE.grants} grants, ${5000} issuances
  --duration=S            seconds per measured run (default 4; quick 1)
  --warmup=S              seconds of unrecorded load before each case (default 1; quick 0)
  --start-warmup=S        seconds of unrecorded token requests on each child that was just started,
                          before its first measured case (default 6; quick 0): the JIT's steady state
  --connections=1,16,64   concurrency levels
  --sizes=small,large     databases to run on (none: memory and database size only)
  --only=refresh,verify   cases to run, without the oidc-provider comparison (their bare baselines come along): ${CASES.filter((c) => c.app === 'app').map((c) => c.id).join(', ')}
  --profile               V8 CPU profile of the bench child during each case's measured runs, to
                          bench-results/profiles-<time>/<size>-<case>.cpuprofile (see profile-summary.ts)
  --log-level=info        the app's LOG_LEVEL (request logs go to /dev/null; info is the production default)
  --no-pin                do not pin the load generator and the app to separate CPUs
  --issuances=N           token issuances for the memory figure (default 100000; quick 5000)
  --algs=RS256,ES256      algorithms of the node-oidc-provider comparison (ACCESS_TOKEN_ALG of the app child)
  --no-peer               skip the node-oidc-provider comparison
  --compare-rounds=N      rounds of the comparison (default 3; quick 1; the sides' order alternates): each
                          figure is the median of the rounds, each ratio the median of the rounds' ratios
                          (one window of a shared VM moved the same code's ratio by up to ±0.4)
  --edge-rounds=N         rounds of each read case with a bare route (verify, whoami, as-metadata, prm; default 3;
                          quick 1): at each concurrency the case and its bare route run turn about, the order
                          alternating by round; each figure is the median of the rounds, vs bare the median of
                          the rounds' ratios (the same bare route measured 17.8k and 29.8k req/s minutes apart).
                          With both sizes, the token cases run as many rounds, the two databases turn about
                          (the large-vs-small target takes the median of the rounds' factors)
  --no-memory, --no-db-size, --no-startup   skip those parts
  --retries=N             repeat a run disturbed by other processes' CPU use up to N times (default 2; quick 0;
                          at most ${RETRY_BUDGET_SECONDS} s of repeats in all)
  --stores=sqlite,postgres  stores the load cases run on (default: sqlite with --quick; both otherwise when a
                          PostgreSQL server is installed, /usr/lib/postgresql/N/bin). PostgreSQL: a throw-away
                          server on the load generator's CPU, seeded with the same rows; issue 11's targets
                          are computed on SQLite only
  --pg-sizes=small        the --sizes that also run on PostgreSQL (default small: copying the large database in
                          through migrate-to-postgres took 84 s for --quick's 100k grants, so ~14 min for 1M)
  --pg-commit=sync        PostgreSQL synchronous_commit: sync (on, its default: each commit waits for its WAL
                          flush) or async (off: durable against an app crash, like SQLite's synchronous=NORMAL)
  --keep                  keep the temporary directory`);
  process.exit(0);
}

const quick = flags.quick;
const duration = Number(flags.duration ?? (quick ? 1 : 4));
const warmup = Number(flags.warmup ?? (quick ? 0 : 1));
const startWarmup = Number(flags['start-warmup'] ?? (quick ? 0 : 6));
const connectionLevels = (flags.connections ?? '1,16,64').split(',').map(Number);
const sizeNames = (flags.sizes ?? 'small,large').split(',').filter((s): s is 'small' | 'large' => s === 'small' || s === 'large');
const pgSizeNames = new Set(flags['pg-sizes'].split(','));
const issuances = Number(flags.issuances ?? (quick ? 5_000 : 100_000));
const scales: Record<'small' | 'large', Scale> = { small: SMALL, large: quick ? QUICK_LARGE : LARGE };
const logLevel = flags['log-level'];
const retries = Number(flags.retries ?? (quick ? 0 : 2));
const compareRounds = Number(flags['compare-rounds'] ?? (quick ? 1 : 3));
const edgeRounds = Number(flags['edge-rounds'] ?? (quick ? 1 : 3));
const algs = (flags.algs ?? ALGS.join(',')).split(',').filter((a): a is Alg => (ALGS as readonly string[]).includes(a));
let retrySecondsUsed = 0;
const pgCommit: PgCommit = flags['pg-commit'] === 'async' ? 'async' : 'sync';
if (!Number.isInteger(compareRounds) || compareRounds < 1) throw new Error(`--compare-rounds must be a whole number of at least 1, not "${flags['compare-rounds'] ?? ''}"`);
if (!Number.isInteger(edgeRounds) || edgeRounds < 1) throw new Error(`--edge-rounds must be a whole number of at least 1, not "${flags['edge-rounds'] ?? ''}"`);
if (flags['pg-commit'] !== 'sync' && flags['pg-commit'] !== 'async') throw new Error(`--pg-commit must be sync or async, not "${flags['pg-commit']}"`);
const pgInstalled = postgresAvailable();
/** Why PostgreSQL is not measured although it would be by default (printed). */
let storeNote: string | undefined;
const storeNames: StoreName[] = (() => {
  if (flags.stores !== undefined) {
    const wanted = flags.stores.split(',').filter((x) => x !== '');
    for (const w of wanted) if (!(STORES as readonly string[]).includes(w)) throw new Error(`unknown store "${w}" (${STORES.join(', ')})`);
    if (wanted.includes('postgres') && !pgInstalled) throw new Error('--stores=postgres: no PostgreSQL server is installed (apt-get install postgresql; .ci/run does this)');
    return STORES.filter((x) => wanted.includes(x));
  }
  if (quick) return ['sqlite'];
  if (!pgInstalled) {
    storeNote = 'PostgreSQL store not measured: no server binary in /usr/lib/postgresql/N/bin (apt-get install postgresql)';
    return ['sqlite'];
  }
  return ['sqlite', 'postgres'];
})();

function selectedCases(): LoadCase[] {
  return selectCases(flags.only?.split(','));
}

const benchStarted = performance.now();
function log(line: string): void {
  const t = ((performance.now() - benchStarted) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[${t} s] ${line}\n`);
}

/** Pins this process (the load generator) to CPU 0 and says which CPU the children get. */
function pinning(): number | undefined {
  if (flags['no-pin'] || os.availableParallelism() < 2) return undefined;
  try {
    execFileSync('taskset', ['-a', '-cp', '0', String(process.pid)], { stdio: 'ignore' });
    return 1;
  } catch {
    log('taskset is not available: load generator and app share the CPUs');
    return undefined;
  }
}

/** The app's configuration for the bench: defaults, except rate limits high enough never to trigger. */
function appEnv(dataDir: string, databaseFile: string, scale: Scale, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const unlimited = '1000000000';
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATA_DIR: dataDir,
    BENCH_DATABASE_FILE: databaseFile,
    BENCH_SCALE: JSON.stringify(scale),
    LOG_LEVEL: logLevel,
    RATE_LIMIT_LOGIN_PER_MINUTE: unlimited,
    RATE_LIMIT_REGISTER_PER_MINUTE: unlimited,
    RATE_LIMIT_TOKEN_PER_MINUTE: unlimited,
    RATE_LIMIT_DISCOVERY_PER_MINUTE: unlimited,
    RATE_LIMIT_CLIENT_PER_MINUTE: unlimited,
    RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: unlimited,
    RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: unlimited,
    // A/B of the WAL checkpoint mechanism (scripts/bench/server.ts): unset = as src/server.ts runs it.
    ...(process.env.BENCH_CHECKPOINTS ? { BENCH_CHECKPOINTS: process.env.BENCH_CHECKPOINTS } : {}),
    // A/B of a SQLite setting on the app's connection (scripts/bench/server.ts), e.g. BENCH_PRAGMA='cache_size=-4000'.
    ...(process.env.BENCH_PRAGMA ? { BENCH_PRAGMA: process.env.BENCH_PRAGMA } : {}),
    // As the systemd unit runs the service (NODE_OPTIONS, MALLOC_ARENA_MAX, NODE_COMPILE_CACHE).
    ...benchUnitEnvironment(),
    ...extra,
  };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A child that was just started (the app of a size, either side of the comparison) answers its
 * token cases for `startWarmup` seconds in all, unrecorded, at c=16, before its first measured
 * case: a token request runs through far more code than a document, and V8 needs ~10,000 of them to
 * compile the hot paths (the first 3 s run at c=16 after only the per-case warm-up measured 2,845 and
 * 3,479 req/s, the next ones 3,349–4,229: docs/benchmarks.md, round 6). The same for both sides of
 * the comparison.
 */
async function warmStart(label: string, defs: LoadCase[], child: BenchChild, ports: ReadyMessage, tokens: AccessTokenForWiki[], poolRate: number): Promise<void> {
  const tokenCases = defs.filter((d) => d.issuesTokens);
  if (startWarmup <= 0 || tokenCases.length === 0) return;
  const each = startWarmup / tokenCases.length;
  for (const def of tokenCases) {
    const w = await def.build({ child, seconds: each, connections: 16, tokens, poolRate });
    await runLoad(def.app === 'app' ? ports.appPort : ports.barePort, w.requests, 16, each);
  }
  log(`  ${label}: warmed up (${tokenCases.map((d) => d.id).join(', ')}: ${startWarmup} s, unrecorded)`);
}

/** Empties a child's WAL (every frame copied: its checkpoint worker has nothing left to do), and says so when it could not. */
async function settle(child: BenchChild, who: string): Promise<void> {
  const settled = await child.request<SettleResult>({ type: 'settle' });
  if (settled?.busy) log(`  ${who}: the WAL could not be emptied before the run (a reader or the checkpoint worker held it)`);
}

async function runCase(
  def: LoadCase,
  child: BenchChild,
  ports: ReadyMessage,
  tokens: AccessTokenForWiki[],
  poolRate: number,
  sizeName: string,
  profileDir: string | undefined,
  noise: CpuNoise,
  levels: number[] = connectionLevels,
  warm = true,
  meter?: WriteMeter,
): Promise<CaseResult> {
  const port = def.app === 'app' ? ports.appPort : ports.barePort;
  const result: CaseResult = { id: def.id, label: def.label, runs: [], exhausted: 0 };
  const build = (seconds: number, connections: number) => def.build({ child, seconds, connections, tokens, poolRate } satisfies BuildContext);

  const probeReq = await build(0, 1);
  const first = probeReq.requests[0];
  if (!first) throw new Error(`case ${def.id} has no request`);
  const answer = await probe(port, first);
  if (def.issuesTokens) result.accessTokenAlg = accessTokenAlg(answer.body);
  if (answer.status < 200 || answer.status >= 300 || (def.expect && !answer.body.includes(def.expect))) {
    result.failed = `probe answered ${answer.status}: ${answer.body.slice(0, 300)}`;
    log(`  ${sizeName} ${def.id}: NOT MEASURED (${result.failed})`);
    return result;
  }
  if (warm && warmup > 0) {
    const w = await build(warmup, 16);
    await runLoad(port, w.requests, 16, warmup);
    await pause(200);
  }
  if (profileDir) await child.request({ type: 'profile-start' });
  for (const connections of levels) {
    // A run disturbed by other processes (a test suite on the same cores) is repeated, up to
    // --retries times; the least disturbed one is kept.
    let best: RunResult | undefined;
    // Failed requests of every attempt, the discarded ones too: a failure is never retried away.
    const failed = { non2xx: 0, errors: 0 };
    for (let attempt = 0; attempt <= retries; attempt++) {
      const built = await build(duration, connections);
      // Each run starts with an empty WAL: the pools just made and the run before are not charged to this one.
      await settle(child, `${sizeName} ${def.id}`);
      const writesSince = await meter?.begin();
      noise.begin();
      const run: RunResult = await runLoad(port, built.requests, connections, duration);
      const reading = noise.end();
      if (reading) {
        run.foreignCores = reading.foreignCores;
        run.cpuUsPerRequest = run.ok > 0 ? (reading.serverCpuSeconds * 1e6) / run.ok : undefined;
        run.loadGeneratorCores = reading.loadGeneratorCores;
        if (reading.databaseCpuSeconds > 0) run.databaseCpuUsPerRequest = run.ok > 0 ? (reading.databaseCpuSeconds * 1e6) / run.ok : undefined;
      }
      if (writesSince) run.writes = await writesSince(run.duration);
      run.retries = attempt;
      result.exhausted += built.exhausted();
      const bad = run.non2xx + run.errors;
      failed.non2xx += run.non2xx;
      failed.errors += run.errors;
      log(
        `  ${sizeName.padEnd(5)} ${def.id.padEnd(12)} c=${String(connections).padEnd(3)} ${fmtRate(run.rps).padStart(7)} req/s  p50 ${fmtMs(run.p50)} ms  p99 ${fmtMs(run.p99)} ms` +
          (run.cpuUsPerRequest !== undefined ? `  cpu ${Math.round(run.cpuUsPerRequest)} µs/req` : '') +
          (run.databaseCpuUsPerRequest !== undefined ? ` + pg ${Math.round(run.databaseCpuUsPerRequest)} µs/req` : '') +
          (run.writes && run.writes.transactions > 0 ? `  ${fmtRate(run.writes.perSecond)} writes/s` : '') +
          (run.loadGeneratorCores !== undefined ? `  load generator ${run.loadGeneratorCores.toFixed(2)} cores` : '') +
          (run.foreignCores !== undefined ? `  other load ${run.foreignCores.toFixed(2)} cores` : '') +
          (bad > 0 ? `  FAILED ${bad} ${JSON.stringify(run.statusCodes)}` : '') +
          (built.exhausted() > 0 ? `  pool exhausted ×${built.exhausted()}` : ''),
      );
      if (!best || (run.foreignCores ?? 0) < (best.foreignCores ?? 0)) best = { ...run };
      await pause(200);
      if ((run.foreignCores ?? 0) <= NOISY_CORES) break;
      if (attempt < retries) {
        if (retrySecondsUsed + duration > RETRY_BUDGET_SECONDS) break;
        retrySecondsUsed += duration;
      }
    }
    if (best) result.runs.push({ ...best, ...failed });
  }
  if (profileDir) await child.request({ type: 'profile-stop', file: path.join(profileDir, `${sizeName}-${def.id}.cpuprofile`) });
  return result;
}

/** Adds a case's runs (of one concurrency or round) to what was kept of that case; the first ones are kept as they are. */
function keepRuns(cases: CaseResult[], r: CaseResult): CaseResult {
  const kept = cases.find((c) => c.id === r.id);
  if (!kept) {
    cases.push(r);
    return r;
  }
  kept.runs.push(...r.runs);
  kept.exhausted += r.exhausted;
  kept.failed ??= r.failed;
  kept.accessTokenAlg ??= r.accessTokenAlg;
  return kept;
}

/** One store's app child on one size, ready to run cases (its baselines measured). */
interface SizeSide {
  store: StoreName;
  label: string;
  child: BenchChild;
  ports: ReadyMessage;
  tokens: AccessTokenForWiki[];
  poolRate: number;
  noise: CpuNoise;
  meter: WriteMeter;
  profiles: string | undefined;
  result: SizeResult;
  /** Stops the child (PostgreSQL: then reads the server's counters over the whole size) and cleans up. */
  finish(): Promise<void>;
}

async function startSizeSide(
  name: 'small' | 'large',
  tmp: string,
  cpu: number | undefined,
  profileDir: string | undefined,
  store: StoreName,
  pgServer: BenchPostgres | undefined,
  /** Another size's PostgreSQL child runs beside this one (PgSizeTotals.serverWide). */
  pgShared = false,
): Promise<SizeSide> {
  const scale = scales[name];
  const label = store === 'sqlite' ? name : `${name}-pg`;
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-${store}-`));
  const cleanup = () => {
    if (!flags.keep) fs.rmSync(dir, { recursive: true, force: true });
  };
  const dbFile = path.join(dir, 'app.sqlite');
  log(`${name}${store === 'postgres' ? ' on PostgreSQL' : ''}: ${scale.users} users, ${scale.grants} grants, ${scale.clients} clients`);
  const database = prepareDatabase(dbFile, scale, path.join(RESULTS_DIR, 'cache'));
  log(`  database ${database.cached ? 'copied from cache' : `built in ${database.buildSeconds.toFixed(1)} s`} (${(database.bytes / 1024 / 1024).toFixed(0)} MiB)`);
  let extra: Record<string, string> = {};
  let databaseUrl: string | undefined;
  if (store === 'postgres') {
    if (!pgServer) throw new Error('no PostgreSQL server');
    databaseUrl = await pgServer.createDatabase(`bench_${name}_${Date.now()}`);
    const seconds = await pgServer.seedFrom(dbFile, databaseUrl);
    log(`  copied into PostgreSQL ${pgServer.version} by migrate-to-postgres (checksums verified) and analyzed in ${seconds.toFixed(1)} s`);
    extra = { DATABASE_URL: databaseUrl, BENCH_STORE: 'postgres' };
  }

  const child = new BenchChild({ script: path.join(HERE, 'server.ts'), env: appEnv(dir, dbFile, scale, extra), cpu });
  try {
    const ports = await child.waitFor<ReadyMessage>('ready', 120_000);
    if (ports.store !== store) throw new Error(`asked the app child for the ${store} store, it serves from ${ports.store ?? 'an unknown store'}`);
    const baselineSeconds = quick ? 1 : 3;
    const noise = new CpuNoise(
      () => [process.pid, child.proc.pid ?? 0],
      () => child.proc.pid ?? 0,
      () => pgServer?.pids() ?? [],
    );
    const meter = store === 'postgres' && pgServer && databaseUrl ? postgresWriteMeter(pgServer, databaseUrl) : sqliteWriteMeter(child);
    const pgStart = pgServer && databaseUrl ? await pgServer.counters(databaseUrl) : undefined;
    const measureLoop = async (type: 'sign-baseline' | 'sign-write-baseline'): Promise<LoopBaseline> => {
      noise.begin();
      const loop = await child.request<LoopBaseline>({ type, seconds: baselineSeconds });
      const reading = noise.end();
      // The loop's warm-up is in the CPU time too: 50 ops in a few thousand.
      return reading ? { ...loop, cpuUsPerOp: (reading.serverCpuSeconds * 1e6) / loop.ops, foreignCores: reading.foreignCores } : loop;
    };
    const sign = await measureLoop('sign-baseline');
    const signWrite = await measureLoop('sign-write-baseline');
    log(`  baselines: sign ${fmtRate(sign.opsPerSecond)}/s, sign + ${store === 'postgres' ? 'PostgreSQL' : 'SQLite'} write ${fmtRate(signWrite.opsPerSecond)}/s`);
    const tokens = await child.request<AccessTokenForWiki[]>({ type: 'access-tokens', count: quick ? 64 : 512 });
    // No token request can go faster than signing on this core; twice that sizes the pools safely.
    const poolRate = Math.max(2 * sign.opsPerSecond, 1000);
    const result: SizeResult = { name, store, scale, database, baselines: { sign, signWrite }, cases: [] };
    return {
      store,
      label,
      child,
      ports,
      tokens,
      poolRate,
      noise,
      meter,
      profiles: profileDir && store !== 'sqlite' ? path.join(profileDir, store) : profileDir,
      result,
      async finish() {
        try {
          // The child's backends publish their commit counts as they exit.
          await child.stop();
          if (pgServer && databaseUrl && pgStart) {
            const d = pgWrites(pgStart, await pgServer.counters(databaseUrl));
            const answered = result.cases.filter((r) => CASES.find((c) => c.id === r.id)?.app === 'app').reduce((sum, r) => sum + r.runs.reduce((a, run) => a + run.ok, 0), 0);
            const statements = await pgServer.statements(databaseUrl, 25);
            result.pgTotals = { commits: d.commits, writeTransactions: d.writeTransactions, walBytes: d.walBytes, answered, statements, ...(pgShared ? { serverWide: true } : {}) };
            log(`  ${label}: PostgreSQL over the whole size: ${d.commits} commits (xact_commit), ${d.writeTransactions} write transactions, ${answered} answers measured`);
          }
        } finally {
          cleanup();
        }
      },
    };
  } catch (err) {
    await child.stop();
    cleanup();
    throw err;
  }
}

/**
 * The sizes, each on its stores: every app child is started first (all pinned to the app's core;
 * an idle one costs nothing), then each case runs at each concurrency on one child and straight
 * after on the next, so that the figures a ratio is made of come from the same few seconds of a
 * shared machine: postgres ÷ sqlite (as the oidc-provider comparison does), and the large database
 * against the small one. A read case runs in rounds turn about with its bare route on each child
 * (target 8 compares each size against its own bare route); a token case has no bare route to pair
 * with, so with both sizes on SQLite it runs in rounds turn about on the two databases (target 8
 * takes the median of the rounds' factors; PostgreSQL runs it once, in the first round).
 * A round's order (`roundOrder`): the SQLite children next to each other in the middle, each
 * PostgreSQL child on the outside beside its SQLite twin; every other round the other way round,
 * so that what one leaves behind on the core (its garbage) does not always fall on the same one.
 * Before each run every other SQLite child's WAL is emptied (settle), so that its checkpoint
 * worker copies nothing during another's run.
 */
async function runSizes(
  names: ('small' | 'large')[],
  tmp: string,
  cases: LoadCase[],
  cpu: number | undefined,
  profileDir: string | undefined,
  storesOf: (name: 'small' | 'large') => StoreName[],
  pgServer?: BenchPostgres,
): Promise<SizeResult[]> {
  /** The sides of each size, in the order of `names`. */
  const bySize: SizeSide[][] = [];
  const all = () => bySize.flat();
  /** The first size's PostgreSQL child, the SQLite children, the other sizes' PostgreSQL children; reversed in odd rounds. */
  const roundOrder = (round: number): SizeSide[] => {
    const pg = (sides: SizeSide[]) => sides.filter((s) => s.store !== 'sqlite');
    const [first = [], ...rest] = bySize;
    const order = [...pg(first), ...all().filter((s) => s.store === 'sqlite'), ...rest.flatMap(pg)];
    return round % 2 === 0 ? order : order.reverse();
  };
  const pgShared = names.filter((name) => storesOf(name).includes('postgres')).length > 1;
  try {
    for (const name of names) {
      const sides: SizeSide[] = [];
      bySize.push(sides);
      for (const store of storesOf(name)) sides.push(await startSizeSide(name, tmp, cpu, profileDir, store, pgServer, pgShared));
    }
    for (const side of all()) await warmStart(side.label, cases, side.child, side.ports, side.tokens, side.poolRate);
    const sqliteSizes = all().filter((s) => s.store === 'sqlite').length;
    const settleOthers = async (current: SizeSide) => {
      for (const other of all()) if (other !== current && other.store === 'sqlite') await settle(other.child, `${other.label}, before ${current.label}'s run`);
    };
    for (const def of cases) {
      const bare = pairedBare(def);
      const sizesTurnAbout = !bare && def.app === 'app' && sqliteSizes > 1;
      const rounds = bare || sizesTurnAbout ? edgeRounds : 1;
      // A profile spans the case's runs on its side (the other sides' runs leave it idle), and the
      // runs of its bare route between them: the same child serves it (its frames are the bare app's).
      for (const side of all()) if (side.profiles) await side.child.request({ type: 'profile-start' });
      for (const [i, conc] of connectionLevels.entries()) {
        for (let round = 0; round < rounds; round++) {
          for (const side of roundOrder(round)) {
            if (side.result.cases.find((c) => c.id === def.id)?.failed) continue;
            // The sizes' rounds are for target 8, on SQLite: PostgreSQL runs a token case once.
            if (round > 0 && !bare && side.store !== 'sqlite') continue;
            // The case and its bare route turn about, the other way round in every other round.
            // On PostgreSQL the case alone: the bare route reads no store, and its targets are SQLite's.
            // A bare route whose probe failed is left out from then on: the case runs alone, without its ratio.
            const pair = side.store === 'sqlite' && !side.result.cases.find((c) => c.id === def.id)?.bareFailed ? bare : undefined;
            const turn = !pair ? [def] : round % 2 === 0 ? [def, pair] : [pair, def];
            for (const d of turn) {
              if (side.result.cases.find((c) => c.id === def.id)?.failed) break; // the case's own probe failed: nothing to compare
              const first = i === 0 && round === 0;
              await settleOthers(side);
              const r = await runCase(d, side.child, side.ports, side.tokens, side.poolRate, side.label, undefined, side.noise, [conc], first, d.app === 'app' ? side.meter : undefined);
              if (d === pair) {
                const kept = keepRuns(side.result.cases, { id: def.id, label: def.label, runs: [], exhausted: 0 });
                kept.bareRuns = [...(kept.bareRuns ?? []), ...r.runs];
                // A bare route that cannot answer leaves the case without its ratio (its targets MISS, "not measured").
                kept.bareFailed ??= r.failed;
              } else {
                const kept = keepRuns(side.result.cases, r);
                if (sizesTurnAbout && side.store === 'sqlite') kept.sizesTurnAbout = true;
              }
            }
          }
        }
      }
      for (const side of all()) {
        if (side.profiles) await side.child.request({ type: 'profile-stop', file: path.join(side.profiles, `${side.label}-${def.id}.cpuprofile`) });
      }
    }
    return all().map((s) => s.result);
  } finally {
    // Every child is stopped, one after the other, even when a finish fails (the first error is thrown).
    let failure: unknown;
    for (const side of all()) await side.finish().catch((err: unknown) => void (failure ??= err));
    if (failure !== undefined) throw failure;
  }
}

/** The pools of the comparison: sized from the app's signing rate, at most this many req/s (the peer's fastest figure in issue 11 is 2,469). */
const COMPARISON_MAX_POOL_RATE = 20_000;
/**
 * The peer's pools: 2.4× its fastest figure in issue 11 (2,469 req/s, ES256). Not larger: unused
 * pool entries stay in its in-memory store and would slow its garbage collection. A faster peer
 * empties a pool; that is counted, fails the run and says to raise this.
 */
const PEER_POOL_RATE = 6_000;

interface Side {
  name: 'robot-auth' | 'oidc-provider';
  child: BenchChild;
  ports: ReadyMessage;
  poolRate: number;
  noise: CpuNoise;
  label: string;
  defs: LoadCase[];
  result: SideResult;
}

/** Starts one side of the comparison (the app child with ACCESS_TOKEN_ALG, or the oidc-provider child) and checks what it issues. */
async function startSide(side: 'robot-auth' | 'oidc-provider', alg: Alg, dir: string, cpu: number | undefined): Promise<Side | SideResult> {
  const label = `${side === 'robot-auth' ? 'app' : 'peer'} ${alg}`;
  let child: BenchChild;
  if (side === 'robot-auth') {
    const dbFile = path.join(dir, 'app.sqlite');
    prepareDatabase(dbFile, SMALL, path.join(RESULTS_DIR, 'cache'));
    child = new BenchChild({ script: path.join(HERE, 'server.ts'), env: appEnv(dir, dbFile, SMALL, { ACCESS_TOKEN_ALG: alg }), cpu });
  } else {
    child = new BenchChild({
      script: path.join(HERE, 'peer-oidc.ts'),
      env: { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_ALG: alg, BENCH_GRANTS: String(SMALL.grants) },
      cpu,
    });
  }
  let ports: ReadyMessage;
  try {
    ports = await child.waitFor<ReadyMessage>('ready', 120_000);
  } catch (err) {
    await child.stop();
    // The app refusing ACCESS_TOKEN_ALG=ES256 at start (a branch without it) is "not available".
    if (side === 'robot-auth' && alg !== 'RS256') return { available: false, reason: `the app did not start: ${String(err).split('\n')[0]}`, cases: [] };
    throw err;
  }
  // Which algorithm does it really issue? (An app without the setting ignores the variable.)
  const [body] = await child.request<string[]>({ type: 'refresh-pool', count: 1 });
  const answer = await probe(ports.appPort, {
    method: 'POST',
    path: side === 'robot-auth' ? '/auth/oauth/token' : '/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', host: APEX_HOST },
    body,
  });
  const issuedAlg = accessTokenAlg(answer.body);
  if (issuedAlg !== alg) {
    await child.stop();
    const reason = `asked for ${alg}, the token endpoint answered ${answer.status} with ${issuedAlg ?? 'no'} access token`;
    if (side === 'robot-auth' && alg !== 'RS256' && answer.status === 200) return { available: false, reason: `${reason} (ACCESS_TOKEN_ALG is not implemented here)`, issuedAlg, cases: [] };
    throw new Error(`${label}: ${reason}: ${answer.body.slice(0, 300)}`);
  }
  let poolRate = PEER_POOL_RATE;
  if (side === 'robot-auth') {
    const sign = await child.request<{ opsPerSecond: number }>({ type: 'sign-baseline', seconds: 0.5 });
    poolRate = Math.min(Math.max(2 * sign.opsPerSecond, 1000), COMPARISON_MAX_POOL_RATE);
  }
  const noise = new CpuNoise(
    () => [process.pid, child.proc.pid ?? 0],
    () => child.proc.pid ?? 0,
  );
  const defs = side === 'robot-auth' ? CASES.filter((c) => (COMPARED_CASE_IDS as readonly string[]).includes(c.id)) : PEER_CASES;
  return { name: side, child, ports, poolRate, noise, label, defs, result: { available: true, issuedAlg, cases: [] } };
}

/**
 * Both sides are started (both pinned to the same core; the idle one costs nothing), then each
 * case runs at each concurrency on one side and straight after on the other, so the two figures
 * of a ratio come from the same few seconds of a shared machine; `compareRounds` times, turn about,
 * and compare.ts takes the median of the rounds.
 */
async function runComparison(tmp: string, cpu: number | undefined): Promise<ComparisonResult[]> {
  const results: ComparisonResult[] = [];
  for (const alg of algs) {
    log(`oidc-provider comparison, ${alg}: robot-auth (ACCESS_TOKEN_ALG=${alg}) and node-oidc-provider, turn about, small database`);
    const dir = fs.mkdtempSync(path.join(tmp, `compare-${alg}-`));
    const sides: Side[] = [];
    try {
      const app = await startSide('robot-auth', alg, dir, cpu);
      if ('child' in app) sides.push(app);
      const peer = await startSide('oidc-provider', alg, dir, cpu);
      if ('child' in peer) sides.push(peer);
      if (!('child' in app)) log(`  robot-auth ${alg}: not available (${app.reason ?? ''})`);
      for (const s of sides) await warmStart(s.label, s.defs, s.child, s.ports, [], s.poolRate);
      for (const caseId of COMPARED_CASE_IDS) {
        for (const [i, conc] of connectionLevels.entries()) {
          for (let round = 0; round < compareRounds; round++) {
            // Turn about, and the other way round in every other round, so that what one side leaves
            // behind on the shared core (its checkpoint, its GC) does not always fall on the same side.
            for (const s of round % 2 === 0 ? sides : [...sides].reverse()) {
              const def = s.defs.find((d) => d.id === caseId);
              if (!def) throw new Error(`no ${caseId} case for ${s.label}`);
              if (s.result.cases.find((c) => c.id === caseId)?.failed) continue;
              // The other side idle for this run: robot-auth's checkpoint worker done copying its last run's WAL.
              for (const o of sides) if (o !== s && o.name === 'robot-auth') await settle(o.child, `${o.label}, before ${s.label}'s run`);
              keepRuns(s.result.cases, await runCase(def, s.child, s.ports, [], s.poolRate, s.label, undefined, s.noise, [conc], i === 0 && round === 0));
            }
          }
        }
      }
      results.push({ alg, app: 'child' in app ? app.result : app, peer: 'child' in peer ? peer.result : peer });
    } finally {
      for (const s of sides) await s.child.stop();
      if (!flags.keep) fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

async function runMemory(tmp: string, cpu: number | undefined): Promise<MemoryReport> {
  const dir = fs.mkdtempSync(path.join(tmp, 'memory-'));
  const dbFile = path.join(dir, 'app.sqlite');
  prepareDatabase(dbFile, SMALL, path.join(RESULTS_DIR, 'cache'));
  log(`memory: ${issuances} token issuances (refreshAccessToken called directly)`);
  const child = new BenchChild({
    script: path.join(HERE, 'memory.ts'),
    env: appEnv(dir, dbFile, SMALL, { BENCH_ISSUANCES: String(issuances), BENCH_CHAINS: '16' }),
    execArgv: ['--expose-gc'],
    cpu,
  });
  try {
    const msg = await child.waitFor<{ report: MemoryReport }>('memory-report');
    const r = msg.report;
    log(`  RSS ${(r.rssBefore / 2 ** 20).toFixed(0)} → ${(r.rssAfter / 2 ** 20).toFixed(0)} MiB (after GC ${(r.rssAfterGc / 2 ** 20).toFixed(0)} MiB), ${fmtRate(r.issuancesPerSecond)} issuances/s`);
    return r;
  } finally {
    await child.stop();
    if (!flags.keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-bench-'));
  const cpu = pinning();
  const profileDir = flags.profile ? path.join(RESULTS_DIR, `profiles-${stamp}`) : undefined;
  const cases = selectedCases();
  log(
    `robot-auth bench${quick ? ' (quick)' : ''}: ${duration} s per run, warm-up ${warmup} s (a started child: ${startWarmup} s of token requests), concurrency ${connectionLevels.join('/')}, ` +
      `LOG_LEVEL=${logLevel}, ${cpu === undefined ? 'no CPU pinning' : 'load generator on CPU 0, app on CPU 1'}; ` +
      `app children run with ${describeUnitEnvironment()}`,
  );

  if (storeNote) log(storeNote);
  const sizes: SizeResult[] = [];
  const postgresSizes: SizeResult[] = [];
  let pgServer: BenchPostgres | undefined;
  let comparison: ComparisonResult[] = [];
  let memory: MemoryReport | undefined;
  let startup: StartupReport | undefined;
  let dbSize: DbSizeReport | undefined;
  try {
    if (storeNames.includes('postgres') && sizeNames.some((n) => pgSizeNames.has(n))) {
      // On the load generator's CPU: the app keeps its core to itself, as on SQLite (postgres.ts).
      pgServer = await startBenchPostgres({ commit: pgCommit, cpus: cpu === undefined ? undefined : '0' });
      log(
        `PostgreSQL ${pgServer.version}: throw-away server, synchronous_commit=${pgCommit === 'sync' ? 'on' : 'off'}, fsync on, ` +
          `${pgServer.cpus === undefined ? 'not pinned' : `pinned to CPU ${pgServer.cpus} with the load generator`}; the app's pool: DATABASE_POOL_SIZE default`,
      );
    }
    const storesOf = (name: 'small' | 'large') => storeNames.filter((st) => st === 'sqlite' || (pgServer && pgSizeNames.has(name)));
    const names = sizeNames.filter((name) => storesOf(name).length > 0);
    if (names.length > 0) {
      for (const result of await runSizes(names, tmp, cases, cpu, profileDir, storesOf, pgServer)) (result.store === 'postgres' ? postgresSizes : sizes).push(result);
    }
    if (!flags['no-peer'] && !flags.only) comparison = await runComparison(tmp, cpu);
    if (!flags['no-memory']) memory = await runMemory(tmp, cpu);
    if (!flags['no-startup']) {
      log(`start-up: node src/server.ts on a migrated small database, ${quick ? 1 : 3} start(s) after a first one that makes its keys`);
      const dir = fs.mkdtempSync(path.join(tmp, 'startup-'));
      const dbFile = path.join(dir, 'robot-auth.sqlite');
      prepareDatabase(dbFile, SMALL, path.join(RESULTS_DIR, 'cache'));
      startup = await measureStartup(ROOT, dir, dbFile, cpu, logLevel, quick ? 1 : 3);
      log(`  ${startup.attempts.map((a) => Math.round(a)).join(', ')} ms to the first answer; RSS ${(startup.idleRss / 2 ** 20).toFixed(0)} MiB idle`);
    }
    if (!flags['no-db-size']) {
      log('database size: 100,000 grants, half expired, purgeExpired');
      const dir = fs.mkdtempSync(path.join(tmp, 'db-size-'));
      dbSize = measureDbSize(dir);
    }
  } finally {
    await pgServer?.stop();
    if (!flags.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }

  const rows = buildRows(sizes, cases);
  const scaleRows = buildScaleRows(rows);
  const comparisonRows = buildComparisonRows(comparison, connectionLevels);
  const bearerCases = cases.filter((c) => c.bearer).map((c) => c.id);
  const checks = evaluate({ rows, scaleRows, bearerCases, sizes, comparison: comparisonRows, memory, startup });
  const storeRows = buildStoreRows(sizes, postgresSizes, cases);
  let text = renderTables({ sizes, rows, scaleRows, checks, comparison, comparisonRows, memory, dbSize, startup });
  if (postgresSizes.length > 0) {
    const header = [
      `SQLite vs PostgreSQL ${pgServer?.version ?? ''} (same run, each case and concurrency on SQLite and straight before or after on PostgreSQL; app on CPU ${cpu ?? '(unpinned)'}, ` +
        `PostgreSQL ${pgServer?.cpus === undefined ? 'unpinned' : `on CPU ${pgServer.cpus} with the load generator`}; synchronous_commit=${pgCommit === 'sync' ? 'on' : 'off'})`,
      'pg/sqlite = PostgreSQL req/s ÷ SQLite req/s; writes/s = write transactions the store committed per second (SQLite: the app\'s count;',
      'PostgreSQL: transaction ids assigned); pg stmts/req = statements PostgreSQL ran per answer (pg_stat_statements, BEGIN/COMMIT included:',
      'each is a round trip); pg WAL B/req = WAL bytes per answer; cpu µs per request: the app process, and',
      "PostgreSQL's processes; noise = other processes' cores, sqlite run/pg run",
      ...postgresSizes.map(
        (s) =>
          `  ${s.name}: baselines on PostgreSQL: sign ${fmtRate(s.baselines.sign.opsPerSecond)}/s, sign + one PostgreSQL write transaction ` +
          `${fmtRate(s.baselines.signWrite.opsPerSecond)}/s (${fmtMs(s.baselines.signWrite.meanMs)} ms each)` +
          (s.pgTotals
            ? `\n  ${s.name}: PostgreSQL over the whole size: ${s.pgTotals.commits} commits (pg_stat_database.xact_commit, read-only ones included), ` +
              `${s.pgTotals.writeTransactions} write transactions${s.pgTotals.serverWide ? " (the server's: another size's database was measured at the same time)" : ''}, ${s.pgTotals.answered} answers measured (pools, warm-ups and probes are in the first two)` +
              `\n  ${s.name}: the most called statements (calls, mean server ms, statement):` +
              s.pgTotals.statements.map((st) => `\n    ${String(st.calls).padStart(8)}  ${st.meanMs.toFixed(3).padStart(7)}  ${st.query.slice(0, 150)}`).join('')
            : ''),
      ),
    ];
    if (storeRows.length === 0) header.push('  (no case measured on PostgreSQL)');
    text += `\n\n${renderStoreTable(storeRows, header)}`;
    const failedPg = postgresSizes.flatMap((s) => s.cases.filter((c) => c.failed).map((c) => `  ${s.name} pg ${c.id}: ${c.failed}`));
    if (failedPg.length > 0) text += `\nNot measured on PostgreSQL (probe failed):\n${failedPg.join('\n')}`;
  } else if (storeNote) {
    text += `\n\n${storeNote}`;
  }
  const totalSeconds = (performance.now() - started) / 1000;
  // A case errored: its probe failed, or requests failed. (A MISS is never an error; an algorithm
  // a side cannot issue is "not available", not an error.)
  const errors = [
    ...sizes.flatMap((s) => s.cases.filter((c) => c.failed).map((c) => `${s.name} ${c.id}: ${c.failed}`)),
    ...rows.filter((r) => r.failures > 0).map((r) => `${r.size} ${r.caseId} c=${r.connections}: ${r.failures} failed requests`),
    ...postgresSizes.flatMap((s) => s.cases.filter((c) => c.failed).map((c) => `${s.name} pg ${c.id}: ${c.failed}`)),
    ...postgresSizes.flatMap((s) =>
      s.cases.flatMap((c) => c.runs.filter((r) => r.non2xx + r.errors > 0).map((r) => `${s.name} pg ${c.id} c=${r.connections}: ${r.non2xx + r.errors} failed requests`)),
    ),
    ...comparison.flatMap((c) =>
      (['app', 'peer'] as const).flatMap((k) => c[k].cases.filter((x) => x.failed).map((x) => `comparison ${k} ${c.alg} ${x.id}: ${x.failed}`)),
    ),
    ...comparisonRows.filter((r) => r.failures > 0).map((r) => `comparison ${r.alg} ${r.caseId} c=${r.connections}: ${r.failures} failed requests`),
  ];
  console.log(`\n${text}\n\nTotal ${totalSeconds.toFixed(0)} s.`);

  const json = {
    startedAt: new Date(Date.now() - totalSeconds * 1000).toISOString(),
    totalSeconds,
    machine: {
      cpus: os.cpus().map((c) => c.model),
      node: process.version,
      platform: `${os.platform()} ${os.release()}`,
      memoryBytes: os.totalmem(),
      loadAverageAtEnd: os.loadavg(),
    },
    options: { quick, duration, warmup, startWarmup, connections: connectionLevels, sizes: sizeNames, stores: storeNames, pgCommit, cases: cases.map((c) => c.id), pairedBare: Object.fromEntries(cases.flatMap((c) => { const b = pairedBare(c); return b ? [[c.id, b.id]] : []; })), edgeRounds, compareRounds, logLevel, pinned: cpu !== undefined, issuances },
    targets: TARGETS,
    sizes,
    postgres: pgServer ? { version: pgServer.version, synchronousCommit: pgCommit === 'sync' ? 'on' : 'off', cpus: pgServer.cpus } : undefined,
    postgresSizes,
    storeRows,
    storeNote,
    rows,
    scaleRows,
    comparison,
    comparisonRows,
    checks,
    memory,
    startup,
    dbSize,
    errors,
  };
  const base = path.join(RESULTS_DIR, `bench-${stamp}`);
  fs.writeFileSync(`${base}.json`, `${JSON.stringify(json, null, 2)}\n`);
  fs.writeFileSync(`${base}.txt`, `${text}\n`);
  console.log(`Written ${path.relative(ROOT, base)}.json and .txt${profileDir ? `; CPU profiles in ${path.relative(ROOT, profileDir)}/` : ''}`);
  if (errors.length > 0) {
    console.error(`\n${errors.length} case(s) errored:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
