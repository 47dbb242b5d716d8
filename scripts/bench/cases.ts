// The load cases: what each one sends, to which app, and which bare route it is compared with.
// Token requests draw from a pool of single-use values provisioned just before the run (one refresh
// token or code per request: rotation is measured, never the grace-period reuse of a token).
import type { RequestSpec } from 'autocannon';
import type { BenchChild } from './child.ts';
import type { AccessTokenForWiki } from './protocol.ts';
import { APEX_HOST } from './seed.ts';

export type CaseId =
  | 'refresh'
  | 'authcode'
  | 'verify'
  | 'whoami'
  | 'as-metadata'
  | 'prm'
  | 'bare-token'
  | 'bare-verify'
  | 'bare-mcp'
  | 'bare-json';

export interface BuildContext {
  child: BenchChild;
  /** Length of the run the requests are for (seconds). */
  seconds: number;
  connections: number;
  /** Access tokens for wikis spread over the database. */
  tokens: AccessTokenForWiki[];
  /** Upper bound on token requests per second (sizes the pools). */
  poolRate: number;
}

export interface BuiltRequests {
  requests: RequestSpec[];
  /** Requests that found the pool empty (they were sent an invalid value and failed). */
  exhausted(): number;
}

export interface LoadCase {
  id: CaseId;
  label: string;
  /** The bench child's app, or its bare Express app. */
  app: 'app' | 'bare';
  /** The bare route this case is compared with. */
  bare?: CaseId;
  /** Token endpoint cases are also compared with the signing baselines. */
  issuesTokens?: boolean;
  /** Bearer-check cases have the 1.5× target. */
  bearer?: boolean;
  /** What a correct answer's body contains (checked on the probe request). */
  expect?: string;
  build(b: BuildContext): Promise<BuiltRequests>;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const TOKEN_PATH = '/auth/oauth/token';
export const AS_METADATA_PATH = '/.well-known/oauth-authorization-server';

export const WHOAMI_CALL = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' };

/** A POST whose body is the next unused pool value; an empty pool sends an invalid one (counted). */
function fromPool(path: string, pool: string[]): BuiltRequests {
  let next = 0;
  let exhausted = 0;
  return {
    requests: [
      {
        method: 'POST',
        path,
        headers: { ...FORM, host: APEX_HOST },
        setupRequest(req) {
          const body = pool[next++];
          if (body === undefined) exhausted++;
          return { ...req, body: body ?? 'grant_type=refresh_token&refresh_token=pool-exhausted&client_id=none' };
        },
      },
    ],
    exhausted: () => exhausted,
  };
}

/**
 * One request per access token (and so per wiki and grant), built once: autocannon cycles through
 * them on each connection and sends each one's prebuilt bytes. A setupRequest per request instead
 * made it build every request anew, and at ~20k req/s the load generator's core, not the app's,
 * set the pace (0.8–0.99 cores: round 11), while the bare routes it is compared with send one fixed request.
 */
function withTokens(b: BuildContext, spec: (t: AccessTokenForWiki) => RequestSpec): BuiltRequests {
  if (b.tokens.length === 0) throw new Error('no access tokens');
  return { requests: b.tokens.map(spec), exhausted: () => 0 };
}

const poolSize = (b: BuildContext): number => Math.ceil(b.poolRate * b.seconds) + b.connections * 4 + 10;

const fixed = (spec: RequestSpec): BuiltRequests => ({ requests: [spec], exhausted: () => 0 });

export const CASES: LoadCase[] = [
  {
    id: 'bare-token',
    label: 'bare POST (form → canned token JSON)',
    app: 'bare',
    build: async () => fixed({ method: 'POST', path: '/bare/token', headers: FORM, body: 'grant_type=refresh_token&refresh_token=x&client_id=y' }),
  },
  {
    id: 'refresh',
    label: 'POST /token refresh_token',
    app: 'app',
    bare: 'bare-token',
    issuesTokens: true,
    expect: '"access_token"',
    build: async (b) => fromPool(TOKEN_PATH, await b.child.request<string[]>({ type: 'refresh-pool', count: poolSize(b) })),
  },
  {
    id: 'authcode',
    label: 'POST /token authorization_code',
    app: 'app',
    bare: 'bare-token',
    issuesTokens: true,
    expect: '"access_token"',
    build: async (b) => fromPool(TOKEN_PATH, await b.child.request<string[]>({ type: 'code-pool', count: poolSize(b) })),
  },
  {
    id: 'bare-verify',
    label: 'bare GET (200 + X-Auth-* headers)',
    app: 'bare',
    build: async () => fixed({ method: 'GET', path: '/bare/verify' }),
  },
  {
    id: 'verify',
    label: 'GET /auth/verify',
    app: 'app',
    bare: 'bare-verify',
    bearer: true,
    build: async (b) =>
      withTokens(b, (t) => ({
        method: 'GET',
        path: '/auth/verify',
        headers: { host: t.host, 'x-forwarded-host': t.host, authorization: `Bearer ${t.token}` },
      })),
  },
  {
    id: 'bare-mcp',
    label: 'bare POST (JSON → canned JSON-RPC)',
    app: 'bare',
    build: async () => fixed({ method: 'POST', path: '/bare/mcp', headers: MCP_HEADERS, body: WHOAMI_CALL }),
  },
  {
    id: 'whoami',
    label: 'POST /mcp tools/call whoami',
    app: 'app',
    bare: 'bare-mcp',
    bearer: true,
    expect: '"structuredContent"',
    build: async (b) =>
      withTokens(b, (t) => ({
        method: 'POST',
        path: '/mcp',
        headers: { ...MCP_HEADERS, host: t.host, authorization: `Bearer ${t.token}` },
        body: WHOAMI_CALL,
      })),
  },
  {
    id: 'bare-json',
    label: 'bare GET (canned metadata JSON)',
    app: 'bare',
    build: async () => fixed({ method: 'GET', path: '/bare/json' }),
  },
  {
    id: 'as-metadata',
    label: 'GET AS metadata',
    app: 'app',
    bare: 'bare-json',
    expect: '"issuer"',
    build: async () => fixed({ method: 'GET', path: AS_METADATA_PATH, headers: { host: APEX_HOST } }),
  },
  {
    id: 'prm',
    label: 'GET PRM (/mcp, wiki host)',
    app: 'app',
    bare: 'bare-json',
    expect: '"authorization_servers"',
    build: async (b) => withTokens(b, (t) => ({ method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', headers: { host: t.host } })),
  },
];

/**
 * The bare route a read case runs turn about with (run.ts runSizes, --edge-rounds): every app case
 * with a bare route that issues no tokens. The token cases keep their bare route as a case of its
 * own: their targets compare them with the signing loops and with oidc-provider, not with it.
 */
export function pairedBare(def: LoadCase): LoadCase | undefined {
  if (def.app !== 'app' || def.issuesTokens || !def.bare) return undefined;
  const bare = CASES.find((c) => c.id === def.bare);
  if (!bare) throw new Error(`case ${def.id} names an unknown bare route ${def.bare}`);
  return bare;
}

/**
 * The cases a run measures, in CASES order: all of them, or `only`'s with their bare routes. A bare
 * route that only paired cases name is measured with them (pairedBare), not as a case of its own,
 * unless `only` asks for it by name.
 */
export function selectCases(only?: string[]): LoadCase[] {
  const wanted = new Set(only ?? CASES.map((c) => c.id));
  for (const id of wanted) if (!CASES.some((c) => c.id === id)) throw new Error(`unknown case "${id}"`);
  for (const c of CASES) if (wanted.has(c.id) && c.bare) wanted.add(c.bare);
  const selected = CASES.filter((c) => wanted.has(c.id));
  const namedBy = (bare: LoadCase, paired: boolean) => selected.some((c) => c.bare === bare.id && (pairedBare(c) !== undefined) === paired);
  const asked = new Set(only ?? []);
  return selected.filter((c) => c.app !== 'bare' || asked.has(c.id) || namedBy(c, false) || !namedBy(c, true));
}

/** The peer's token endpoint (node-oidc-provider mounts it at /token). */
const PEER_TOKEN_PATH = '/token';

/**
 * The cases measured on both sides of the oidc-provider comparison (issue 11 item 1). The app side
 * runs the CASES of the same id; these are the peer's: the same bodies from its own pools, the
 * same discovery document path (node-oidc-provider serves RFC 8414 metadata there too).
 */
export const COMPARED_CASE_IDS = ['refresh', 'authcode', 'as-metadata'] as const satisfies readonly CaseId[];
export type ComparedCaseId = (typeof COMPARED_CASE_IDS)[number];

export const PEER_CASES: LoadCase[] = [
  {
    id: 'refresh',
    label: 'oidc-provider POST /token refresh_token',
    app: 'app',
    issuesTokens: true,
    expect: '"refresh_token"',
    build: async (b) => fromPool(PEER_TOKEN_PATH, await b.child.request<string[]>({ type: 'refresh-pool', count: poolSize(b) })),
  },
  {
    id: 'authcode',
    label: 'oidc-provider POST /token authorization_code',
    app: 'app',
    issuesTokens: true,
    expect: '"refresh_token"',
    build: async (b) => fromPool(PEER_TOKEN_PATH, await b.child.request<string[]>({ type: 'code-pool', count: poolSize(b) })),
  },
  {
    id: 'as-metadata',
    label: 'oidc-provider GET AS metadata',
    app: 'app',
    expect: '"issuer"',
    build: async () => fixed({ method: 'GET', path: AS_METADATA_PATH, headers: { host: APEX_HOST } }),
  },
];

