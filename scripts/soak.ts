// `npm run soak -- --minutes N` — a soak test against the real server process (src/server.ts, on a
// temporary data directory) and the local PDS (test/pds/start.mjs), both children of this script,
// everything on 127.0.0.1. For N minutes (default 1, fractions allowed) it signs people in through
// the PDS's own OAuth pages, connects MCP clients (register → authorize → consent → token), refreshes
// their tokens, calls the wiki's MCP `whoami`, and disconnects the oldest ones, at a bounded rate.
// It reports errors (there must be none: exit code 1 otherwise), latency percentiles per minute and
// operation, and the server's resident memory over time; then stops both children.
//
//   npm run soak                       one minute
//   npm run soak -- --minutes 0.5      thirty seconds
//   npm run soak -- --minutes 10 --rate 30 --users 6
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { approveAtPds, createPdsAccount, httpRequest, type CookieJar, type HttpResponse, type PdsAccount } from '../test/support/pds.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string', default: '1' },
    rate: { type: 'string', default: '20' },
    users: { type: 'string', default: '4' },
    connections: { type: 'string', default: '12' },
    help: { type: 'boolean', default: false },
  },
});

if (flags.help) {
  console.log(`npm run soak -- [--minutes N] [--rate R] [--users U] [--connections C]
  --minutes N      how long to run (default 1; fractions allowed, e.g. 0.5)
  --rate R         operations started per second at most (default 20)
  --users U        PDS accounts signed up at the start (default 4)
  --connections C  MCP client connections kept; older ones are disconnected (default 12)`);
  process.exit(0);
}

function positive(name: string, raw: string | undefined): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`--${name} must be a positive number, got "${raw}"`);
    process.exit(2);
  }
  return n;
}

const MINUTES = positive('minutes', flags.minutes);
const RATE = Math.min(positive('rate', flags.rate), 200);
const USERS = Math.max(1, Math.round(positive('users', flags.users)));
const MAX_CONNECTIONS = Math.max(2, Math.round(positive('connections', flags.connections)));
/** Operations in flight at most: the rate is a ceiling, never a queue. */
const MAX_IN_FLIGHT = 8;
const RSS_SAMPLE_MS = 5_000;
const OP_TIMEOUT_MS = 30_000;

// ---------------------------------------------------------------------------
// Children: the local PDS and the server
// ---------------------------------------------------------------------------

const started: ChildProcess[] = [];
const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** test/pds/start.mjs prints one JSON line {pdsUrl, plcUrl} once ready. */
async function startPds(): Promise<{ pdsUrl: string; plcUrl: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'test/pds/start.mjs')], {
    env: { ...process.env, TMPDIR: tempDir('robot-auth-soak-pds-'), PDS_STOP_ON_STDIN_EOF: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  started.push(child);
  let stderrTail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2000);
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the PDS did not start within 60 s\n${stderrTail}`)), 60_000);
    child.once('exit', (code) => reject(new Error(`the PDS exited (${code}) before it was ready\n${stderrTail}`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
  });
  lines.on('line', () => {}); // keep the pipe drained
  const info = JSON.parse(first) as { pdsUrl: string; plcUrl: string };
  return { ...info, child };
}

interface ServerChild {
  child: ChildProcess;
  port: number;
  dataDir: string;
  /** Log lines at level error or fatal, and anything the process printed that is not a log line. */
  problems: string[];
}

/** The production entry point, loopback only, limits lifted (all soak traffic comes from one address). */
async function startServer(pds: { pdsUrl: string; plcUrl: string }): Promise<ServerChild> {
  const port = await freePort();
  const dataDir = tempDir('robot-auth-soak-');
  const child = spawn(process.execPath, [path.join(ROOT, 'src/server.ts')], {
    cwd: dataDir, // no stray .env is read
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      ATPROTO_PLC_URL: pds.plcUrl,
      ATPROTO_HANDLE_RESOLVER: pds.pdsUrl,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_LOGIN_PER_MINUTE: '100000',
      RATE_LIMIT_REGISTER_PER_MINUTE: '100000',
      RATE_LIMIT_TOKEN_PER_MINUTE: '100000',
      RATE_LIMIT_DISCOVERY_PER_MINUTE: '100000',
      RATE_LIMIT_CLIENT_PER_MINUTE: '100000',
      RATE_LIMIT_REFRESH_PER_GRANT_PER_MINUTE: '100000',
      RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: '100000',
      NEW_WIKIS_PER_DAY: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const server: ServerChild = { child, port, dataDir, problems: [] };
  const watch = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      let level = 0;
      try {
        level = (JSON.parse(line) as { level?: number }).level ?? 0;
      } catch {
        if (line.startsWith('robot-auth is listening')) return;
        server.problems.push(line);
        return;
      }
      if (level >= 50) server.problems.push(line);
    });
  watch(child.stdout!);
  watch(child.stderr!);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it was ready:\n${server.problems.join('\n')}`);
    try {
      const res = await appRequest(port, `http://localhost:${port}/.well-known/oauth-authorization-server`);
      if (res.status === 200) return server;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('the server did not answer within 30 s');
    await sleep(100);
  }
}

async function stop(child: ChildProcess, timeoutMs = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await exited;
  clearTimeout(timer);
  return code;
}

async function cleanup(): Promise<void> {
  await Promise.all(started.map((c) => stop(c)));
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------
// HTTP against the app: always 127.0.0.1, the URL's host in the Host header
// ---------------------------------------------------------------------------

/** The app listens on 127.0.0.1 only; `localhost` may resolve to ::1, and wiki hosts resolve nowhere. */
function appRequest(port: number, url: string, opts: Parameters<typeof httpRequest>[1] = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const headers = { ...opts.headers, host: target.host };
  return httpRequest(`http://127.0.0.1:${port}${target.pathname}${target.search}`, { ...opts, headers });
}

function field(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<input[^>]*\\bname="${name}"[^>]*>`))?.[0];
  return tag?.match(/\bvalue="([^"]*)"/)?.[1]?.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
}

class SoakError extends Error {
  override name = 'SoakError';
}

function expectStatus(step: string, res: HttpResponse, ...statuses: number[]): HttpResponse {
  if (!statuses.includes(res.status)) throw new SoakError(`${step}: HTTP ${res.status} (expected ${statuses.join('/')}): ${res.body.slice(0, 300)}`);
  return res;
}

function locationOf(step: string, res: HttpResponse): string {
  const location = res.headers.location;
  if (!location) throw new SoakError(`${step}: no Location header`);
  return location;
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

interface Person {
  account: PdsAccount;
  username: string;
  /** The newest signed-in browser's cookies. */
  jar: CookieJar;
}

interface Connection {
  person: Person;
  clientId: string;
  accessToken: string;
  refreshToken: string;
}

const REDIRECT_URI = 'http://127.0.0.1:9/callback';

function createWorkload(port: number, pdsUrl: string) {
  const origin = `http://localhost:${port}`;
  const get = (url: string, jar?: CookieJar) => appRequest(port, url.startsWith('http') ? url : `${origin}${url}`, { jar });
  const postForm = (url: string, form: Record<string, string>, jar?: CookieJar) =>
    appRequest(port, `${origin}${url}`, {
      method: 'POST',
      jar,
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

  /** The whole browser sign-in: our form → the PDS's pages → callback → hand-off (→ signup). */
  async function signIn(person: { account: PdsAccount; username?: string }): Promise<{ jar: CookieJar; username: string }> {
    const jar: CookieJar = new Map();
    const page = expectStatus('GET /auth/login', await get('/auth/login', jar), 200);
    const start = expectStatus('POST /auth/login', await postForm('/auth/login', { handle: person.account.handle, _csrf: field(page.body, '_csrf') ?? '' }, jar), 303);
    const callbackUrl = await approveAtPds(locationOf('POST /auth/login', start), person.account);
    const callback = expectStatus('GET /auth/callback', await get(callbackUrl, jar), 303);
    const handoff = expectStatus('GET /auth/handoff', await get(locationOf('callback', callback), jar), 303);
    if (locationOf('handoff', handoff) !== '/auth/signup') {
      if (!person.username) throw new SoakError('a first sign-in did not go to signup');
      return { jar, username: person.username };
    }
    const form = expectStatus('GET /auth/signup', await get('/auth/signup', jar), 200);
    const username = field(form.body, 'username') || `soak${crypto.randomBytes(4).toString('hex')}`;
    expectStatus('POST /auth/signup', await postForm('/auth/signup', { _csrf: field(form.body, '_csrf') ?? '', username }, jar), 303);
    expectStatus('GET /account', await get('/account', jar), 200);
    return { jar, username };
  }

  /** register → authorize → consent → token, as an MCP client and its user would. */
  async function connect(person: Person): Promise<Connection> {
    const registered = expectStatus(
      'POST /auth/oauth/register',
      await appRequest(port, `${origin}/auth/oauth/register`, {
        method: 'POST',
        json: { client_name: 'Soak client', redirect_uris: [REDIRECT_URI], token_endpoint_auth_method: 'none' },
      }),
      201,
    );
    const clientId = (JSON.parse(registered.body) as { client_id: string }).client_id;
    const verifier = crypto.randomBytes(32).toString('base64url');
    const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: REDIRECT_URI,
      code_challenge: challenge,
      code_challenge_method: 'S256',
      scope: 'wiki:read wiki:write',
      state: crypto.randomBytes(8).toString('hex'),
      resource: `http://${person.username}.localhost:${port}/mcp`,
    });
    const authorize = expectStatus('GET /authorize', await get(`/auth/oauth/authorize?${query}`, person.jar), 303);
    const consentPage = expectStatus('GET /consent', await get(locationOf('authorize', authorize), person.jar), 200);
    const decided = expectStatus(
      'POST /consent',
      await postForm('/auth/oauth/consent', { _csrf: field(consentPage.body, '_csrf') ?? '', request: field(consentPage.body, 'request') ?? '', decision: 'allow' }, person.jar),
      303,
    );
    const code = new URL(locationOf('consent', decided)).searchParams.get('code');
    if (!code) throw new SoakError(`consent gave no code: ${decided.headers.location}`);
    const token = expectStatus(
      'POST /token (code)',
      await postForm('/auth/oauth/token', { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT_URI, client_id: clientId }),
      200,
    );
    const body = JSON.parse(token.body) as { access_token: string; refresh_token: string };
    return { person, clientId, accessToken: body.access_token, refreshToken: body.refresh_token };
  }

  async function refresh(connection: Connection): Promise<void> {
    const res = expectStatus(
      'POST /token (refresh)',
      await postForm('/auth/oauth/token', { grant_type: 'refresh_token', refresh_token: connection.refreshToken, client_id: connection.clientId }),
      200,
    );
    const body = JSON.parse(res.body) as { access_token: string; refresh_token: string };
    connection.accessToken = body.access_token;
    connection.refreshToken = body.refresh_token;
  }

  function mcp(connection: Connection, accessToken: string) {
    return appRequest(port, `http://${connection.person.username}.localhost:${port}/mcp`, {
      method: 'POST',
      json: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } },
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json, text/event-stream' },
    });
  }

  async function whoami(connection: Connection): Promise<void> {
    const res = expectStatus('POST /mcp whoami', await mcp(connection, connection.accessToken), 200);
    const result = (JSON.parse(res.body) as { result?: { structuredContent?: { did?: string } } }).result;
    if (result?.structuredContent?.did !== connection.person.account.did) throw new SoakError(`whoami answered ${res.body.slice(0, 200)}`);
  }

  /** RFC 7009 by the client, then its access token must stop working at once. */
  async function disconnect(connection: Connection): Promise<void> {
    expectStatus('POST /revoke', await postForm('/auth/oauth/revoke', { token: connection.refreshToken, client_id: connection.clientId }), 200);
    expectStatus('POST /mcp after revoke', await mcp(connection, connection.accessToken), 401);
  }

  return { signIn, connect, refresh, whoami, disconnect, pdsUrl };
}

// ---------------------------------------------------------------------------
// Measurements
// ---------------------------------------------------------------------------

type OpName = 'whoami' | 'refresh' | 'connect' | 'sign-in' | 'disconnect';

interface MinuteStats {
  latencies: Map<OpName, number[]>;
  errors: number;
  rss: number[];
}

const minutes: MinuteStats[] = [];
const errors: string[] = [];
let runStart = 0;

function minute(at = Date.now()): MinuteStats {
  // What happens just after the deadline (the last samples, late answers) counts in the last minute.
  const index = Math.min(Math.floor((at - runStart) / 60_000), Math.ceil(MINUTES) - 1);
  while (minutes.length <= index) minutes.push({ latencies: new Map(), errors: 0, rss: [] });
  return minutes[index]!;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Resident set size of a process, in MiB (Linux /proc; `ps` elsewhere). */
function rssMiB(pid: number): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function timed(op: OpName, run: () => Promise<void>): Promise<void> {
  const begin = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new SoakError(`timed out after ${OP_TIMEOUT_MS / 1000} s`)), OP_TIMEOUT_MS);
      }),
    ]);
    const stats = minute();
    const list = stats.latencies.get(op) ?? [];
    list.push(performance.now() - begin);
    stats.latencies.set(op, list);
  } catch (err) {
    minute().errors++;
    const message = `${new Date().toISOString()} ${op}: ${err instanceof Error ? err.message : String(err)}`;
    errors.push(message);
    if (errors.length <= 20) console.error(message);
  } finally {
    clearTimeout(timer);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : ms < 10 ? ms.toFixed(1) : Math.round(ms).toString());
const pad = (s: string | number, n: number) => String(s).padStart(n);

function report(serverRss: { at: number; mib: number }[]): void {
  const ops: OpName[] = ['whoami', 'refresh', 'connect', 'sign-in', 'disconnect'];
  console.log('\nLatency per minute (ms)');
  console.log(`${'minute'.padEnd(7)}${'operation'.padEnd(12)}${pad('count', 7)}${pad('p50', 8)}${pad('p90', 8)}${pad('p99', 8)}${pad('max', 8)}${pad('errors', 8)}`);
  minutes.forEach((m, i) => {
    let first = true;
    for (const op of ops) {
      const list = [...(m.latencies.get(op) ?? [])].sort((a, b) => a - b);
      if (list.length === 0) continue;
      console.log(
        `${(first ? String(i + 1) : '').padEnd(7)}${op.padEnd(12)}${pad(list.length, 7)}${pad(fmt(percentile(list, 50)), 8)}${pad(fmt(percentile(list, 90)), 8)}${pad(fmt(percentile(list, 99)), 8)}${pad(fmt(list[list.length - 1]!), 8)}${pad(first ? m.errors : '', 8)}`,
      );
      first = false;
    }
  });
  console.log('\nServer RSS (MiB) over time');
  console.log(serverRss.map((s) => `${Math.round(s.at / 1000)}s:${s.mib.toFixed(0)}`).join('  '));
  const perMinute = minutes.map((m) => m.rss).map((r) => (r.length ? `${Math.min(...r).toFixed(0)}–${Math.max(...r).toFixed(0)}` : '-'));
  console.log(`per minute (min–max): ${perMinute.join(' | ')}`);
}

// ---------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------

async function main(): Promise<number> {
  console.log(`soak: ${MINUTES} min, at most ${RATE} operations/s, ${USERS} users, ${MAX_CONNECTIONS} connections; 127.0.0.1 only`);
  const pds = await startPds();
  const server = await startServer(pds);
  console.log(`PDS ${pds.pdsUrl}, server http://localhost:${server.port} (pid ${server.child.pid}), data ${server.dataDir}`);
  const work = createWorkload(server.port, pds.pdsUrl);
  const pid = server.child.pid!;

  // People: PDS accounts, each signed up here with its own wiki.
  const people: Person[] = [];
  for (let i = 0; i < USERS; i++) {
    const account = await createPdsAccount(pds.pdsUrl, { handlePrefix: 'soak' });
    const { jar, username } = await work.signIn({ account });
    people.push({ account, username, jar });
  }
  const connections: Connection[] = [];
  for (const person of people) connections.push(await work.connect(person));
  console.log(`set up: ${people.length} users signed up, ${connections.length} clients connected; running…`);

  runStart = Date.now();
  const deadline = runStart + MINUTES * 60_000;
  const serverRss: { at: number; mib: number }[] = [];
  const sampleRss = () => {
    const mib = rssMiB(pid);
    if (mib === undefined) return;
    serverRss.push({ at: Date.now() - runStart, mib });
    minute().rss.push(mib);
  };
  sampleRss();
  const rssTimer = setInterval(sampleRss, RSS_SAMPLE_MS);

  let inFlight = 0;
  let tick = 0;
  const pending = new Set<Promise<void>>();
  const launch = (op: OpName, run: () => Promise<void>) => {
    inFlight++;
    const p = timed(op, run).finally(() => {
      inFlight--;
      pending.delete(p);
    });
    pending.add(p);
  };
  const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)]!;
  /** Connections no operation is using right now (a refresh and a whoami may not share one). */
  const busy = new Set<Connection>();
  const withConnection = (op: OpName, run: (c: Connection) => Promise<void>) => {
    const free = connections.filter((c) => !busy.has(c));
    if (free.length === 0) return;
    const c = pick(free);
    busy.add(c);
    launch(op, () => run(c).finally(() => busy.delete(c)));
  };

  while (Date.now() < deadline) {
    if (server.child.exitCode !== null) {
      errors.push(`the server exited with code ${server.child.exitCode}`);
      break;
    }
    if (inFlight < MAX_IN_FLIGHT) {
      tick++;
      if (tick % 97 === 0) {
        // A returning person signs in again, through the PDS.
        const person = pick(people);
        launch('sign-in', async () => {
          person.jar = (await work.signIn(person)).jar;
        });
      } else if (tick % 29 === 0) {
        launch('connect', async () => {
          connections.push(await work.connect(pick(people)));
        });
      } else if (tick % 31 === 0 && connections.length > MAX_CONNECTIONS) {
        const oldest = connections.find((c) => !busy.has(c));
        if (oldest) {
          connections.splice(connections.indexOf(oldest), 1);
          launch('disconnect', () => work.disconnect(oldest));
        }
      } else if (tick % 5 === 0) {
        withConnection('refresh', (c) => work.refresh(c));
      } else {
        withConnection('whoami', (c) => work.whoami(c));
      }
    }
    await sleep(1000 / RATE);
  }
  await Promise.all([...pending]);
  clearInterval(rssTimer);
  sampleRss();

  // The server must still be healthy, then shut down cleanly.
  const health = await appRequest(server.port, `http://localhost:${server.port}/.well-known/oauth-authorization-server`).catch((err: unknown) => ({ status: 0, body: String(err) }));
  if (health.status !== 200) errors.push(`the server no longer answers: ${health.status} ${health.body.slice(0, 200)}`);
  const exitCode = await stop(server.child);
  if (exitCode !== 0) errors.push(`the server exited with code ${exitCode} on SIGTERM`);
  for (const line of server.problems) errors.push(`server log: ${line.slice(0, 500)}`);

  report(serverRss);
  const db = new Database(path.join(server.dataDir, 'robot-auth.sqlite'), { readonly: true });
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[];
  const counts = tables.map(({ name }) => `${name}=${(db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n}`);
  db.close();
  console.log(`\nRows at the end: ${counts.join(' ')}`);

  const total = minutes.reduce((n, m) => n + [...m.latencies.values()].reduce((k, l) => k + l.length, 0), 0);
  console.log(`\n${total} operations in ${((Date.now() - runStart) / 1000).toFixed(0)} s, ${errors.length} errors`);
  if (errors.length > 0) {
    console.log('Errors:');
    for (const e of errors.slice(0, 50)) console.log(`  ${e}`);
    return 1;
  }
  return 0;
}

let exitCode = 1;
process.once('SIGINT', () => {
  console.error('interrupted; stopping the children');
  void cleanup().then(() => process.exit(130));
});
try {
  exitCode = await main();
} catch (err) {
  console.error('soak failed:', err);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
