// Several app instances behind real Caddy (issue 12 item 4): the shipped Caddyfile with
// CADDY_INSTANCES=several (deploy/caddy/instances-several.caddy) in front of two real server processes
// (`node src/server.ts`) that share one SQLite database (WAL, one machine) and the platform keys in it
// (PLATFORM_KEYS_KEK). Shown here:
//  - requests alternate between the instances, and a client's DCR, refresh chain and revocation work
//    whichever instance answers each step;
//  - a key rotation made with the admin CLI reaches both running instances (no restart), both publish
//    the same JWKS, and tokens of either key verify through either instance;
//  - `kill -9` of one instance under load: the other keeps serving, the only failed requests are POSTs
//    that were in flight at the kill (502; GETs in flight are retried by Caddy, requests that could not
//    be delivered are retried whatever their method), Caddy's health checks take the dead one out, and
//    every registration the clients were told succeeded (201) is in the database.
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../../src/storage/sqlite/sqlite-store.ts';
import * as jose from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/admin/program.ts';
import { freePort } from '../support/app.ts';
import { startServer, stopServer, type ServerProcess } from '../ops/server-process.ts';
import { captureIo } from '../support/cli-io.ts';
import { seedClient, seedGrant, seedUser, tempData, type TempData } from '../support/seed.ts';
import {
  adaptCaddyfile,
  caddyBinary,
  describeFailures,
  killUnderLoad,
  mcpPost,
  registerRequest,
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

let t: TempData;
let caddy: RunningCaddy;
/** A wiki's own MCP server: /mcp then goes through forward_auth (/auth/verify) on the app instances. */
let wikiMcp: Recorder;
let caddyPort: number;
let apex: string;
let clientId: string;
let refreshToken: string;
const instances: { port: number; server: ServerProcess }[] = [];

beforeAll(async () => {
  caddyBinary();
  caddyPort = await freePort();
  apex = `localhost:${caddyPort}`;
  const env = {
    PUBLIC_URL: `http://${apex}`,
    PLATFORM_KEYS_KEK: KEK,
    PLATFORM_KEYS_POLL_SECONDS: '1',
    // No verifier caches the key sets here (src/config/jwks-cache.ts): a rotation waits for the polls only.
    JWKS_MAX_AGE_SECONDS: '0',
    // The load below comes from loopback: per-address budgets (per instance) are not what is tested here.
    RATE_LIMIT_TRUSTED_NETWORKS: '127.0.0.0/8',
  };
  t = tempData(env);
  const alice = await seedUser(t, 'alice');
  clientId = await seedClient(t);
  refreshToken = (await seedGrant(t, t.config, { did: alice.did, slug: 'alice', clientId })).refreshToken;
  t.db.close();
  // Sequential: the first start writes the development keys into the database, the second reads them.
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    // debug: a 2xx /auth/verify is logged at debug only (src/web/request-log.ts), and we count them.
    instances.push({ port, server: await startServer({ dataDir: t.dir, port, logLevel: 'debug', env }) });
  }
  wikiMcp = await startRecorder('wiki-mcp');
  caddy = await startCaddy(caddyPort, {
    PLATFORM_DOMAIN: apex,
    WIKI_MCP_UPSTREAM: wikiMcp.address,
    CADDY_INSTANCES: 'several',
    APP_ADDRESS: `127.0.0.1:${instances[0]!.port}`,
    APP_MORE_ADDRESSES: `127.0.0.1:${instances[1]!.port}`,
  });
}, 60_000);

afterAll(async () => {
  await caddy?.stop();
  await wikiMcp?.close();
  for (const { server } of instances) await stopServer(server);
  t?.cleanup();
});

const viaCaddy = (r: Omit<RawRequest, 'host'> & { host?: string }): Promise<RawResponse> => send(caddyPort, { host: apex, ...r });
const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

/** How many requests for `marker` an instance has logged (one structured line per request). */
const served = (i: number, marker: string) => servedBy(instances[i]!.server, marker);

async function refresh(): Promise<string> {
  const res = await viaCaddy({ path: '/auth/oauth/token', ...form({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }) });
  expect(res.status, res.body).toBe(200);
  const body = JSON.parse(res.body) as { access_token: string; refresh_token: string };
  refreshToken = body.refresh_token;
  return body.access_token;
}

/** /mcp on the wiki host: forward_auth asks an app instance (/auth/verify); 200 from the wiki's server, or 401. */
const mcpStatus = async (token: string) => (await viaCaddy(mcpPost(`alice.${apex}`, { Authorization: `Bearer ${token}` }))).status;

const register = (name: string) => viaCaddy(registerRequest(name));

/** Every reverse_proxy handler in an adapted config (forward_auth is one too, with a rewrite to /auth/verify). */
function proxies(config: unknown): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (typeof node === 'object' && node !== null) {
      if ((node as { handler?: unknown }).handler === 'reverse_proxy') found.push(node as Record<string, unknown>);
      Object.values(node).forEach(walk);
    }
  };
  walk(config);
  return found;
}

describe('the shipped Caddyfile with CADDY_INSTANCES=several, as Caddy adapts it', () => {
  const env = { PLATFORM_DOMAIN: 'wiki.example', APP_ADDRESS: '10.0.0.5:3000', WIKI_MCP_UPSTREAM: '10.0.0.9:8081', WIKI_WEB_UPSTREAM: '10.0.0.9:8080' };
  const toApp = (p: Record<string, unknown>) => JSON.stringify(p.upstreams).includes('10.0.0.5:3000');

  it('balances and health-checks every proxy to the app (pages, AS, /mcp, forward_auth), and only those', () => {
    const all = proxies(adaptCaddyfile({ ...env, CADDY_INSTANCES: 'several', APP_MORE_ADDRESSES: '10.0.0.6:3000 10.0.0.7:3000' }));
    const app = all.filter(toApp);
    expect(app.length).toBe(6);
    expect(app.some((p) => JSON.stringify(p).includes('/auth/verify'))).toBe(true);
    for (const p of app) {
      expect(p.upstreams).toEqual([{ dial: '10.0.0.5:3000' }, { dial: '10.0.0.6:3000' }, { dial: '10.0.0.7:3000' }]);
      expect(p.load_balancing).toEqual({ selection_policy: { policy: 'least_conn' }, try_duration: 5e9, try_interval: 2.5e8 });
      expect(p.health_checks).toEqual({ active: { uri: '/healthz', interval: 2e9, timeout: 3e9, expect_status: 200 }, passive: { fail_duration: 3e10, max_fails: 1 } });
    }
    // The wikis' own servers are not the app's instances: untouched.
    for (const p of all.filter((p) => !toApp(p))) expect(p.health_checks).toBeUndefined();
  });

  it('with one instance (the default) adds nothing: no balancing, no health checks', () => {
    for (const p of proxies(adaptCaddyfile(env))) {
      expect(p.load_balancing).toBeUndefined();
      expect(p.health_checks).toBeUndefined();
    }
  });
});

describe('two instances behind Caddy (CADDY_INSTANCES=several)', () => {
  it('spreads requests over both instances; /healthz of each says the database is reachable', async () => {
    // least_conn: one request at a time ties, and ties go at random: 40 requests give each instance
    // at least 5 but with a chance of about 1 in 10 million.
    const ROUNDS = 40;
    for (let i = 0; i < ROUNDS; i++) expect((await viaCaddy({ path: `/.well-known/oauth-authorization-server?round=${i}` })).status).toBe(200);
    // The log lines arrive through a pipe: wait for the last ones.
    let counts = [0, 0];
    for (let tries = 0; tries < 20 && counts[0]! + counts[1]! < ROUNDS; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      counts = [served(0, '?round='), served(1, '?round=')];
    }
    expect(counts[0]! + counts[1]!).toBe(ROUNDS);
    expect(counts[0]).toBeGreaterThanOrEqual(5);
    expect(counts[1]).toBeGreaterThanOrEqual(5);
    for (const { port } of instances) {
      const health = await send(port, { host: apex, path: '/healthz' });
      expect(JSON.parse(health.body)).toEqual({ status: 'ok', database: 'ok' });
    }
  });

  it('a client registers, refreshes and revokes with each step on whichever instance Caddy picks', async () => {
    const registered = await register('several-instances');
    expect(registered.status).toBe(201);
    const tokens: string[] = [];
    // least_conn sends one request at a time to either instance at random: 20 of each step reach both
    // instances but with a chance of 2 in a million.
    for (let i = 0; i < 20; i++) tokens.push(await refresh());
    for (const token of tokens.slice(-2)) for (let i = 0; i < 10; i++) expect(await mcpStatus(token)).toBe(200);
    expect(served(0, '/auth/verify') > 0 && served(1, '/auth/verify') > 0).toBe(true);
    // The refresh token is revoked on one instance: refused on both (the grant is gone for all).
    const revoked = await viaCaddy({ path: '/auth/oauth/revoke', ...form({ token: refreshToken, client_id: clientId }) });
    expect(revoked.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const res = await viaCaddy({ path: '/auth/oauth/token', ...form({ grant_type: 'refresh_token', client_id: clientId, refresh_token: refreshToken }) });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_grant' });
    }
    expect(served(0, '/auth/oauth/token') > 0 && served(1, '/auth/oauth/token') > 0).toBe(true);
    // Its access tokens too, on both instances, though each had just answered them 200 (each instance
    // remembers a bearer check's answer until a commit, its own or the other's: bearer-lookups.ts).
    const verifiedBefore = [served(0, '/auth/verify'), served(1, '/auth/verify')];
    for (const token of tokens.slice(-2)) for (let i = 0; i < 10; i++) expect(await mcpStatus(token)).toBe(401);
    const bothAsked = () => served(0, '/auth/verify') > verifiedBefore[0]! && served(1, '/auth/verify') > verifiedBefore[1]!;
    for (let tries = 0; tries < 40 && !bothAsked(); tries++) await new Promise((resolve) => setTimeout(resolve, 50)); // stdout comes through a pipe
    expect(bothAsked()).toBe(true);
  });

  it('a key rotation with the CLI reaches both running instances: published by both first, then signing on both; old tokens still verify', async () => {
    const grantRefresh = await seedFreshGrant();
    refreshToken = grantRefresh;
    const before = await refresh();
    const oldKid = jose.decodeProtectedHeader(before).kid;
    const capture = captureIo({ DATA_DIR: t.dir, PLATFORM_KEYS_KEK: KEK, PLATFORM_KEYS_POLL_SECONDS: '1', JWKS_MAX_AGE_SECONDS: '0' }, t.dir);
    expect(await runCli(['keys', 'rotate'], capture.io), capture.stderr()).toBe(0);
    const jwksOf = async (port: number) => JSON.parse((await send(port, { host: apex, path: '/.well-known/jwks.json' })).body) as { keys: { kid: string }[] };
    const deadline = Date.now() + 5000;
    let sets: { keys: { kid: string }[] }[] = [];
    while (Date.now() < deadline) {
      sets = await Promise.all(instances.map(({ port }) => jwksOf(port)));
      if (sets.every((s) => s.keys.length === 2)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Published by both before either signs with it (pending until sign_after, 3 s with a 1 s poll).
    expect(sets[0]!.keys.map((k) => k.kid)[0]).toBe(oldKid);
    expect(sets[1]).toEqual(sets[0]);
    const newKid = sets[0]!.keys[1]!.kid;
    let signing = jose.decodeProtectedHeader(await refresh()).kid;
    for (let tries = 0; tries < 60 && signing !== newKid; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      signing = jose.decodeProtectedHeader(await refresh()).kid;
    }
    expect(signing).toBe(newKid);
    // Both instances switched: the JWKS now lists the new key first on both.
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const switched = await Promise.all(instances.map(({ port }) => jwksOf(port)));
    expect(switched[0]!.keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
    expect(switched[1]).toEqual(switched[0]);
    // Each instance logged the reload (its stdout arrives through a pipe: allow it a moment).
    for (let tries = 0; tries < 40 && !instances.every((i) => i.server.stdout().includes('"msg":"platform keys reloaded"')); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    for (let i = 0; i < 2; i++) expect(instances[i]!.server.stdout()).toContain('"msg":"platform keys reloaded"');
    for (let i = 0; i < 2; i++) {
      const after = await refresh();
      expect(jose.decodeProtectedHeader(after).kid).toBe(newKid);
      expect(await mcpStatus(after)).toBe(200);
      expect(await mcpStatus(before)).toBe(200);
    }
  });

  it('kill -9 of one instance under load: the other serves, only POSTs in flight fail, health checks take it out, no acknowledged row is lost', async () => {
    const victim = instances[0]!;
    const run = await killUnderLoad({ viaCaddy, victim: victim.server, namePrefix: 'load-' });
    // The survivor served what came after.
    expect(served(1, '?load=')).toBeGreaterThan(0);
    // Caddy's active health check found the dead instance.
    const healthFailures = caddy
      .log()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { logger?: string; msg?: string; host?: string })
      .filter((l) => l.logger === 'http.handlers.reverse_proxy.health_checker.active' && l.host === `127.0.0.1:${victim.port}`);
    expect(healthFailures.length).toBeGreaterThan(0);
    // Every registration acknowledged with 201 is in the shared database.
    const { acknowledged } = run;
    const db = new Database(t.config.databaseFile, { readonly: true });
    try {
      const stored = new Set((db.prepare('SELECT client_id FROM oauth_clients').all() as { client_id: string }[]).map((r) => r.client_id));
      expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
    } finally {
      db.close();
    }
    console.log(`several instances: ${run.outcomes.length} requests, ${describeFailures(run)}`);
  });
});

/** A new grant for alice (the previous test revoked hers), straight in the shared database. */
async function seedFreshGrant(): Promise<string> {
  const db = new Database(t.config.databaseFile);
  try {
    const did = (db.prepare("SELECT did FROM users WHERE username = 'alice'").get() as { did: string }).did;
    return (await seedGrant(createSqliteStore(db, { closeDatabase: false }), t.config, { did, slug: 'alice', clientId })).refreshToken;
  } finally {
    db.close();
  }
}
