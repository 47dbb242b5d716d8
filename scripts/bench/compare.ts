// The same-run comparison with node-oidc-provider (issue 11 item 1): for each algorithm, the app
// child (ACCESS_TOKEN_ALG set) and then the peer child (peer-oidc.ts, same algorithm) run the same
// cases on the same pinned core at the same concurrencies; rows are robot-auth ÷ oidc-provider.
// A side is "not available" when it cannot issue that algorithm (the app ignores or refuses
// ACCESS_TOKEN_ALG on a branch without ES256 access tokens): reported, never an error.
// Each figure is measured in rounds (run.ts --compare-rounds, turn about): a row holds the median
// of the rounds, and its ratio is the median of the rounds' ratios (each round's two runs a few
// seconds apart), so that one slow window of a shared VM does not decide a target.
import { COMPARED_CASE_IDS, type ComparedCaseId } from './cases.ts';
import type { RunResult } from './load.ts';
import type { CaseResult } from './report.ts';

export const ALGS = ['RS256', 'ES256'] as const;
export type Alg = (typeof ALGS)[number];

export interface SideResult {
  available: boolean;
  /** Why the side was not measured. */
  reason?: string;
  /** The `alg` of the access token the side's probe request was answered with. */
  issuedAlg?: string;
  cases: CaseResult[];
}

export interface ComparisonResult {
  alg: Alg;
  app: SideResult;
  peer: SideResult;
}

export interface ComparisonRow {
  alg: Alg;
  caseId: ComparedCaseId;
  connections: number;
  appRps?: number;
  appP50?: number;
  appP99?: number;
  peerRps?: number;
  peerP50?: number;
  peerP99?: number;
  /** CPU time of each side's process per 2xx answer, µs (the figure other load disturbs least). */
  appCpuUs?: number;
  peerCpuUs?: number;
  /** robot-auth req/s ÷ oidc-provider req/s (> 1: robot-auth is faster): the median of the rounds' ratios. */
  ratio?: number;
  /** The rounds' ratios, in the order they ran. */
  roundRatios?: number[];
  /** Failed requests on either side. */
  failures: number;
  note?: string;
}

/** The `alg` in the header of the access token a /token answer carries (undefined: none). */
export function accessTokenAlg(body: string): string | undefined {
  try {
    const token = (JSON.parse(body) as { access_token?: unknown }).access_token;
    if (typeof token !== 'string') return undefined;
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof header.alg === 'string' ? header.alg : undefined;
  } catch {
    return undefined;
  }
}

/** The median (the mean of the middle two for an even count); undefined for none. */
export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The median of one figure of some runs (those that have it). */
export const medianOf = (runs: RunResult[], pick: (r: RunResult) => number | undefined): number | undefined =>
  median(runs.map(pick).filter((v): v is number => v !== undefined));

export function buildComparisonRows(results: ComparisonResult[], connections: number[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const r of results) {
    for (const caseId of COMPARED_CASE_IDS) {
      const app = r.app.cases.find((c) => c.id === caseId);
      const peer = r.peer.cases.find((c) => c.id === caseId);
      for (const conc of connections) {
        // One run per round at this concurrency, in the order the rounds ran.
        const a = r.app.available && !app?.failed ? (app?.runs.filter((x) => x.connections === conc) ?? []) : [];
        const p = r.peer.available && !peer?.failed ? (peer?.runs.filter((x) => x.connections === conc) ?? []) : [];
        const rounds = Math.min(a.length, p.length);
        const roundRatios = Array.from({ length: rounds }, (_, k) => {
          const peerRps = p[k]?.rps ?? 0;
          return peerRps > 0 ? (a[k]?.rps ?? 0) / peerRps : undefined;
        }).filter((v): v is number => v !== undefined);
        const notes = [
          !r.app.available ? `robot-auth ${r.alg} not available: ${r.app.reason ?? ''}` : app?.failed ? `robot-auth: ${app.failed}` : undefined,
          !r.peer.available ? `oidc-provider ${r.alg} not available: ${r.peer.reason ?? ''}` : peer?.failed ? `oidc-provider: ${peer.failed}` : undefined,
        ].filter((n): n is string => n !== undefined);
        rows.push({
          alg: r.alg,
          caseId,
          connections: conc,
          appRps: medianOf(a, (x) => x.rps),
          appP50: medianOf(a, (x) => x.p50),
          appP99: medianOf(a, (x) => x.p99),
          peerRps: medianOf(p, (x) => x.rps),
          peerP50: medianOf(p, (x) => x.p50),
          peerP99: medianOf(p, (x) => x.p99),
          appCpuUs: medianOf(a, (x) => x.cpuUsPerRequest),
          peerCpuUs: medianOf(p, (x) => x.cpuUsPerRequest),
          ratio: median(roundRatios),
          roundRatios: roundRatios.length > 1 ? roundRatios : undefined,
          failures: [...a, ...p].reduce((n, x) => n + x.non2xx + x.errors, 0),
          note: notes.length > 0 ? notes.join('; ') : undefined,
        });
      }
    }
  }
  return rows;
}
