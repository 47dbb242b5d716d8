// The bench's targets, all in this one file; `npm run bench` prints each check PASS or MISS with
// the measured value and writes them to bench-results/. A target is never weakened here silently:
// a MISS stays a MISS until the code meets it (docs/benchmarks.md says why each one is missed).
//
// Issue 11 item 5 (every ratio measured in the same run, server on one pinned core):
//  1. refresh and authorization-code exchange, ES256: ≥ 1.5× node-oidc-provider's ES256 req/s at
//     c=16 and c=64, with durable SQLite writes;
//  2. the same with RS256: ≥ 1.2× node-oidc-provider's RS256 req/s;
//  3. p99 under 40 ms at c=64 for every case;
//  4. /auth/verify ≥ 0.6× and /mcp whoami ≥ 0.5× the bare Express route's req/s;
//  5. AS metadata and PRM ≥ 0.8× the bare route's req/s;
//  6. RSS under 150 MiB after 100k issuances, under 100 MiB idle after start;
//  7. start-up to first request under 1 s on a migrated database;
//  8. on the large database (1M grants, 100k clients), no figure more than 1.2× worse than on the small one.
//     A read case measured turn about with its bare route compares its figures against that bare
//     route on each database (report.ts buildScaleRows): the machine's speed moves within minutes,
//     and the bare route reads no database (round 12).
//     A token case, which has no bare route to pair with, runs in rounds turn about on the two
//     databases (run.ts runSizes): each factor is the median of the rounds' own (round 13).
// Kept from before issue 11 (stricter than or different from the list above, so not dropped):
//  9. a bearer check (verify, whoami) within 1.5× of its bare route (≥ 0.67× its req/s);
// 10. refresh within 2× of one signature plus one SQLite write transaction on the same core.
// (Replaced by stricter ones: p99 < 50 ms at c=64 → 3; large database 1.5× → 8.)
import type { CaseId, ComparedCaseId } from './cases.ts';
import type { ComparisonRow } from './compare.ts';
import type { MemoryReport } from './memory.ts';
import type { Row, ScaleRow, SizeResult } from './report.ts';
import type { StartupReport } from './startup.ts';

export const TARGETS = {
  /** 1 and 2: app req/s ÷ oidc-provider req/s, same algorithm, at these concurrencies. */
  vsPeer: { ES256: 1.5, RS256: 1.2 },
  vsPeerCases: ['refresh', 'authcode'] as ComparedCaseId[],
  vsPeerConnections: [16, 64] as number[],
  /** 3. */
  p99AtC64Ms: 40,
  /** 4 and 5: app req/s ÷ bare route req/s, at least. */
  vsBareMin: { verify: 0.6, whoami: 0.5, 'as-metadata': 0.8, prm: 0.8 } as Partial<Record<CaseId, number>>,
  /** 6. */
  rssAfterIssuancesMiB: 150,
  issuancesForRss: 100_000,
  rssIdleMiB: 100,
  /** 7. */
  startupMs: 1000,
  /** 8. */
  largeDegradation: 1.2,
  /** p99 differences smaller than this are noise at loopback latencies, never a degradation. */
  p99NoiseFloorMs: 1,
  /** 9. */
  bearerVsBare: 1.5,
  /** 10. */
  refreshVsSignWrite: 2,
} as const;

export interface Check {
  target: string;
  subject: string;
  value: number;
  limit: number;
  unit: string;
  pass: boolean;
  note?: string;
}

const MiB = 2 ** 20;

export function evaluate(input: {
  rows: Row[];
  scaleRows: ScaleRow[];
  bearerCases: CaseId[];
  sizes: SizeResult[];
  comparison: ComparisonRow[];
  memory?: MemoryReport;
  startup?: StartupReport;
}): Check[] {
  const checks: Check[] = [];
  const { rows, scaleRows, sizes } = input;

  for (const c of input.comparison) {
    const subject = `${c.alg} ${c.caseId} c=${c.connections}`;
    const min = TARGETS.vsPeer[c.alg];
    const wanted = TARGETS.vsPeerCases.includes(c.caseId) && TARGETS.vsPeerConnections.includes(c.connections);
    if (wanted) {
      const target = `robot-auth ≥ ${min}× oidc-provider req/s (${c.alg})`;
      if (c.ratio === undefined) {
        checks.push({ target, subject, value: Number.NaN, limit: min, unit: '× min', pass: false, note: `not measured: ${c.note ?? 'no figure'}` });
      } else {
        const rates = `${Math.round(c.appRps ?? 0)} vs ${Math.round(c.peerRps ?? 0)} req/s`;
        const note = c.roundRatios === undefined ? rates : `median of the rounds' ${c.roundRatios.map((x) => x.toFixed(2)).join(' ')}; medians ${rates}`;
        checks.push({ target, subject, value: c.ratio, limit: min, unit: '× min', pass: c.ratio >= min, note });
      }
    }
    if (c.connections === 64 && c.appP99 !== undefined) {
      checks.push({ target: `p99 under ${TARGETS.p99AtC64Ms} ms at concurrency 64`, subject: `comparison ${subject}`, value: c.appP99, limit: TARGETS.p99AtC64Ms, unit: 'ms', pass: c.appP99 < TARGETS.p99AtC64Ms });
    }
  }

  for (const row of rows) {
    const subject = `${row.size} ${row.caseId} c=${row.connections}`;
    if (row.failures > 0) {
      checks.push({ target: 'every request answered 2xx', subject, value: row.failures, limit: 0, unit: 'failed', pass: false });
    }
    const minVsBare = TARGETS.vsBareMin[row.caseId];
    if (minVsBare !== undefined && row.vsBare !== undefined) {
      const share = 1 / row.vsBare;
      checks.push({ target: `≥ ${minVsBare}× the bare route's req/s`, subject, value: share, limit: minVsBare, unit: '× min', pass: share >= minVsBare });
    } else if (minVsBare !== undefined) {
      // Its bare route was not measured (its probe failed): never a PASS.
      checks.push({ target: `≥ ${minVsBare}× the bare route's req/s`, subject, value: 0, limit: minVsBare, unit: '× min', pass: false, note: 'not measured: no run of the bare route' });
    }
    if (input.bearerCases.includes(row.caseId) && row.vsBare !== undefined) {
      checks.push({
        target: `bearer check within ${TARGETS.bearerVsBare}× of the bare route`,
        subject,
        value: row.vsBare,
        limit: TARGETS.bearerVsBare,
        unit: '×',
        pass: row.vsBare <= TARGETS.bearerVsBare,
        note: row.cpuUs !== undefined && row.bareCpuUs !== undefined ? `CPU per request ${(row.cpuUs / row.bareCpuUs).toFixed(2)}× the bare route's` : undefined,
      });
    }
    if (row.caseId === 'refresh' && row.vsSignWrite !== undefined) {
      const size = sizes.find((s) => s.name === row.size);
      checks.push({
        target: `refresh within ${TARGETS.refreshVsSignWrite}× of sign + one write transaction`,
        subject,
        value: row.vsSignWrite,
        limit: TARGETS.refreshVsSignWrite,
        unit: '×',
        pass: row.vsSignWrite <= TARGETS.refreshVsSignWrite,
        note: size ? `baseline ${Math.round(size.baselines.signWrite.opsPerSecond)}/s` : undefined,
      });
    }
    if (row.connections === 64) {
      checks.push({ target: `p99 under ${TARGETS.p99AtC64Ms} ms at concurrency 64`, subject, value: row.p99, limit: TARGETS.p99AtC64Ms, unit: 'ms', pass: row.p99 < TARGETS.p99AtC64Ms });
    }
  }

  for (const s of scaleRows) {
    const subject = `${s.caseId} c=${s.connections}`;
    const p99Counts = s.p99ExcessMs >= TARGETS.p99NoiseFloorMs;
    const worst = Math.max(s.rpsFactor, p99Counts ? s.p99Factor : 0);
    checks.push({
      target: `no figure more than ${TARGETS.largeDegradation}× worse on the large database`,
      subject,
      value: worst,
      limit: TARGETS.largeDegradation,
      unit: '×',
      pass: worst <= TARGETS.largeDegradation,
      note:
        `req/s ${s.rpsFactor.toFixed(2)}×, p99 ${s.p99Factor.toFixed(2)}×${p99Counts ? '' : ` (not counted: less than ${TARGETS.p99NoiseFloorMs} ms worse)`}` +
        (s.raw
          ? `; ${s.footing === 'rounds' ? "the median of the rounds' factors, the two databases turn about" : "each against its size's bare route, turn about"} (raw: req/s ${s.raw.rpsFactor.toFixed(2)}×, p99 ${s.raw.p99Factor.toFixed(2)}×)`
          : ''),
    });
  }

  if (input.memory) {
    const m = input.memory;
    const short = m.issuances < TARGETS.issuancesForRss;
    checks.push({
      target: `RSS under ${TARGETS.rssAfterIssuancesMiB} MiB after ${TARGETS.issuancesForRss} issuances`,
      subject: `after ${m.issuances} issuances`,
      value: m.rssAfter / MiB,
      limit: TARGETS.rssAfterIssuancesMiB,
      unit: 'MiB',
      pass: !short && m.rssAfter / MiB < TARGETS.rssAfterIssuancesMiB,
      note: `peak ${(m.rssPeak / MiB).toFixed(0)} MiB, after GC ${(m.rssAfterGc / MiB).toFixed(0)} MiB${short ? `; fewer issuances than the target's ${TARGETS.issuancesForRss}: not a result` : ''}`,
    });
  }
  if (input.startup) {
    const st = input.startup;
    checks.push({
      target: `RSS under ${TARGETS.rssIdleMiB} MiB idle after start`,
      subject: 'node src/server.ts',
      value: st.idleRss / MiB,
      limit: TARGETS.rssIdleMiB,
      unit: 'MiB',
      pass: st.idleRss / MiB < TARGETS.rssIdleMiB,
      note: `${st.idleSeconds} s after its first answer`,
    });
    checks.push({
      target: `start-up to first request under ${TARGETS.startupMs} ms on a migrated database`,
      subject: 'node src/server.ts',
      value: st.startupMs,
      limit: TARGETS.startupMs,
      unit: 'ms',
      pass: st.startupMs < TARGETS.startupMs,
      note: `spawn to the first 200 of ${st.firstPath}; median of ${st.attempts.length}: ${st.attempts.map((a) => Math.round(a)).join(', ')} ms`,
    });
  }
  return checks;
}
