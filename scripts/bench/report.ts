// Turns the measured runs into rows (each figure beside its baseline from the same run, as a
// ratio) and the printed tables (the targets and their checks are in targets.ts).
import type { CaseId, LoadCase } from './cases.ts';
import { median, medianOf, type ComparisonResult, type ComparisonRow } from './compare.ts';
import type { StartupReport } from './startup.ts';
import type { Check } from './targets.ts';
import type { DbSizeReport } from './db-size.ts';
import type { RunResult } from './load.ts';
import type { MemoryReport } from './memory.ts';
import type { LoopBaseline } from './protocol.ts';
import type { PreparedDatabase, Scale } from './seed.ts';
import type { PgSizeTotals } from './stores.ts';

export interface CaseResult {
  id: CaseId;
  label: string;
  runs: RunResult[];
  /** Set when the probe request failed: the case was not measured. */
  failed?: string;
  /** Requests that found their pool of single-use values empty (should be 0). */
  exhausted: number;
  /** Token cases: the `alg` of the access token the probe request was answered with. */
  accessTokenAlg?: string;
  /**
   * Edge cases (a read case with a bare route, run.ts --edge-rounds): the bare route's runs,
   * measured turn about with this case's, one per round and concurrency, in the order of `runs`.
   * Without them (token cases, older results) the ratio uses the bare case's own runs.
   */
  bareRuns?: RunResult[];
  /** Set when the bare route's probe failed: the case was measured alone, without its ratio. */
  bareFailed?: string;
  /**
   * Token cases on SQLite when both database sizes run (run.ts runSizes): the case's rounds ran turn
   * about with the other size's, round k of one straight after or before round k of the other.
   */
  sizesTurnAbout?: boolean;
}

export interface SizeResult {
  name: 'small' | 'large';
  /** The app's store (undefined in results written before the store dimension: SQLite). */
  store?: 'sqlite' | 'postgres';
  /** PostgreSQL: the server's counters over the whole size (scripts/bench/stores.ts). */
  pgTotals?: PgSizeTotals;
  scale: Scale;
  database: PreparedDatabase;
  baselines: { sign: LoopBaseline; signWrite: LoopBaseline };
  cases: CaseResult[];
}

export interface Row {
  size: string;
  caseId: CaseId;
  label: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  bare?: { id: CaseId; rps: number; p50: number; p99: number };
  /** Cost relative to the bare Express route: bare req/s ÷ this req/s (1 = as cheap). */
  vsBare?: number;
  /** Token cases: signing-loop tokens/s ÷ this req/s. */
  vsSign?: number;
  /** Token cases: (sign + one write transaction) loop ops/s ÷ this req/s. */
  vsSignWrite?: number;
  failures: number;
  /** App CPU per request (µs), all threads. */
  cpuUs?: number;
  bareCpuUs?: number;
  /** Cores other processes used during this run (max of this run and its bare run). */
  foreignCores?: number;
  /** Rounds measured at this concurrency (more than one: every figure above is their median). */
  rounds?: number;
  /** Each round's bare req/s ÷ req/s, in the order they ran (`vsBare` is their median). */
  roundVsBare?: number[];
  /** `vsBare` and the bare figures come from the bare route's runs turn about with this case's (not minutes away). */
  bareTurnAbout?: boolean;
  /** Each round's req/s and p99, in the order they ran (with more than one round). */
  roundRps?: number[];
  roundP99?: number[];
  /** The rounds ran turn about with the other database size's (CaseResult.sizesTurnAbout). */
  sizesTurnAbout?: boolean;
}

export interface ScaleRow {
  caseId: CaseId;
  connections: number;
  smallRps: number;
  largeRps: number;
  /** small req/s ÷ large req/s (>1: slower on the large database). */
  rpsFactor: number;
  smallP99: number;
  largeP99: number;
  /** large p99 ÷ small p99. */
  p99Factor: number;
  /** How much worse the large database's p99 is, in ms (with `raw`: the small one's scaled by the two bare routes' p99s first). */
  p99ExcessMs: number;
  /**
   * Set for a case measured turn about with its bare route on both databases: rpsFactor and
   * p99Factor are each size's figure against its own bare route (large vs bare ÷ small vs bare), so
   * that the machine's speed, which moves within minutes and may differ between the runs on the
   * two databases, cancels; the bare route reads no database, so what remains is the database's.
   * The raw figures, each size's own medians, are kept here.
   * Also set for a case whose rounds ran turn about on the two databases (the token cases):
   * rpsFactor, p99Factor and p99ExcessMs are then the medians of the rounds' own (round k on the
   * small database against round k on the large one, seconds apart); raw has the factors of the
   * medians.
   */
  raw?: { rpsFactor: number; p99Factor: number };
  /** How the machine's speed was taken out of the factors above (`raw` keeps them with it): each size's bare route, or the rounds' pairs. */
  footing?: 'bare' | 'rounds';
}

/** A case's runs by concurrency, in the order the concurrencies first ran. */
export function runsByConnections(runs: RunResult[]): Map<number, RunResult[]> {
  const out = new Map<number, RunResult[]>();
  for (const run of runs) out.set(run.connections, [...(out.get(run.connections) ?? []), run]);
  return out;
}

/**
 * One row per case and concurrency. A case measured in rounds (several runs at one concurrency)
 * shows the median of each figure; when its bare route ran turn about with it (`bareRuns`), its
 * `vs bare` is the median of the rounds' ratios, each from two runs a few seconds apart, as the
 * oidc-provider comparison does (compare.ts).
 */
export function buildRows(sizes: SizeResult[], cases: LoadCase[]): Row[] {
  const rows: Row[] = [];
  for (const size of sizes) {
    const byId = new Map(size.cases.map((c) => [c.id, c]));
    for (const def of cases) {
      const result = byId.get(def.id);
      if (!result || def.app !== 'app') continue;
      const paired = result.bareRuns ? runsByConnections(result.bareRuns) : undefined;
      for (const [connections, runs] of runsByConnections(result.runs)) {
        const bareRuns = paired ? (paired.get(connections) ?? []) : (def.bare ? byId.get(def.bare)?.runs.filter((r) => r.connections === connections) : undefined) ?? [];
        const rps = medianOf(runs, (r) => r.rps) ?? 0;
        const row: Row = {
          size: size.name,
          caseId: def.id,
          label: def.label,
          connections,
          rps,
          p50: medianOf(runs, (r) => r.p50) ?? 0,
          p99: medianOf(runs, (r) => r.p99) ?? 0,
          // The bare route's failures too: a bare route that fails partway flatters the ratio.
          failures: [...runs, ...bareRuns].reduce((n, r) => n + r.non2xx + r.errors, 0),
          foreignCores: maxOf([...runs, ...bareRuns].map((r) => r.foreignCores)),
          cpuUs: medianOf(runs, (r) => r.cpuUsPerRequest),
        };
        if (runs.length > 1) {
          row.rounds = runs.length;
          row.roundRps = runs.map((r) => r.rps);
          row.roundP99 = runs.map((r) => r.p99);
        }
        if (result.sizesTurnAbout) row.sizesTurnAbout = true;
        if (def.bare && bareRuns.length > 0) {
          const bareRps = medianOf(bareRuns, (r) => r.rps) ?? 0;
          row.bare = { id: def.bare, rps: bareRps, p50: medianOf(bareRuns, (r) => r.p50) ?? 0, p99: medianOf(bareRuns, (r) => r.p99) ?? 0 };
          row.bareCpuUs = medianOf(bareRuns, (r) => r.cpuUsPerRequest);
          const pairs = paired ? Math.min(runs.length, bareRuns.length) : 0;
          const roundVsBare = Array.from({ length: pairs }, (_, k) => (bareRuns[k]?.rps ?? 0) / (runs[k]?.rps ?? 1));
          row.vsBare = pairs > 0 ? median(roundVsBare) : bareRps / rps;
          if (pairs > 1) row.roundVsBare = roundVsBare;
          if (pairs > 0) row.bareTurnAbout = true;
        }
        if (def.issuesTokens) {
          row.vsSign = size.baselines.sign.opsPerSecond / rps;
          row.vsSignWrite = size.baselines.signWrite.opsPerSecond / rps;
        }
        rows.push(row);
      }
    }
  }
  return rows;
}

/** The largest of the values that are known; undefined for none. */
export function maxOf(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

export function buildScaleRows(rows: Row[]): ScaleRow[] {
  const out: ScaleRow[] = [];
  for (const large of rows.filter((r) => r.size === 'large')) {
    const small = rows.find((r) => r.size === 'small' && r.caseId === large.caseId && r.connections === large.connections);
    if (!small) continue;
    const rpsFactor = small.rps / large.rps;
    const p99Factor = large.p99 / small.p99;
    const row: ScaleRow = { caseId: large.caseId, connections: large.connections, smallRps: small.rps, largeRps: large.rps, rpsFactor, smallP99: small.p99, largeP99: large.p99, p99Factor, p99ExcessMs: large.p99 - small.p99 };
    if (small.bareTurnAbout && large.bareTurnAbout && small.vsBare && large.vsBare && small.bare && large.bare) {
      row.raw = { rpsFactor, p99Factor };
      row.rpsFactor = large.vsBare / small.vsBare;
      row.p99Factor = large.p99 / large.bare.p99 / (small.p99 / small.bare.p99);
      // The noise floor on the same footing: the small p99 as it would have been in the large section's window.
      row.p99ExcessMs = large.p99 - small.p99 * (large.bare.p99 / small.bare.p99);
      row.footing = 'bare';
    } else if (small.sizesTurnAbout && large.sizesTurnAbout && small.roundRps && large.roundRps && small.roundP99 && large.roundP99) {
      // Round k of each size ran seconds apart: their ratios see the same machine; the median of them.
      const pairs = Math.min(small.roundRps.length, large.roundRps.length);
      const each = (f: (k: number) => number, raw: number) => median(Array.from({ length: pairs }, (_, k) => f(k))) ?? raw;
      const [sr, lr, sp, lp] = [small.roundRps, large.roundRps, small.roundP99, large.roundP99];
      row.raw = { rpsFactor, p99Factor };
      row.rpsFactor = each((k) => (sr[k] ?? 0) / (lr[k] ?? 1), rpsFactor);
      row.p99Factor = each((k) => (lp[k] ?? 0) / (sp[k] ?? 1), p99Factor);
      row.p99ExcessMs = each((k) => (lp[k] ?? 0) - (sp[k] ?? 0), large.p99 - small.p99);
      row.footing = 'rounds';
    }
    out.push(row);
  }
  return out;
}

// ---------- formatting ----------

export function fmtRate(n: number): string {
  return n >= 100 ? Math.round(n).toString() : n.toFixed(1);
}

export function fmtMs(n: number): string {
  return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toString();
}

const fmtX = (n: number | undefined): string => (n === undefined ? '' : `${n.toFixed(2)}×`);

export function fmtBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
}

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(header: string[], body: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

function checkMark(checks: Check[], row: Row): string {
  const subject = `${row.size} ${row.caseId} c=${row.connections}`;
  const mine = checks.filter((c) => c.subject === subject);
  return mine.map((c) => (c.pass ? 'PASS' : 'MISS')).join(' ');
}

export function renderTables(result: {
  sizes: SizeResult[];
  rows: Row[];
  scaleRows: ScaleRow[];
  checks: Check[];
  comparison: ComparisonResult[];
  comparisonRows: ComparisonRow[];
  memory?: MemoryReport;
  dbSize?: DbSizeReport;
  startup?: StartupReport;
}): string {
  const out: string[] = [];
  if (result.comparisonRows.length > 0) {
    const rounds = Math.max(1, ...result.comparisonRows.map((r) => r.roundRatios?.length ?? 1));
    out.push('robot-auth vs node-oidc-provider 9.13 (same run, each on the same pinned core, turn about; ratio = robot-auth req/s ÷ oidc-provider req/s;');
    out.push('p99 in ms; cpu µs = the side\'s process CPU time per answer, the figure other load disturbs least)');
    if (rounds > 1) out.push(`each figure is the median of ${rounds} rounds, each ratio the median of the rounds' ratios (listed in "rounds")`);
    for (const c of result.comparison) {
      const side = (name: string, s: ComparisonResult['app']) =>
        `${name} ${c.alg}: ${s.available ? `measured${s.issuedAlg ? ` (issued ${s.issuedAlg})` : ''}` : `not available (${s.reason ?? ''})`}`;
      out.push(`  ${side('robot-auth', c.app)}; ${side('oidc-provider', c.peer)}`);
    }
    const opt = (n: number | undefined, f: (x: number) => string) => (n === undefined ? 'n/a' : f(n));
    out.push(
      table(
        ['alg', 'case', 'conc', 'robot-auth req/s', 'oidc-provider req/s', 'robot-auth / oidc-provider', 'rounds', 'robot-auth p99', 'oidc-provider p99', 'robot-auth cpu µs', 'oidc-provider cpu µs', 'failed'],
        result.comparisonRows.map((r) => [
          r.alg,
          r.caseId,
          String(r.connections),
          opt(r.appRps, fmtRate),
          opt(r.peerRps, fmtRate),
          opt(r.ratio, (x) => `${x.toFixed(2)}×`),
          r.roundRatios ? r.roundRatios.map((x) => x.toFixed(2)).join(' ') : '',
          opt(r.appP99, fmtMs),
          opt(r.peerP99, fmtMs),
          opt(r.appCpuUs, (x) => String(Math.round(x))),
          opt(r.peerCpuUs, (x) => String(Math.round(x))),
          String(r.failures),
        ]),
      ),
    );
    out.push('');
  }
  if (result.sizes.length > 0) {
    out.push('Baselines (bench child, one core, no load running)');
    out.push(
      table(
        ['size', 'baseline', 'ops/s', 'mean ms', 'cpu µs', 'noise'],
        result.sizes.flatMap((s) =>
          (
            [
              ['sign (the access token /token issues, its ACCESS_TOKEN_ALG)', s.baselines.sign],
              ['sign + one SQLite write transaction', s.baselines.signWrite],
            ] as const
          ).map(([name, b]) => [
            s.name,
            name,
            fmtRate(b.opsPerSecond),
            fmtMs(b.meanMs),
            b.cpuUsPerOp === undefined ? '' : String(Math.round(b.cpuUsPerOp)),
            b.foreignCores === undefined ? '' : b.foreignCores.toFixed(2),
          ]),
        ),
      ),
    );
    out.push('');
    out.push('Load (autocannon over loopback; vs = baseline req/s ÷ req/s, so 2.00× = half the throughput;');
    out.push('cpu µs = app process CPU time (all threads) per request; noise = cores used by other processes during the run');
    out.push('and its bare run, > 0.15 is disturbed; rounds = each round\'s vs bare, the case and its bare route run turn about:');
    out.push('the row shows the medians, and vs bare is the median of the rounds\' ratios; for a token case run turn about on the');
    out.push('two databases, each round\'s req/s)');
    out.push(
      table(
        ['size', 'case', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'bare req/s', 'bare p50', 'bare p99', 'vs bare', 'vs sign', 'vs sign+wr', 'cpu µs', 'bare cpu', 'noise', 'rounds', 'targets'],
        result.rows.map((r) => [
          r.size,
          r.label,
          String(r.connections),
          fmtRate(r.rps),
          fmtMs(r.p50),
          fmtMs(r.p99),
          r.bare ? fmtRate(r.bare.rps) : '',
          r.bare ? fmtMs(r.bare.p50) : '',
          r.bare ? fmtMs(r.bare.p99) : '',
          fmtX(r.vsBare),
          fmtX(r.vsSign),
          fmtX(r.vsSignWrite),
          r.cpuUs === undefined ? '' : String(Math.round(r.cpuUs)),
          r.bareCpuUs === undefined ? '' : String(Math.round(r.bareCpuUs)),
          r.foreignCores === undefined ? '' : r.foreignCores.toFixed(2),
          r.roundVsBare ? r.roundVsBare.map((x) => x.toFixed(2)).join(' ') : r.sizesTurnAbout && r.roundRps ? r.roundRps.map(fmtRate).join(' ') : '',
          checkMark(result.checks, r),
        ]),
      ),
    );
  }
  const failed = result.sizes.flatMap((s) => s.cases.filter((c) => c.failed).map((c) => `${s.name} ${c.id}: ${c.failed}`));
  if (failed.length > 0) out.push('', 'Not measured (probe failed):', ...failed.map((f) => `  ${f}`));
  const bareLine = (size: string, route: string, connections: number, runs: RunResult[]): string[] => [
    size,
    route,
    String(connections),
    fmtRate(medianOf(runs, (r) => r.rps) ?? 0),
    fmtMs(medianOf(runs, (r) => r.p50) ?? 0),
    fmtMs(medianOf(runs, (r) => r.p99) ?? 0),
    runs.length > 1 ? String(runs.length) : '',
  ];
  const bare = result.sizes.flatMap((s) => [
    ...s.cases.filter((c) => c.id.startsWith('bare-')).flatMap((c) => [...runsByConnections(c.runs)].map(([conc, runs]) => bareLine(s.name, c.label, conc, runs))),
    ...s.cases.flatMap((c) => (c.bareRuns ? [...runsByConnections(c.bareRuns)].map(([conc, runs]) => bareLine(s.name, `${c.id}'s bare route, turn about`, conc, runs)) : [])),
  ]);
  if (bare.length > 0) {
    out.push('', 'Bare Express routes (same child process, same core; in rounds: medians)');
    out.push(table(['size', 'route', 'conc', 'req/s', 'p50 ms', 'p99 ms', 'rounds'], bare));
  }
  if (result.scaleRows.length > 0) {
    out.push('', 'Scale (large database ÷ small database; read cases: each size against its own bare route, turn about; token cases: the median of the rounds\' factors, the two databases turn about; the raw factor in brackets)');
    out.push(
      table(
        ['case', '', 'conc', 'small req/s', 'large req/s', 'req/s ×', 'small p99', 'large p99', 'p99 ×'],
        result.scaleRows.map((s) => [
          s.caseId,
          '',
          String(s.connections),
          fmtRate(s.smallRps),
          fmtRate(s.largeRps),
          s.raw ? `${fmtX(s.rpsFactor)} (${fmtX(s.raw.rpsFactor)})` : fmtX(s.rpsFactor),
          fmtMs(s.smallP99),
          fmtMs(s.largeP99),
          s.raw ? `${fmtX(s.p99Factor)} (${fmtX(s.raw.p99Factor)})` : fmtX(s.p99Factor),
        ]),
      ),
    );
  }
  if (result.memory) {
    const m = result.memory;
    out.push('', `Memory: ${m.issuances} token issuances, ${m.method}, ${m.chains} refresh chains side by side`);
    out.push(
      table(
        ['figure', '', 'value'],
        [
          ['RSS before', '', fmtBytes(m.rssBefore)],
          ['RSS after', '', fmtBytes(m.rssAfter)],
          ['RSS after GC', '', fmtBytes(m.rssAfterGc)],
          ['RSS peak', '', fmtBytes(m.rssPeak)],
          ['heap used before / after GC', '', `${fmtBytes(m.heapUsedBefore)} / ${fmtBytes(m.heapUsedAfterGc)}`],
          ['V8 heap committed after GC', '', fmtBytes(m.heapTotalAfterGc)],
          ['external (Buffers) after GC', '', fmtBytes(m.externalAfterGc)],
          ['RSS at each tenth', '', m.rssTimeline.map((b) => (b / 2 ** 20).toFixed(0)).join(' ') + ' MiB'],
          ['issuances/s', '', fmtRate(m.issuancesPerSecond)],
          ['refresh_tokens rows after', '', String(m.refreshTokenRows)],
        ],
      ),
    );
  }
  if (result.startup) {
    const st = result.startup;
    out.push('', `Start-up (node src/server.ts on a migrated small database, pinned): ${st.attempts.map((a) => Math.round(a)).join(', ')} ms to the first 200 of ${st.firstPath} (median ${Math.round(st.startupMs)} ms); RSS ${fmtBytes(st.idleRss)} ${st.idleSeconds} s after it`);
  }
  if (result.dbSize) {
    const d = result.dbSize;
    out.push('', `Database size: ${d.scale.grants} grants (one refresh token each), ${d.scale.users} users/wikis, ${d.scale.clients} clients, ${d.codes} codes`);
    const snap = (name: string, s: DbSizeReport['before']) => [name, '', fmtBytes(s.fileBytes), fmtBytes(s.usedBytes), fmtBytes(s.grantBytes), String(s.rows.grants), String(s.rows.refreshTokens)];
    out.push(
      table(
        ['state', '', 'file', 'pages in use', 'grant+token tables', 'grants', 'refresh tokens'],
        [snap('before', d.before), snap('half expired, after purgeExpired', d.afterPurge), snap('after VACUUM', d.afterVacuum)],
      ),
    );
    out.push(`per 100,000 grants: ${fmtBytes(d.grantBytesPer100k)} (grant + refresh-token tables and indexes); purgeExpired took ${d.purgeSeconds.toFixed(2)} s for ${d.purged.oauth_grants ?? 0} grants (${d.purgeSecondsWithCodeGrantIndex.toFixed(2)} s with an index on authorization_codes(grant_id))`);
  }
  out.push('', 'Targets');
  for (const c of result.checks) {
    const value = Number.isNaN(c.value)
      ? 'n/a'
      : c.unit === 'ms'
        ? `${fmtMs(c.value)} ms`
        : c.unit === '×' || c.unit === '× min'
          ? `${c.value.toFixed(2)}×`
          : c.unit === 'MiB'
            ? `${c.value.toFixed(0)} MiB`
            : `${c.value} ${c.unit}`;
    const limit = c.unit === 'ms' ? `< ${c.limit} ms` : c.unit === '×' ? `≤ ${c.limit}×` : c.unit === '× min' ? `≥ ${c.limit}×` : c.unit === 'MiB' ? `< ${c.limit} MiB` : `${c.limit}`;
    out.push(`  ${c.pass ? 'PASS' : 'MISS'}  ${c.target}: ${c.subject} ${value} (${limit})${c.note ? `; ${c.note}` : ''}`);
  }
  const missed = result.checks.filter((c) => !c.pass).length;
  out.push(`  ${result.checks.length - missed} PASS, ${missed} MISS`);
  return out.join('\n');
}
