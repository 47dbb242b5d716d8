// CPU per request of the edge cases (GET /auth/verify, POST /mcp whoami, AS metadata, PRM) and of
// their bare Express routes, in one process with no socket: each request is a real
// http.IncomingMessage / ServerResponse pair on an in-memory socket, handed to the Express app, so
// kernel and load generator are out of the figure and a busy machine disturbs it least. Run it
// pinned (`taskset -c 1 node scripts/bench/edge-inproc.ts [--n 20000] [--only verify,whoami]`) and
// compare two checkouts back to back (docs/benchmarks.md, "Round 3: verify, MCP and discovery").
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import { parseArgs } from 'node:util';
import express from 'express';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config/env.ts';
import { createContext } from '../../src/context.ts';
import { authorizationServerMetadata } from '../../src/oauth/metadata/as-metadata.ts';
import { createPools } from './pools.ts';
import { APEX_HOST, buildDatabase, SMALL, SCOPE } from './seed.ts';

const { values: flags } = parseArgs({ options: { n: { type: 'string', default: '20000' }, only: { type: 'string' }, rounds: { type: 'string', default: '3' } } });
const N = Number(flags.n);

/** A socket that swallows what is written to it. */
class NullSocket extends Duplex {
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  encrypted = false;
  override _read(): void {}
  override _write(_chunk: unknown, _enc: BufferEncoding, cb: () => void): void {
    cb();
  }
  override _writev(_chunks: unknown, cb: () => void): void {
    cb();
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

interface Shot {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** Runs one request through `app` and resolves when the response has finished. */
function inject(app: http.RequestListener, shot: Shot): Promise<number> {
  const socket = new NullSocket();
  const req = new http.IncomingMessage(socket as never);
  req.method = shot.method;
  req.url = shot.url;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = 1;
  req.httpVersion = '1.1';
  const headers: Record<string, string> = { ...shot.headers };
  if (shot.body !== undefined) headers['content-length'] = String(Buffer.byteLength(shot.body));
  req.headers = headers;
  req.rawHeaders = Object.entries(headers).flat();
  const res = new http.ServerResponse(req);
  res.assignSocket(socket as never);
  return new Promise((resolve, reject) => {
    res.on('finish', () => resolve(res.statusCode));
    res.on('close', () => {
      if (!res.writableFinished) reject(new Error('response closed before it was written'));
    });
    res.on('error', reject);
    app(req, res);
    if (shot.body !== undefined) req.push(shot.body);
    req.complete = true; // as the HTTP parser marks it; otherwise Node takes the request for aborted
    req.push(null);
  });
}

async function measure(app: http.RequestListener, shots: (i: number) => Shot, expect: number): Promise<number> {
  for (let i = 0; i < 2000; i++) {
    const status = await inject(app, shots(i));
    if (status !== expect) throw new Error(`status ${status}, expected ${expect}: ${JSON.stringify(shots(i)).slice(0, 200)}`);
  }
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await inject(app, shots(i));
  const used = process.cpuUsage(start);
  return (used.user + used.system) / N;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-inproc-'));
try {
  const file = path.join(dir, 'bench.sqlite');
  buildDatabase(file, SMALL);
  const unlimited = '1000000000';
  const config = parseConfig({
    DATA_DIR: dir,
    DATABASE_FILE: file,
    LOG_LEVEL: 'info',
    RATE_LIMIT_DISCOVERY_PER_MINUTE: unlimited,
    RATE_LIMIT_MCP_PER_GRANT_PER_MINUTE: unlimited,
    RATE_LIMIT_TOKEN_PER_MINUTE: unlimited,
  });
  // Request lines to /dev/null, as in the bench child (its stdout is ignored).
  const devNull = fs.openSync('/dev/null', 'w');
  fs.closeSync(1);
  fs.openSync('/dev/null', 'w'); // takes fd 1
  fs.closeSync(devNull);
  const ctx = await createContext(config);
  const app = createApp(ctx) as unknown as http.RequestListener;
  const pools = createPools(ctx, SMALL);
  const tokens = await pools.accessTokens(200);
  const who = { did: 'did:plc:x', handle: 'h', wiki: 'w0', scopes: SCOPE.split(' ') };
  const bare = express();
  bare.disable('x-powered-by');
  const authHeaders = { 'Cache-Control': 'no-store', Pragma: 'no-cache', 'X-Auth-Did': who.did, 'X-Auth-Handle': who.handle, 'X-Auth-Wiki': who.wiki, 'X-Auth-Scopes': SCOPE, 'X-Auth-Client-Id': 'c' };
  bare.all('/bare/verify', (_req, res) => {
    res.status(200).set(authHeaders).end();
  });
  const whoamiResult = { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
  bare.post('/bare/mcp', express.json({ limit: '1mb' }), (req, res) => {
    const id = (req.body as { id?: unknown }).id ?? null;
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' }).json({ result: whoamiResult, jsonrpc: '2.0', id });
  });
  const metadata = authorizationServerMetadata(config);
  bare.get('/bare/json', (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').json(metadata);
  });
  const bareApp = bare as unknown as http.RequestListener;

  const t = (i: number) => tokens[i % tokens.length]!;
  const mcpHeaders = { accept: 'application/json, text/event-stream', 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' };
  const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
  const cases: Array<{ id: string; bare: [string, (i: number) => Shot]; app: (i: number) => Shot; status: number }> = [
    {
      id: 'verify',
      bare: ['bare-verify', () => ({ method: 'GET', url: '/bare/verify', headers: {} })],
      app: (i) => ({ method: 'GET', url: '/auth/verify', headers: { host: t(i).host, 'x-forwarded-host': t(i).host, authorization: `Bearer ${t(i).token}` } }),
      status: 200,
    },
    {
      id: 'whoami',
      bare: ['bare-mcp', () => ({ method: 'POST', url: '/bare/mcp', headers: mcpHeaders, body: call })],
      app: (i) => ({ method: 'POST', url: '/mcp', headers: { ...mcpHeaders, host: t(i).host, authorization: `Bearer ${t(i).token}` }, body: call }),
      status: 200,
    },
    {
      id: 'as-metadata',
      bare: ['bare-json', () => ({ method: 'GET', url: '/bare/json', headers: {} })],
      app: () => ({ method: 'GET', url: '/.well-known/oauth-authorization-server', headers: { host: APEX_HOST } }),
      status: 200,
    },
    {
      id: 'prm',
      bare: ['bare-json', () => ({ method: 'GET', url: '/bare/json', headers: {} })],
      app: (i) => ({ method: 'GET', url: '/.well-known/oauth-protected-resource/mcp', headers: { host: t(i).host } }),
      status: 200,
    },
  ];
  const only = flags.only?.split(',');
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const c of cases) {
      if (only && !only.includes(c.id)) continue;
      const bareCpu = await measure(bareApp, c.bare[1], 200);
      const appCpu = await measure(app, c.app, c.status);
      process.stderr.write(`${c.id.padEnd(12)} app ${appCpu.toFixed(1).padStart(6)} µs   ${c.bare[0].padEnd(12)} ${bareCpu.toFixed(1).padStart(6)} µs   bare/app ${(bareCpu / appCpu).toFixed(2)}\n`);
    }
  }
  ctx.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
