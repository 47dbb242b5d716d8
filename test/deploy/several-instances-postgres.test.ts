// Several app instances on ONE PostgreSQL behind real Caddy (issue 12 item 4): the shipped Caddyfile
// with CADDY_INSTANCES=several in front of two real server processes (`node src/server.ts`) that share
// nothing but the database: each has its own DATA_DIR, DATABASE_URL names one PostgreSQL database
// (test/support/postgres.ts, a real server), and the platform keys live in it under PLATFORM_KEYS_KEK.
// Shown here:
//  - a person signs in with the real local PDS and signs up, and a client goes through DCR, consent,
//    token, refresh and revocation, each request of the flow sent to the other instance than the one
//    before (sessions, CSRF, ATProto state, sign-in tickets, pending requests, codes and grants are
//    all in PostgreSQL); then refreshes and /mcp (forward_auth) through Caddy reach both instances;
//  - `kill -9` of one instance under load: the other keeps serving, the only failed requests are POSTs
//    in flight at the kill (Caddy's 502), and every registration the clients were told succeeded (201)
//    is a row in PostgreSQL; the rows written under load are exactly the acknowledged ones plus, at
//    most, those of the requests that failed in flight.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPool, type PgPool } from '../../src/db/postgres/pool.ts';
import { freePort } from '../support/app.ts';
import { chooseUsername, fieldValue, location, pageText, routedBrowser, type Browser } from '../support/browser-flow.ts';
import { exchangeCode, obtainCode, refresh as refreshAt, registerClaudeCode, revoke as revokeAt, type FlowApp, type RegisteredClient } from '../support/oauth-flow.ts';
import { approveAtPds, createPdsAccount, type CookieJar, type PdsAccount } from '../support/pds.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';
import { startServer, stopServer, type ServerProcess } from '../ops/server-process.ts';
import {
  caddyBinary,
  describeFailures,
  killUnderLoad,
  mcpPost,
  send,
  servedBy,
  startCaddy,
  startRecorder,
  type RawRequest,
  type RawResponse,
  type Recorder,
  type RunningCaddy,
} from './support.ts';

const KEK = crypto.randomBytes(32).toString('base64url');

let pg: TestPostgres;
let databaseUrl: string;
let db: PgPool;
let caddy: RunningCaddy;
let wikiMcp: Recorder;
let caddyPort: number;
let apex: string;
let publicUrl: string;
const instances: { port: number; dir: string; server: ServerProcess }[] = [];

beforeAll(async () => {
  caddyBinary();
  pg = await startPostgres();
  databaseUrl = await pg.createDatabase();
  db = createPool({ url: databaseUrl, poolSize: 2 });
  caddyPort = await freePort();
  apex = `localhost:${caddyPort}`;
  publicUrl = `http://${apex}`;
  const env = {
    PUBLIC_URL: publicUrl,
    DATABASE_URL: databaseUrl,
    PLATFORM_KEYS_KEK: KEK,
    PLATFORM_KEYS_POLL_SECONDS: '1',
    JWKS_MAX_AGE_SECONDS: '0',
    ATPROTO_PLC_URL: inject('plcUrl'),
    ATPROTO_HANDLE_RESOLVER: inject('pdsUrl'),
    // The load below comes from loopback: per-address budgets (per instance) are not what is tested here.
    RATE_LIMIT_TRUSTED_NETWORKS: '127.0.0.0/8',
    NEW_WIKIS_PER_DAY: '1000000',
  };
  // Sequential: the first start migrates and writes the development keys into PostgreSQL, the second reads them.
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `robot-auth-pg-instance-${i}-`));
    // debug: every request is one log line (a 2xx /auth/verify only at debug), and we count them.
    instances.push({ port, dir, server: await startServer({ dataDir: dir, port, logLevel: 'debug', env }) });
  }
  wikiMcp = await startRecorder('wiki-mcp');
  caddy = await startCaddy(caddyPort, {
    PLATFORM_DOMAIN: apex,
    WIKI_MCP_UPSTREAM: wikiMcp.address,
    CADDY_INSTANCES: 'several',
    APP_ADDRESS: `127.0.0.1:${instances[0]!.port}`,
    APP_MORE_ADDRESSES: `127.0.0.1:${instances[1]!.port}`,
  });
}, 90_000);

afterAll(async () => {
  // The instances' errors, if any, for whoever reads a failure.
  for (const [i, { server }] of instances.entries()) {
    const errors = server.stdout().split('\n').filter((l) => l.includes('"level":50'));
    if (errors.length > 0) console.log(`instance ${i} logged errors:\n${errors.slice(0, 5).join('\n')}`);
  }
  await caddy?.stop();
  await wikiMcp?.close();
  for (const { server } of instances) if (server.child.exitCode === null && server.child.signalCode === null) await stopServer(server);
  await db?.end();
  await pg?.stop();
  for (const { dir } of instances) fs.rmSync(dir, { recursive: true, force: true });
});

/** How many requests for `marker` an instance has logged (one structured line per request). */
const served = (i: number, marker: string) => servedBy(instances[i]!.server, marker);

/** Waits until the instances' logs (arriving through pipes) have `total` lines for `marker`. */
async function servedCounts(marker: string, total: number): Promise<[number, number]> {
  let counts: [number, number] = [served(0, marker), served(1, marker)];
  for (let tries = 0; tries < 40 && counts[0] + counts[1] < total; tries++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    counts = [served(0, marker), served(1, marker)];
  }
  return counts;
}

/**
 * Sends each request to the other instance than the one before, straight to its port with the
 * issuer's Host (as Caddy forwards it): the flow below cannot pass unless every step finds in
 * PostgreSQL what the other instance wrote. `log` records which instance got which path.
 */
function alternating(): { next(): FlowApp; browser(jar?: CookieJar): Browser; log: { instance: number; path: string }[] } {
  let turn = 0;
  const log: { instance: number; path: string }[] = [];
  const pick = (p: string): { port: number; url: string } => {
    const instance = turn++ % 2;
    const port = instances[instance]!.port;
    log.push({ instance, path: p });
    return { port, url: `http://127.0.0.1:${port}${p}` };
  };
  const target = (p: string): { url: string; headers: Record<string, string> } => {
    const url = /^https?:/.test(p) ? p : `${publicUrl}${p}`;
    // The PDS's redirect to the ATProto loopback callback names one instance's own port: sent as is.
    if (!url.startsWith(`${publicUrl}/`)) return { url, headers: {} };
    return { url: pick(url.slice(publicUrl.length)).url, headers: { host: apex } };
  };
  return {
    log,
    next() {
      const instance = turn++ % 2;
      log.push({ instance, path: '(back channel)' });
      return { url: publicUrl, port: instances[instance]!.port };
    },
    browser: (jar?: CookieJar) => routedBrowser(target, jar),
  };
}

/** Sign-in with the real local PDS and sign-up, ending signed in; every request on the other instance. */
async function signUp(b: Browser, account: PdsAccount): Promise<string> {
  const page = await b.get('/auth/login');
  expect(page.status).toBe(200);
  const started = await b.post('/auth/login', { handle: account.handle, _csrf: fieldValue(page.body, '_csrf') ?? '' });
  expect(started.status, started.body.slice(0, 500)).toBe(303);
  const callbackUrl = await approveAtPds(location(started), account);
  const callback = await b.get(callbackUrl);
  expect(callback.status, callback.body.slice(0, 500)).toBe(303);
  const handoff = await b.get(location(callback));
  expect(handoff.status, handoff.body.slice(0, 500)).toBe(303);
  expect(location(handoff)).toBe('/auth/signup');
  const { suggested, res } = await chooseUsername(b);
  expect(res.status, pageText(res.body).slice(0, 500)).toBe(303);
  return suggested!;
}

const viaCaddy = (r: Omit<RawRequest, 'host'> & { host?: string }): Promise<RawResponse> => send(caddyPort, { host: apex, ...r });
const caddyApp: FlowApp = { get url() { return publicUrl; }, get port() { return caddyPort; } };

const mcpStatus = async (slug: string, token: string) => (await viaCaddy(mcpPost(`${slug}.${apex}`, { Authorization: `Bearer ${token}` }))).status;

describe('two instances on one PostgreSQL behind Caddy (CADDY_INSTANCES=several)', () => {
  let client: RegisteredClient;
  let refreshToken: string;
  let slug: string;

  it('serves from PostgreSQL on both: no SQLite file, /healthz ok, one key set', async () => {
    for (const { port, dir } of instances) {
      const health = await send(port, { host: apex, path: '/healthz' });
      expect(JSON.parse(health.body)).toEqual({ status: 'ok', database: 'ok' });
      expect(fs.readdirSync(dir).filter((f) => f.includes('sqlite'))).toEqual([]);
    }
    const jwks = await Promise.all(instances.map(async ({ port }) => JSON.parse((await send(port, { host: apex, path: '/.well-known/jwks.json' })).body) as unknown));
    expect(jwks[1]).toEqual(jwks[0]);
  });

  it('a person signs in and a client goes through DCR, consent, token, refresh and revocation, each request on the other instance', async () => {
    const route = alternating();
    const account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'pgmany' });
    const b = route.browser();
    slug = await signUp(b, account);
    expect((await db.query('SELECT did FROM users WHERE username = $1', [slug])).rows).toEqual([{ did: account.did }]);

    client = await registerClaudeCode(route.next());
    const person = { browser: b, mcpUrl: `http://${slug}.${apex}/mcp` };
    const issued = await obtainCode(client, person, caddyApp);
    const tokens = await exchangeCode(route.next(), client, issued);
    refreshToken = tokens.refresh_token;
    for (let i = 0; i < 4; i++) {
      const res = await refreshAt(route.next(), client, refreshToken);
      expect(res.status, res.raw).toBe(200);
      refreshToken = String(res.body.refresh_token);
    }
    // Both instances served the flow, turn about.
    const byInstance = [0, 1].map((i) => route.log.filter((l) => l.instance === i).length);
    expect(byInstance[0]).toBeGreaterThan(4);
    expect(byInstance[1]).toBeGreaterThan(4);
    expect(route.log.some((l) => l.instance === 0 && l.path.startsWith('/auth/oauth/consent'))).toBe(true);
    expect(route.log.some((l) => l.instance === 1 && l.path.startsWith('/auth/oauth/consent'))).toBe(true);

    // Through Caddy now: 20 refreshes and 10 /mcp calls reach both instances (least_conn ties at random).
    const tokensSeen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const res = await refreshAt(caddyApp, client, refreshToken);
      expect(res.status, res.raw).toBe(200);
      refreshToken = String(res.body.refresh_token);
      tokensSeen.push(String(res.body.access_token));
    }
    for (let i = 0; i < 10; i++) expect(await mcpStatus(slug, tokensSeen.at(-1)!)).toBe(200);
    const tokenCounts = await servedCounts('/auth/oauth/token', 1 + 4 + 20);
    expect(tokenCounts[0]).toBeGreaterThan(0);
    expect(tokenCounts[1]).toBeGreaterThan(0);
    expect(served(0, '/auth/verify') > 0 && served(1, '/auth/verify') > 0).toBe(true);

    // One rotation chain in PostgreSQL: exactly one refresh token of the grant not yet rotated.
    const live = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM refresh_tokens r JOIN oauth_grants g ON g.id = r.grant_id WHERE g.client_id = $1 AND r.rotated_at IS NULL AND g.revoked_at IS NULL',
      [client.clientId],
    );
    expect(live.rows[0]!.n).toBe(1);

    // Revoked through one instance, refused by both.
    const revoked = await revokeAt(route.next(), client, refreshToken);
    expect(revoked.status, revoked.raw).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await refreshAt(route.next(), client, refreshToken);
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: 'invalid_grant' });
    }
    for (let i = 0; i < 4; i++) expect(await mcpStatus(slug, tokensSeen.at(-1)!)).toBe(401);
  }, 120_000);

  it('kill -9 of one instance under load: the other serves, only POSTs in flight fail, no acknowledged row is lost', async () => {
    const run = await killUnderLoad({ viaCaddy, victim: instances[0]!.server, namePrefix: 'pg-load-' });
    const { acknowledged, failed } = run;
    expect(served(1, '?load=')).toBeGreaterThan(0);
    // Every registration acknowledged with 201 is a row in PostgreSQL; the only other rows written
    // under load are those of requests that failed in flight (committed, then the answer was lost).
    const stored = (await db.query<{ client_id: string; metadata: string }>('SELECT client_id, metadata FROM oauth_clients')).rows.filter((r) =>
      (JSON.parse(r.metadata) as { client_name?: string }).client_name?.startsWith('pg-load-'),
    );
    const storedIds = new Set(stored.map((r) => r.client_id));
    expect(acknowledged.filter((id) => !storedIds.has(id))).toEqual([]);
    expect(stored.length).toBeGreaterThanOrEqual(acknowledged.length);
    expect(stored.length).toBeLessThanOrEqual(acknowledged.length + failed.length);
    // The survivor still answers /healthz ok (its pool is untouched by the other's death).
    expect(JSON.parse((await send(instances[1]!.port, { host: apex, path: '/healthz' })).body)).toEqual({ status: 'ok', database: 'ok' });
    console.log(
      `several instances on PostgreSQL: ${run.outcomes.length} requests, ${acknowledged.length} registrations acknowledged, ${stored.length} stored, ${describeFailures(run)}`,
    );
  }, 60_000);
});
