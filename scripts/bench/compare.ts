// The same-run comparison with node-oidc-provider (issue 11 item 1): for each algorithm, the app
// child (ACCESS_TOKEN_ALG set) and then the peer child (peer-oidc.ts, same algorithm) run the same
// cases on the same pinned core at the same concurrencies; rows are robot-auth ÷ oidc-provider.
// A side is "not available" when it cannot issue that algorithm (the app ignores or refuses
// ACCESS_TOKEN_ALG on a branch without ES256 access tokens): reported, never an error.
import { COMPARED_CASE_IDS, type ComparedCaseId } from './cases.ts';
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
  /** robot-auth req/s ÷ oidc-provider req/s (> 1: robot-auth is faster). */
  ratio?: number;
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

export function buildComparisonRows(results: ComparisonResult[], connections: number[]): ComparisonRow[] {
  const rows: ComparisonRow[] = [];
  for (const r of results) {
    for (const caseId of COMPARED_CASE_IDS) {
      const app = r.app.cases.find((c) => c.id === caseId);
      const peer = r.peer.cases.find((c) => c.id === caseId);
      for (const conc of connections) {
        const a = r.app.available && !app?.failed ? app?.runs.find((x) => x.connections === conc) : undefined;
        const p = r.peer.available && !peer?.failed ? peer?.runs.find((x) => x.connections === conc) : undefined;
        const notes = [
          !r.app.available ? `robot-auth ${r.alg} not available: ${r.app.reason ?? ''}` : app?.failed ? `robot-auth: ${app.failed}` : undefined,
          !r.peer.available ? `oidc-provider ${r.alg} not available: ${r.peer.reason ?? ''}` : peer?.failed ? `oidc-provider: ${peer.failed}` : undefined,
        ].filter((n): n is string => n !== undefined);
        rows.push({
          alg: r.alg,
          caseId,
          connections: conc,
          appRps: a?.rps,
          appP50: a?.p50,
          appP99: a?.p99,
          peerRps: p?.rps,
          peerP50: p?.p50,
          peerP99: p?.p99,
          appCpuUs: a?.cpuUsPerRequest,
          peerCpuUs: p?.cpuUsPerRequest,
          ratio: a && p && p.rps > 0 ? a.rps / p.rps : undefined,
          failures: (a ? a.non2xx + a.errors : 0) + (p ? p.non2xx + p.errors : 0),
          note: notes.length > 0 ? notes.join('; ') : undefined,
        });
      }
    }
  }
  return rows;
}
