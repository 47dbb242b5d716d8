// Real Caddy running the shipped Caddyfile for the deploy tests: the binary (a missing one is a failure
// with a clear message, never a skip), `caddy validate`/`adapt`/`run` with the environment the
// Caddyfile reads, a recording upstream standing in for a wiki's MCP or web server, raw HTTP requests
// with any Host header (Node does not resolve `*.localhost`), and seeded wiki rows with minted tokens.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { AppContext } from '../../src/context.ts';
import { freePort, startTestApp, type TestApp } from '../support/app.ts';
import { CLIENT_ID, INITIALIZE, MCP_POST_HEADERS } from '../resource/support.ts';
import { mintAccessToken, seedAliceAndBob, seedGrant } from '../support/seed.ts';
import type { ServerProcess } from '../ops/server-process.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The file that ships: the tests never use a copy or a variant of it. */
export const CADDYFILE = path.join(REPO_ROOT, 'Caddyfile');

const CADDY_MISSING = [
  'Caddy is not installed: the deploy tests run the shipped Caddyfile with a real caddy binary.',
  'Install it (Debian: `apt-get install -y caddy`, which provides /usr/bin/caddy; CI does this), or point',
  'CADDY_BIN at a caddy executable.',
].join(' ');

/** The caddy executable: $CADDY_BIN, /usr/bin/caddy, or `caddy` on PATH. Throws a clear error when there is none. */
export function caddyBinary(): string {
  const candidates = [
    process.env.CADDY_BIN,
    '/usr/bin/caddy',
    ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'caddy')),
  ];
  for (const candidate of candidates) {
    if (candidate === undefined || candidate === '') continue;
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new Error(CADDY_MISSING);
}

/**
 * A private home for one Caddy run: certificates, locks and autosaved config go to a temporary
 * directory, never to the user's ~/.local/share/caddy.
 */
export function caddyHome(): { env: Record<string, string>; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-caddy-'));
  return {
    env: { HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Only what the Caddyfile reads, plus PATH: a developer's own PLATFORM_DOMAIN or WIKI_*_UPSTREAM must
 * not leak into a test. `extra` values win.
 */
function caddyProcessEnv(home: Record<string, string>, extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...home, ...extra };
}

export interface CaddyResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `caddy <args…>` with the shipped Caddyfile's environment, run to completion. */
export function runCaddy(args: string[], env: Record<string, string>): CaddyResult {
  const home = caddyHome();
  try {
    const result = spawnSync(caddyBinary(), args, { env: caddyProcessEnv(home.env, env), encoding: 'utf8', timeout: 30_000 });
    if (result.error) throw result.error;
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  } finally {
    home.remove();
  }
}

/** `caddy adapt` of the shipped Caddyfile: the JSON config Caddy would run. */
export function adaptCaddyfile(env: Record<string, string>): unknown {
  const result = runCaddy(['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], env);
  if (result.status !== 0) throw new Error(`caddy adapt failed (${result.status}):\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

export interface RunningCaddy {
  port: number;
  /** The caddy process id. */
  pid: number;
  /** Caddy's log so far (stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects if `exited` says the process is gone. */
async function waitForPort(port: number, exited: () => string | undefined, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) throw new Error(gone);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `caddy run` of the shipped Caddyfile on 127.0.0.1:port over plain http (SITE_SCHEME=http, so no
 * certificates and no :80/:443), admin endpoint off, its own temporary home.
 */
export async function startCaddy(port: number, env: Record<string, string>): Promise<RunningCaddy> {
  const home = caddyHome();
  const child: ChildProcess = spawn(caddyBinary(), ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
    env: caddyProcessEnv(home.env, { SITE_SCHEME: 'http', CADDY_BIND: '127.0.0.1', CADDY_ADMIN: 'off', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const append = (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exitedWith: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitedWith = `caddy exited (code ${code}, signal ${signal})`;
      resolve();
    });
    child.once('error', (err) => {
      exitedWith = `caddy could not start: ${err.message}`;
      resolve();
    });
  });
  const stop = async () => {
    if (exitedWith === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    home.remove();
  };
  try {
    await waitForPort(port, () => (exitedWith === undefined ? undefined : `${exitedWith} before listening:\n${log}`), 15_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, pid: child.pid ?? -1, log: () => log, stop };
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Recorder {
  /** host:port, as WIKI_MCP_UPSTREAM / WIKI_WEB_UPSTREAM take it. */
  address: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** A stand-in for a wiki's own server: records every request and answers 200 `{"upstream": name}`. */
export async function startRecorder(name: string): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'Content-Type': 'application/json', Server: `${name}-upstream` });
      res.end(JSON.stringify({ upstream: name }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RawRequest {
  host: string;
  path: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The client's source address (any 127.0.0.0/8 address works on Linux). */
  localAddress?: string;
}

/** One HTTP/1.1 request to 127.0.0.1:port with exactly this Host header and path (sent as is, not normalized). */
export function send(port: number, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: r.method ?? 'GET',
        path: r.path,
        headers: { ...r.headers, host: r.host },
        localAddress: r.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

/**
 * The partition key express-rate-limit puts in `RateLimit-Policy: "name"; …; pk=:…:` (IETF
 * ratelimit-headers draft 8): the first 12 hex digits of SHA-256 of the limiter key, base64. The
 * key is req.ip for IPv4, so this names the client address the app saw.
 */
export function rateLimitPartitionKey(ip: string): string {
  return Buffer.from(createHash('sha256').update(ip).digest('hex').slice(0, 12)).toString('base64');
}

/** The pk of the RateLimit-Policy header, or undefined. */
export function partitionKeyOf(res: RawResponse): string | undefined {
  const policy = res.headers['ratelimit-policy'];
  const value = Array.isArray(policy) ? policy.join(', ') : policy;
  return value?.match(/pk=:([^:]+):/)?.[1];
}

export { CLIENT_ID };

export interface SeededGrant {
  id: string;
  did: string;
  wiki: string;
  scope: string;
}

export interface SeededWikis {
  alice: { did: string; handle: string };
  bob: { did: string; handle: string };
  aliceGrant: SeededGrant;
  bobGrant: SeededGrant;
  /** An access token for this grant, as the token endpoint would issue it. */
  mint(grant: SeededGrant): Promise<string>;
}

/** Users alice and bob, their wikis `alice` and `bob`, one registered client and a grant each. */
export async function seedWikis(ctx: AppContext): Promise<SeededWikis> {
  const { now, alice, bob } = await seedAliceAndBob(ctx, CLIENT_ID);
  const grant = async (id: string, did: string, wiki: string, scope: string): Promise<SeededGrant> => {
    await seedGrant(ctx, ctx.config, { id, did, slug: wiki, clientId: CLIENT_ID, scope, expiresAt: now + 3600, refreshToken: false });
    return { id, did, wiki, scope };
  };
  return {
    alice,
    bob,
    aliceGrant: await grant('grant-alice', alice.did, 'alice', 'wiki:read wiki:write'),
    bobGrant: await grant('grant-bob', bob.did, 'bob', 'wiki:read wiki:write'),
    async mint(g) {
      return (await mintAccessToken(ctx, { grantId: g.id, did: g.did, slug: g.wiki, clientId: CLIENT_ID, scope: g.scope })).token;
    },
  };
}

/** App + Caddy (+ optional wiki upstreams) for one describe block. */
export interface Stack {
  app: TestApp;
  caddy: RunningCaddy;
  seeded: SeededWikis;
  apex: string;
  alice: string;
  viaCaddy(r: RawRequest): Promise<RawResponse>;
  /** Straight to the app, bypassing Caddy (same Host). */
  direct(r: RawRequest): Promise<RawResponse>;
  close(): Promise<void>;
}

export interface StackOptions {
  /** More variables for the Caddyfile (they win over the stack's own). */
  caddyEnv?: Record<string, string>;
  /** More variables for the app. */
  appEnv?: Record<string, string>;
}

export async function startStack(upstreams: { mcp?: Recorder; web?: Recorder }, opts: StackOptions = {}): Promise<Stack> {
  caddyBinary();
  const caddyPort = await freePort();
  const app = await startTestApp({ PUBLIC_URL: `http://localhost:${caddyPort}`, ...opts.appEnv });
  let caddy: RunningCaddy;
  try {
    const seeded = await seedWikis(app.ctx);
    caddy = await startCaddy(caddyPort, {
      PLATFORM_DOMAIN: `localhost:${caddyPort}`,
      APP_ADDRESS: `127.0.0.1:${app.port}`,
      ...(upstreams.mcp ? { WIKI_MCP_UPSTREAM: upstreams.mcp.address } : {}),
      ...(upstreams.web ? { WIKI_WEB_UPSTREAM: upstreams.web.address } : {}),
      ...opts.caddyEnv,
    });
    return {
      app,
      caddy,
      seeded,
      apex: `localhost:${caddyPort}`,
      alice: `alice.localhost:${caddyPort}`,
      viaCaddy: (r) => send(caddyPort, r),
      direct: (r) => send(app.port, r),
      async close() {
        await caddy.stop();
        await app.close();
      },
    };
  } catch (err) {
    await app.close();
    throw err;
  }
}

/** An MCP `initialize` POST to a wiki host's /mcp. */
export const mcpPost = (host: string, headers: Record<string, string> = {}): RawRequest => ({
  host,
  path: '/mcp',
  method: 'POST',
  headers: { ...MCP_POST_HEADERS, ...headers },
  body: JSON.stringify(INITIALIZE),
});


/**
 * The TCP ports a process listens on (Linux): its socket inodes (/proc/PID/fd) matched against the
 * LISTEN entries of /proc/net/tcp and tcp6. Only that process's sockets count, whatever else runs here.
 */
export function listeningTcpPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
      if (inode) inodes.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(table, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols: sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      if (cols.length < 10 || cols[3] !== '0A' || !inodes.has(cols[9] ?? '')) continue;
      ports.add(Number.parseInt(cols[1]?.split(':')[1] ?? '', 16));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

// The several-instances tests (several-instances.test.ts on SQLite, several-instances-postgres.test.ts
// on PostgreSQL) share their requests and their kill -9 step below.

/** RFC 7591 registration of a public loopback client named `name` (to the apex, through Caddy). */
export const registerRequest = (name: string): Omit<RawRequest, 'host'> => ({
  path: '/auth/oauth/register',
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ client_name: name, redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] }),
});

/** How many requests for `marker` an instance has logged (one structured line per request). */
export const servedBy = (server: Pick<ServerProcess, 'stdout'>, marker: string): number => server.stdout().split('\n').filter((l) => l.includes(marker)).length;

export interface LoadOutcome {
  at: number;
  end: number;
  method: string;
  status: number | 'error';
  clientId?: string;
}

export interface KillUnderLoad {
  outcomes: LoadOutcome[];
  /** Requests that did not get 200 or 201. */
  failed: LoadOutcome[];
  /** The 201s' client_ids: registrations the clients were told succeeded. */
  acknowledged: string[];
  killedAt: number;
  exitedAt: number;
}

/**
 * `workers` loops through Caddy, each alternating a registration (named `${namePrefix}${i}`) and a GET
 * of the AS metadata (`?load=${i}`); after 1.5 s `victim` gets SIGKILL, and the load goes on 4 s more.
 * Then what must hold: nothing failed before the kill or well after it (500 ms); the only failures
 * are requests in flight at the kill, at most one per worker, POSTs answered 502 by Caddy (GETs in
 * flight are retried by Caddy, requests that could not be delivered are retried whatever their method).
 */
export async function killUnderLoad(opts: {
  viaCaddy: (r: Omit<RawRequest, 'host'>) => Promise<RawResponse>;
  victim: ServerProcess;
  namePrefix: string;
  workers?: number;
}): Promise<KillUnderLoad> {
  const workers = opts.workers ?? 4;
  const outcomes: LoadOutcome[] = [];
  let stop = false;
  let n = 0;
  const worker = async () => {
    while (!stop) {
      const i = n++;
      const isPost = i % 2 === 0;
      const at = Date.now();
      try {
        const res = await opts.viaCaddy(isPost ? registerRequest(`${opts.namePrefix}${i}`) : { path: `/.well-known/oauth-authorization-server?load=${i}` });
        const id = res.status === 201 ? (JSON.parse(res.body) as { client_id: string }).client_id : undefined;
        outcomes.push({ at, end: Date.now(), method: isPost ? 'POST' : 'GET', status: res.status, ...(id ? { clientId: id } : {}) });
      } catch {
        outcomes.push({ at, end: Date.now(), method: isPost ? 'POST' : 'GET', status: 'error' });
      }
    }
  };
  const load = Promise.all(Array.from({ length: workers }, worker));
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const killedAt = Date.now();
  opts.victim.child.kill('SIGKILL');
  await opts.victim.exited;
  const exitedAt = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 4000));
  stop = true;
  await load;

  const ok = (o: LoadOutcome) => o.status === 200 || o.status === 201;
  const failed = outcomes.filter((o) => !ok(o));
  // Finished before the kill, and started well after it (in flight at the kill: neither).
  const beforeKill = outcomes.filter((o) => o.end < killedAt);
  const afterKill = outcomes.filter((o) => o.at > killedAt + 500);
  expect(beforeKill.length).toBeGreaterThan(20);
  expect(afterKill.length).toBeGreaterThan(20);
  expect(beforeKill.filter((o) => !ok(o))).toEqual([]);
  // Only requests in flight at the kill (handed to that instance before its death was visible,
  // answered after it): at most one per worker, POSTs, answered 502 by Caddy.
  expect(failed.length, JSON.stringify(failed)).toBeLessThanOrEqual(workers);
  for (const f of failed) {
    expect(f.method).toBe('POST');
    expect(f.status).toBe(502);
    // Handed to the dying instance: sent before its death was visible (the signal is delivered, the
    // kernel resets its connections, Caddy sees the reset: a few ms), answered after the kill.
    expect(f.at).toBeLessThanOrEqual(exitedAt + 250);
    expect(f.end).toBeGreaterThanOrEqual(killedAt);
  }
  expect(afterKill.filter((o) => !ok(o)).map((o) => ({ ...o, sinceKill: o.at - killedAt }))).toEqual([]);
  const acknowledged = outcomes.flatMap((o) => (o.clientId ? [o.clientId] : []));
  return { outcomes, failed, acknowledged, killedAt, exitedAt };
}

/** The failures of a killUnderLoad run, for its summary line. */
export const describeFailures = (r: KillUnderLoad): string =>
  `${r.failed.length} failed at the kill (${r.failed.map((f) => `${f.method} ${f.status} sent at ${f.at - r.killedAt} ms`).join(', ') || 'none'}; exit seen at ${r.exitedAt - r.killedAt} ms)`;
