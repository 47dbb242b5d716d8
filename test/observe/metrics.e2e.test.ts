// Issue 13 item 2: /metrics is scraped from its own loopback listener while real flows run (a
// sign-in and signup against the local PDS, an OAuth authorization with refresh and a replay, a
// 429, a client metadata document that cannot be fetched), and each counter moves.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMetricsServer } from '../../src/metrics/metrics-server.ts';
import { routeGroup } from '../../src/metrics/route-groups.ts';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { browser, signUpNew } from '../support/browser-flow.ts';
import { createPdsAccount, httpRequest } from '../support/pds.ts';
import type { TestApp } from '../support/app.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { seedPerson } from '../support/seed.ts';
import { exchangeCode, obtainCode, refresh, registerClaudeCode } from '../support/oauth-flow.ts';

let app: TestApp;
let metricsServer: http.Server;
let metricsUrl: string;

beforeAll(async () => {
  app = await startConformanceApp({ RATE_LIMIT_DISCOVERY_PER_MINUTE: '3' });
  metricsServer = await startMetricsServer(app.ctx.metrics, { port: 0, host: '127.0.0.1' }, app.ctx.log);
  metricsUrl = `http://127.0.0.1:${(metricsServer.address() as AddressInfo).port}/metrics`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => metricsServer?.close(() => resolve()));
  await app?.close();
});

/** Scrapes /metrics and returns `name{labels}` → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(metricsUrl);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const samples = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}
const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

describe('/metrics', () => {
  it('is served on its own listener only: the public port answers 404', async () => {
    const res = await httpRequest(`${app.url}/metrics`);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('robot_auth_');
    const other = await fetch(metricsUrl.replace('/metrics', '/'));
    expect(other.status).toBe(404);
  });

  it('carries the process defaults: event loop lag, heap, RSS', async () => {
    const samples = await scrape();
    expect(samples.has('robot_auth_nodejs_eventloop_lag_seconds')).toBe(true);
    expect([...samples.keys()].some((k) => k.startsWith('robot_auth_nodejs_heap_size_used_bytes'))).toBe(true);
    expect(value(samples, 'robot_auth_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts a real ATProto sign-in and signup at the local PDS: started, completed; a forged callback: failed', async () => {
    const before = await scrape();
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'metrics' });
    await signUpNew(app, browser(app), account);
    const forged = await httpRequest(`http://127.0.0.1:${app.port}/auth/callback?state=forged&code=forged&iss=${encodeURIComponent(inject('pdsUrl'))}`);
    expect(forged.status).toBe(400);
    const after = await scrape();
    expect(value(after, 'robot_auth_sign_ins_total{stage="started",reason=""}') - value(before, 'robot_auth_sign_ins_total{stage="started",reason=""}')).toBe(1);
    expect(value(after, 'robot_auth_sign_ins_total{stage="completed",reason=""}') - value(before, 'robot_auth_sign_ins_total{stage="completed",reason=""}')).toBe(1);
    expect(value(after, 'robot_auth_sign_ins_total{stage="failed",reason="callback"}')).toBe(value(before, 'robot_auth_sign_ins_total{stage="failed",reason="callback"}') + 1);
    expect(value(after, 'robot_auth_audit_events_total{event="signup"}')).toBeGreaterThan(value(before, 'robot_auth_audit_events_total{event="signup"}'));
  });

  it('counts tokens by grant type, a refresh replay with its revocation, requests by group and status, and database writes', async () => {
    const before = await scrape();
    const client = await registerClaudeCode(app);
    const person = await seedPerson(app, 'metricsperson');
    const tokens = await exchangeCode(app, client, await obtainCode(client, person, app));
    const first = await refresh(app, client, tokens.refresh_token);
    expect(first.status).toBe(200);
    const second = await refresh(app, client, String(first.body.refresh_token));
    expect(second.status).toBe(200);
    // The first refresh token again, after its successor was itself rotated: a replay.
    const replay = await refresh(app, client, tokens.refresh_token);
    expect(replay.status).toBe(400);
    const after = await scrape();
    const delta = (key: string) => value(after, key) - value(before, key);
    expect(delta('robot_auth_tokens_issued_total{grant_type="authorization_code"}')).toBe(1);
    expect(delta('robot_auth_tokens_issued_total{grant_type="refresh_token"}')).toBe(2);
    expect(delta('robot_auth_refresh_replays_total{reason="successor_rotated"}')).toBe(1);
    expect(delta('robot_auth_grants_revoked_total{by="replay"}')).toBe(1);
    expect(delta('robot_auth_http_request_duration_seconds_count{group="token",status="200"}')).toBe(3);
    expect(delta('robot_auth_http_request_duration_seconds_count{group="token",status="400"}')).toBe(1);
    expect(delta('robot_auth_http_request_duration_seconds_count{group="register",status="201"}')).toBe(1);
    expect(delta('robot_auth_http_request_duration_seconds_count{group="authorize",status="303"}')).toBeGreaterThanOrEqual(2);
    expect(delta('robot_auth_db_write_duration_seconds_count')).toBeGreaterThanOrEqual(6);
    // Labels are route groups, never raw paths.
    expect([...after.keys()].some((k) => k.includes('/auth/oauth'))).toBe(false);
  });

  it('counts 429s by budget and key kind', async () => {
    const before = await scrape();
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await httpRequest(`${app.url}/.well-known/oauth-authorization-server`)).status);
    expect(statuses).toContain(429);
    const after = await scrape();
    const key = 'robot_auth_rate_limited_total{budget="discovery",key="address"}';
    expect(value(after, key) - value(before, key)).toBe(statuses.filter((s) => s === 429).length);
  });

  it('counts a client metadata document that could not be fetched', async () => {
    const before = await scrape();
    const person = await seedPerson(app, 'metricsdoc');
    const clientId = 'https://127.0.0.1:1/client-metadata.json';
    const res = await person.browser.get(
      `${OAUTH_PATHS.authorize}?response_type=code&client_id=${encodeURIComponent(clientId)}&redirect_uri=${encodeURIComponent('https://127.0.0.1:1/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=s`,
    );
    expect(res.status).toBeGreaterThanOrEqual(400);
    const after = await scrape();
    expect(value(after, 'robot_auth_client_metadata_documents_total{outcome="failed"}') - value(before, 'robot_auth_client_metadata_documents_total{outcome="failed"}')).toBe(1);
  });
});

describe('routeGroup', () => {
  it('maps paths to a small fixed set', () => {
    expect(routeGroup('/auth/oauth/token')).toBe('token');
    expect(routeGroup('/token')).toBe('token');
    expect(routeGroup('/auth/oauth/consent')).toBe('authorize');
    expect(routeGroup('/.well-known/oauth-protected-resource/mcp')).toBe('metadata');
    expect(routeGroup('/mcp')).toBe('mcp');
    expect(routeGroup('/auth/verify')).toBe('verify');
    expect(routeGroup('/auth/callback')).toBe('sign_in');
    expect(routeGroup('/account/apps/revoke')).toBe('account');
    expect(routeGroup('/anything/else/123')).toBe('other');
  });
});
