// The product run as an operator runs it (docs/testing.md), for the production suite:
//   - a test CA (ca.ts) and one certificate for every name below;
//   - the local PDS + PLC behind TLS at https://pds.probe.internal:P and https://plc.probe.internal:P
//     (test/pds/start-tls.mjs), trusting the CA, with *.probe.internal pinned to loopback;
//   - key files made by the real CLI (`keys generate --out`);
//   - `node src/server.ts` with deploy/production.env.example's settings, PUBLIC_URL
//     https://auth.probe.internal:P, the CA in NODE_EXTRA_CA_CERTS, *.probe.internal pinned to
//     loopback, and the PDS/PLC/claude stand-in reachable only through OUTBOUND_PRIVATE_HOSTS;
//   - the shipped Caddyfile in front (CADDY_TLS_MODE=files with the test certificate), with
//     WIKI_MCP_UPSTREAM set to a recording wiki MCP server (which hands each request on to the app's
//     built-in /mcp, so real MCP answers come back);
//   - a stand-in for claude.ai at https://claude.probe.internal:P serving client metadata documents.
// Why `.probe.internal`: the PDS refuses client_ids on .test/.example/.local/.localhost names, and
// nothing here may resolve through real DNS (shared/notes/local-pds.md §8).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { freePort } from '../support/app.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';
import { startCaddy, type RunningCaddy } from '../deploy/support.ts';
import { stopChild, waitForReady } from '../pds/global-setup.ts';
import { CLI, ROOT, startServer, stopServer, type ServerProcess } from '../ops/server-process.ts';
import { makeTestCa, type TestCa } from './ca.ts';

export const DOMAIN_SUFFIX = '.probe.internal';
export const APEX_HOST = `auth${DOMAIN_SUFFIX}`;
const PDS_HOST = `pds${DOMAIN_SUFFIX}`;
const PLC_HOST = `plc${DOMAIN_SUFFIX}`;
export const CLAUDE_HOST = `claude${DOMAIN_SUFFIX}`;
const PIN_HOSTS = path.join(ROOT, 'test/production/pin-hosts.mjs');
const PDS_START = path.join(ROOT, 'test/pds/start-tls.mjs');
/** For Chromium: the same pinning as pin-hosts.mjs gives the node children. */
export const CHROMIUM_HOST_RULES = `MAP *${DOMAIN_SUFFIX} 127.0.0.1`;

const CLIENT_FIXTURES = path.join(ROOT, 'test/fixtures/clients');

/**
 * A real client's published metadata (test/fixtures/clients/NAME.json: Claude.ai's document is the
 * exact one quoted in issue 10) with its origin https://claude.ai replaced by `origin` everywhere
 * (client_id, client_uri, an https redirect URI): a document's client_id must be the URL it is
 * served from, and the stand-in is what serves it here. Nothing else is changed.
 */
export function clientFixture(name: string, origin: string): Record<string, unknown> {
  const text = fs.readFileSync(path.join(CLIENT_FIXTURES, `${name}.json`), 'utf8');
  return JSON.parse(text.replaceAll('https://claude.ai', origin)) as Record<string, unknown>;
}

/** Documents the claude.ai stand-in serves: path → fixture. */
const STAND_IN_DOCUMENTS: Record<string, string> = {
  '/oauth/mcp-oauth-client-metadata': 'claude-ai.cimd',
  '/oauth/claude-code-client-metadata': 'claude-code.cimd',
};

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface ProductionStack {
  /** https://auth.probe.internal:PORT: PUBLIC_URL, the issuer, Caddy's apex. */
  publicUrl: string;
  ca: TestCa;
  pds: { url: string; plcUrl: string; /** The PDS's own http port, for creating test accounts only. */ localUrl: string };
  /** https://claude.probe.internal:PORT */
  claudeOrigin: string;
  /** Paths the claude.ai stand-in was asked for. */
  claudeRequests: string[];
  /**
   * A TCP listener on loopback that counts connections: https://{any}.probe.internal:{trapPort}
   * resolves to it (the names are pinned), so a URL on it that is NOT in OUTBOUND_PRIVATE_HOSTS
   * shows whether the product tried to reach it anyway.
   */
  trap: { port: number; connections(): number };
  /** What reached the wiki MCP upstream through Caddy's forward_auth. */
  upstreamRequests: RecordedRequest[];
  server: ServerProcess;
  /** The environment the app runs with (PUBLIC_URL, DATABASE_FILE, key files, …): the admin CLI's, too. */
  env: Record<string, string>;
  /** What the app's node children are started with: the DNS pinning preload and the test CA. */
  nodeArgs: string[];
  pinEnv: Record<string, string>;
  /** https://{slug}.auth.probe.internal:PORT/mcp */
  wikiMcpUrl(slug: string): string;
  /** fetch for clients in the test process: names to Caddy on loopback, the test CA trusted. */
  fetch: FetchLike;
  /** The app's JSON log lines so far. */
  appLog(): string;
  stop(): Promise<void>;
}

/** Starts everything; on any failure stops what had started and throws with the logs. */
export async function startProductionStack(): Promise<ProductionStack> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-prod-'));
  const stoppers: Array<() => Promise<void> | void> = [() => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stoppers.splice(0).reverse()) {
      try {
        await s();
      } catch (err) {
        process.stderr.write(`[production suite] cleanup step failed: ${(err as Error).message}\n`);
      }
    }
  };
  try {
    const ca = makeTestCa(path.join(dir, 'ca'), [APEX_HOST, `*.${APEX_HOST}`, PDS_HOST, PLC_HOST, CLAUDE_HOST]);
    const [caddyPort, redirectPort, appPort, pdsPort, plcPort] = (await distinctFreePorts(5)) as [number, number, number, number, number];
    const publicUrl = `https://${APEX_HOST}:${caddyPort}`;
    const pinEnv = { PINNED_HOST_SUFFIX: DOMAIN_SUFFIX, NODE_EXTRA_CA_CERTS: ca.caFile };

    const claude = await startClaudeStandIn(ca);
    stoppers.push(claude.close);
    const upstream = await startForwardingRecorder(`127.0.0.1:${appPort}`);
    stoppers.push(upstream.close);
    const trap = await startConnectionTrap();
    stoppers.push(trap.close);

    const pdsTmp = path.join(dir, 'pds-tmp');
    fs.mkdirSync(pdsTmp);
    const pdsChild = spawn(process.execPath, ['--import', PIN_HOSTS, PDS_START], {
      env: {
        ...process.env,
        ...pinEnv,
        TMPDIR: pdsTmp,
        PDS_PUBLIC_URL: `https://${PDS_HOST}:${pdsPort}`,
        PLC_PUBLIC_URL: `https://${PLC_HOST}:${plcPort}`,
        TLS_CERT_FILE: ca.certFile,
        TLS_KEY_FILE: ca.keyFile,
      },
      // stdin open as a lifeline: if the test worker dies, the PDS sees EOF and exits.
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    stoppers.push(() => stopChild(pdsChild));
    const pdsReady = waitForReady(pdsChild);

    const keysDir = path.join(dir, 'keys');
    const keys = generateKeysWithCli(keysDir);
    const dataDir = path.join(dir, 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const serverEnv: Record<string, string> = {
      ...productionEnvExample(),
      PORT: String(appPort),
      HOST: '127.0.0.1',
      PUBLIC_URL: publicUrl,
      PLATFORM_NAME: APEX_HOST,
      DATA_DIR: dataDir,
      DATABASE_FILE: path.join(dataDir, 'robot-auth.sqlite'),
      PLATFORM_KEYS_FILE: keys.platformKeysFile,
      ATPROTO_CLIENT_KEYS_FILE: keys.atprotoClientKeysFile,
      ATPROTO_PLC_URL: `https://${PLC_HOST}:${plcPort}`,
      ATPROTO_HANDLE_RESOLVER: `https://${PDS_HOST}:${pdsPort}`,
      COOKIE_DOMAIN: `.${APEX_HOST}`,
      TRUST_PROXY: 'loopback',
      // The one documented exemption from the SSRF rules (issue 9 finding 1): these names resolve to
      // loopback here, as a PDS on the operator's own network would resolve to a private address.
      OUTBOUND_PRIVATE_HOSTS: [PDS_HOST, PLC_HOST, CLAUDE_HOST].join(','),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
      ...pinEnv,
    };
    const server = await startServer({ dataDir, port: appPort, logLevel: serverEnv.LOG_LEVEL, env: serverEnv, nodeArgs: ['--import', PIN_HOSTS] });
    stoppers.push(() => stopServer(server));

    const caddy: RunningCaddy = await startCaddy(caddyPort, {
      SITE_SCHEME: 'https',
      PLATFORM_DOMAIN: `${APEX_HOST}:${caddyPort}`,
      APP_ADDRESS: `127.0.0.1:${appPort}`,
      WIKI_MCP_UPSTREAM: upstream.address,
      WIKI_WEB_UPSTREAM: '',
      CADDY_TLS_MODE: 'files',
      CADDY_TLS_CERT_FILE: ca.certFile,
      CADDY_TLS_KEY_FILE: ca.keyFile,
      CADDY_HTTP_PORT: String(redirectPort),
    });
    stoppers.push(caddy.stop);

    const info = (await pdsReady) as Awaited<typeof pdsReady> & { pdsLocalUrl?: unknown };
    if (typeof info.pdsLocalUrl !== 'string') throw new Error(`start-tls.mjs printed no pdsLocalUrl: ${JSON.stringify(info)}`);

    return {
      publicUrl,
      ca,
      pds: { url: info.pdsUrl, plcUrl: info.plcUrl, localUrl: info.pdsLocalUrl },
      claudeOrigin: `https://${CLAUDE_HOST}:${claude.port}`,
      claudeRequests: claude.requests,
      upstreamRequests: upstream.requests,
      trap: { port: trap.port, connections: trap.connections },
      server,
      env: serverEnv,
      nodeArgs: ['--import', PIN_HOSTS],
      pinEnv,
      wikiMcpUrl: (slug) => `https://${slug}.${APEX_HOST}:${caddyPort}/mcp`,
      fetch: loopbackFetch(undefined, { ca: ca.caPem }),
      appLog: () => server.stdout(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** deploy/production.env.example as key → value: the suite starts from what operators are told to set. */
function productionEnvExample(): Record<string, string> {
  const parsed = parseEnv(fs.readFileSync(path.join(ROOT, 'deploy/production.env.example'), 'utf8'));
  return Object.fromEntries(Object.entries(parsed).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

/** `npm run admin -- keys generate --out DIR`, as docs/operations.md tells operators. */
function generateKeysWithCli(out: string): { platformKeysFile: string; atprotoClientKeysFile: string } {
  const result = spawnSync(process.execPath, [CLI, 'keys', 'generate', '--out', out], {
    cwd: path.dirname(out),
    env: { PATH: process.env.PATH ?? '' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0) throw new Error(`keys generate failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  const value = (name: string) => {
    const line = result.stdout.split('\n').find((l) => l.startsWith(`${name}=`));
    if (!line) throw new Error(`keys generate did not print ${name}=:\n${result.stdout}`);
    return line.slice(name.length + 1);
  };
  return { platformKeysFile: value('PLATFORM_KEYS_FILE'), atprotoClientKeysFile: value('ATPROTO_CLIENT_KEYS_FILE') };
}

async function distinctFreePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

/**
 * https://claude.probe.internal:PORT: serves Claude.ai's and Claude Code's client metadata documents
 * (adjusted to this origin, see clientFixture) and the callback page Claude.ai's redirect URI names.
 */
async function startClaudeStandIn(ca: TestCa): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  let origin = '';
  const server = https.createServer({ cert: fs.readFileSync(ca.certFile), key: fs.readFileSync(ca.keyFile) }, (req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const document = STAND_IN_DOCUMENTS[url];
    if (document !== undefined) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify(clientFixture(document, origin)));
    } else if (url.startsWith('/api/mcp/auth_callback')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>Claude</title><p>Connected.</p>');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  origin = `https://${CLAUDE_HOST}:${port}`;
  return {
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Accepts TCP connections, counts them and closes them at once. */
async function startConnectionTrap(): Promise<{ port: number; connections(): number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count += 1;
    socket.destroy();
  });
  server.on('connection', (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The wikis' MCP server as Caddy sees it (WIKI_MCP_UPSTREAM): records what forward_auth let through
 * (the X-Auth-* identity headers), then hands the request on to the app's built-in /mcp so that the
 * MCP client gets real answers.
 */
async function startForwardingRecorder(app: string): Promise<{ address: string; requests: RecordedRequest[]; close(): Promise<void> }> {
  const requests: RecordedRequest[] = [];
  const [appHost, appPort] = app.split(':');
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const forward = http.request({ host: appHost, port: Number(appPort), method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`recording upstream: ${err.message}`);
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
