// The bench's node-oidc-provider peer (scripts/bench/peer-oidc.ts) is configured as docs/benchmarks.md
// says, or the comparison compares with something else: JWT access tokens in the algorithm under
// test, refresh rotation on, PKCE required, RFC 8414 metadata at the measured path. And the
// comparison's targets never PASS on a side that was not measured. No timing is asserted.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchChild } from '../../scripts/bench/child.ts';
import { accessTokenAlg, buildComparisonRows, type ComparisonResult } from '../../scripts/bench/compare.ts';
import { probe } from '../../scripts/bench/load.ts';
import type { ReadyMessage } from '../../scripts/bench/protocol.ts';
import type { CaseResult } from '../../scripts/bench/report.ts';
import { evaluate } from '../../scripts/bench/targets.ts';

const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/bench/peer-oidc.ts');
const FORM = { 'content-type': 'application/x-www-form-urlencoded', host: 'localhost:3000' };

function claims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe.each(['RS256', 'ES256'] as const)('node-oidc-provider peer, %s', (alg) => {
  let child: BenchChild;
  let port: number;

  beforeAll(async () => {
    child = new BenchChild({ script: SCRIPT, env: { PATH: process.env.PATH, HOME: process.env.HOME, BENCH_ALG: alg, BENCH_GRANTS: '20' } });
    port = (await child.waitFor<ReadyMessage>('ready', 60_000)).appPort;
  });
  afterAll(async () => {
    await child.stop();
  });

  it('issues an at+jwt access token in the algorithm under test, for the wiki asked for, and rotates the refresh token', async () => {
    const [body] = await child.request<string[]>({ type: 'refresh-pool', count: 1 });
    if (!body) throw new Error('empty pool');
    const first = await probe(port, { method: 'POST', path: '/token', headers: FORM, body });
    expect(first.status).toBe(200);
    expect(accessTokenAlg(first.body)).toBe(alg);
    const answer = JSON.parse(first.body) as { access_token: string; refresh_token?: string };
    const header = JSON.parse(Buffer.from(answer.access_token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { typ?: string };
    expect(header.typ).toBe('at+jwt');
    expect(claims(answer.access_token).aud).toBe(new URLSearchParams(body).get('resource'));
    // Rotation: a new refresh token, and the presented one is spent.
    expect(answer.refresh_token).toBeTruthy();
    expect(answer.refresh_token).not.toBe(new URLSearchParams(body).get('refresh_token'));
    const again = await probe(port, { method: 'POST', path: '/token', headers: FORM, body });
    expect(again.status).toBe(400);
    expect(again.body).toContain('invalid_grant');
  });

  it('requires PKCE on the code exchange and issues a refresh token with it', async () => {
    const [body] = await child.request<string[]>({ type: 'code-pool', count: 2 });
    if (!body) throw new Error('empty pool');
    const withoutVerifier = new URLSearchParams(body);
    withoutVerifier.delete('code_verifier');
    const refused = await probe(port, { method: 'POST', path: '/token', headers: FORM, body: withoutVerifier.toString() });
    expect(refused.status).toBe(400);
    const [fresh] = await child.request<string[]>({ type: 'code-pool', count: 1 });
    if (!fresh) throw new Error('empty pool');
    const wrongVerifier = new URLSearchParams(fresh);
    wrongVerifier.set('code_verifier', 'x'.repeat(43));
    expect((await probe(port, { method: 'POST', path: '/token', headers: FORM, body: wrongVerifier.toString() })).status).toBe(400);
    const [good] = await child.request<string[]>({ type: 'code-pool', count: 1 });
    if (!good) throw new Error('empty pool');
    const ok = await probe(port, { method: 'POST', path: '/token', headers: FORM, body: good });
    expect(ok.status).toBe(200);
    expect(accessTokenAlg(ok.body)).toBe(alg);
    expect(ok.body).toContain('"refresh_token"');
  });

  it('serves RFC 8414 metadata at the path measured on both sides, with PKCE S256 only', async () => {
    const answer = await probe(port, { method: 'GET', path: '/.well-known/oauth-authorization-server', headers: { host: 'localhost:3000' } });
    expect(answer.status).toBe(200);
    const metadata = JSON.parse(answer.body) as { issuer: string; code_challenge_methods_supported?: string[] };
    expect(metadata.issuer).toBe('http://localhost:3000');
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });
});

describe('comparison targets', () => {
  const run = (connections: number, rps: number) => ({ connections, duration: 1, rps, p50: 1, p99: 10, max: 12, mean: 1, ok: rps, non2xx: 0, errors: 0, timeouts: 0, statusCodes: {} });
  const cases = (rps: number): CaseResult[] =>
    (['refresh', 'authcode', 'as-metadata'] as const).map((id) => ({ id, label: id, exhausted: 0, runs: [run(16, rps), run(64, rps)] }));

  it('is robot-auth ÷ oidc-provider, PASS at the limit and MISS below it', () => {
    const results: ComparisonResult[] = [
      { alg: 'RS256', app: { available: true, cases: cases(1200) }, peer: { available: true, cases: cases(1000) } },
      { alg: 'ES256', app: { available: true, cases: cases(1400) }, peer: { available: true, cases: cases(1000) } },
    ];
    const rows = buildComparisonRows(results, [16, 64]);
    expect(rows.find((r) => r.alg === 'RS256' && r.caseId === 'refresh' && r.connections === 16)?.ratio).toBeCloseTo(1.2);
    const checks = evaluate({ rows: [], scaleRows: [], bearerCases: [], sizes: [], comparison: rows });
    const vsPeer = checks.filter((c) => c.target.startsWith('robot-auth ≥'));
    // refresh and authcode at c=16 and c=64, for each algorithm.
    expect(vsPeer).toHaveLength(8);
    expect(vsPeer.filter((c) => c.subject.startsWith('RS256')).every((c) => c.pass)).toBe(true);
    expect(vsPeer.filter((c) => c.subject.startsWith('ES256')).every((c) => !c.pass)).toBe(true);
  });

  it('takes the median of the rounds: one slow window does not decide a target', () => {
    // Three rounds, turn about; the app's second round ran in a slow window (ratio 0.8).
    const rounds = (rps: number[]): CaseResult[] =>
      (['refresh', 'authcode', 'as-metadata'] as const).map((id) => ({ id, label: id, exhausted: 0, runs: rps.flatMap((x) => [run(16, x), run(64, x)]) }));
    const results: ComparisonResult[] = [
      { alg: 'ES256', app: { available: true, cases: rounds([1600, 800, 1550]) }, peer: { available: true, cases: rounds([1000, 1000, 1000]) } },
    ];
    const row = buildComparisonRows(results, [16, 64]).find((r) => r.caseId === 'refresh' && r.connections === 16);
    expect(row?.roundRatios).toEqual([1.6, 0.8, 1.55]);
    expect(row?.ratio).toBeCloseTo(1.55);
    expect(row?.appRps).toBe(1550);
    const checks = evaluate({ rows: [], scaleRows: [], bearerCases: [], sizes: [], comparison: buildComparisonRows(results, [16, 64]) });
    expect(checks.filter((c) => c.target.startsWith('robot-auth ≥')).every((c) => c.pass)).toBe(true);
  });

  it('never passes a side that was not measured', () => {
    const results: ComparisonResult[] = [
      { alg: 'ES256', app: { available: false, reason: 'ACCESS_TOKEN_ALG is not implemented here', cases: [] }, peer: { available: true, cases: cases(1000) } },
    ];
    const rows = buildComparisonRows(results, [16, 64]);
    expect(rows.every((r) => r.ratio === undefined && r.appRps === undefined)).toBe(true);
    const checks = evaluate({ rows: [], scaleRows: [], bearerCases: [], sizes: [], comparison: rows });
    expect(checks.length).toBeGreaterThan(0);
    expect(checks.every((c) => !c.pass && (c.note ?? '').includes('not available'))).toBe(true);
  });
});
