// Issue 9, finding 11 (reliability): if the app closes an idle keep-alive connection before Caddy
// does, Caddy may send a request on it at that instant and its client gets a 502. The rule
// (src/web/server-timeouts.ts): Caddy's upstream keepalive (set in the Caddyfile) is shorter than the
// app's keepAliveTimeout, so Caddy is always the side that closes.
//   - the shipped values: every reverse_proxy and forward_auth of the Caddyfile has an explicit idle
//     timeout below KEEP_ALIVE_TIMEOUT_MS;
//   - in practice, scaled down (CADDY_UPSTREAM_KEEPALIVE=1s): real Caddy in front of a Node server with
//     the app's timeouts applied; after an idle second it is Caddy that closes the connection. A control
//     run with the relationship reversed (Caddy 2 s, app 200 ms) shows the observation tells them apart.
import http from 'node:http';
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { applyServerTimeouts, KEEP_ALIVE_TIMEOUT_MS } from '../../src/web/server-timeouts.ts';
import { freePort } from '../support/app.ts';
import { adaptCaddyfile, caddyBinary, send, startCaddy, type RunningCaddy } from './support.ts';

/** Every keep_alive.idle_timeout (nanoseconds) of each upstream transport in a Caddy JSON config, with the handler count. */
function upstreamIdleTimeouts(config: unknown): { proxies: number; idle: (number | undefined)[] } {
  const idle: (number | undefined)[] = [];
  let proxies = 0;
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    if (o.handler === 'reverse_proxy') {
      proxies += 1;
      const transport = o.transport as { keep_alive?: { idle_timeout?: number } } | undefined;
      idle.push(transport?.keep_alive?.idle_timeout);
    }
    Object.values(o).forEach(walk);
  };
  walk(config);
  return { proxies, idle };
}

interface Observed {
  /** For each upstream connection: who ended it first, and when (ms after its last response). */
  closes: { by: 'proxy' | 'app'; afterMs: number }[];
  close(): Promise<void>;
  port: number;
}

/** An upstream that records, per connection, whether the proxy's FIN or its own close came first. */
async function observedUpstream(keepAliveMs: number): Promise<Observed> {
  const closes: Observed['closes'] = [];
  let lastResponse = 0;
  const server = http.createServer((_req, res) => {
    res.end('ok', () => {
      lastResponse = Date.now();
    });
  });
  applyServerTimeouts(server, keepAliveMs);
  server.on('connection', (socket: net.Socket) => {
    let by: 'proxy' | 'app' | undefined;
    // Before Node's own listener, which answers the peer's FIN by closing the socket itself.
    socket.prependOnceListener('end', () => (by ??= 'proxy'));
    const ownEnd = socket.end.bind(socket);
    const ownDestroy = socket.destroy.bind(socket);
    socket.end = ((...args: Parameters<net.Socket['end']>) => {
      by ??= 'app';
      return ownEnd(...args);
    }) as net.Socket['end'];
    socket.destroy = ((err?: Error) => {
      by ??= 'app';
      return ownDestroy(err);
    }) as net.Socket['destroy'];
    socket.once('close', () => closes.push({ by: by ?? 'app', afterMs: Date.now() - lastResponse }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    closes,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('keep-alive between Caddy and the app', () => {
  it('ships with Caddy’s upstream keepalive explicit on every proxy, and below the app’s keepAliveTimeout', () => {
    const config = adaptCaddyfile({ PLATFORM_DOMAIN: 'wiki.example', WIKI_MCP_UPSTREAM: '10.0.0.5:8081', WIKI_WEB_UPSTREAM: '10.0.0.5:8080' });
    const { proxies, idle } = upstreamIdleTimeouts(config);
    expect(proxies).toBeGreaterThanOrEqual(5); // apex, oauth, preflight, forward_auth, MCP, built-in, web, fallback
    expect(idle).toEqual(Array(proxies).fill(60_000_000_000));
    expect(60_000).toBeLessThan(KEEP_ALIVE_TIMEOUT_MS);
    const server = http.createServer();
    applyServerTimeouts(server);
    expect(server.keepAliveTimeout).toBe(KEEP_ALIVE_TIMEOUT_MS);
    expect(server.headersTimeout).toBeGreaterThan(server.keepAliveTimeout);
  });

  let caddy: RunningCaddy | undefined;
  let upstream: Observed | undefined;
  afterEach(async () => {
    await caddy?.stop();
    await upstream?.close();
    caddy = undefined;
    upstream = undefined;
  });

  async function idleThroughCaddy(appKeepAliveMs: number, caddyKeepAlive: string): Promise<Observed['closes']> {
    caddyBinary();
    upstream = await observedUpstream(appKeepAliveMs);
    const port = await freePort();
    caddy = await startCaddy(port, { PLATFORM_DOMAIN: `localhost:${port}`, APP_ADDRESS: `127.0.0.1:${upstream.port}`, CADDY_UPSTREAM_KEEPALIVE: caddyKeepAlive });
    const res = await send(port, { host: `localhost:${port}`, path: '/anything' });
    expect(res.body).toBe('ok');
    const deadline = Date.now() + 3_000;
    while (upstream.closes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return upstream.closes;
  }

  it('in practice (Caddy 1 s, the app’s rule applied): Caddy closes the idle connection, the app never does', async () => {
    // The app's shipped timeout is far above Caddy's 1 s: Caddy must close first, at about 1 s.
    const closes = await idleThroughCaddy(KEEP_ALIVE_TIMEOUT_MS, '1s');
    expect(closes).toHaveLength(1);
    expect(closes[0]?.by).toBe('proxy');
    expect(closes[0]?.afterMs).toBeGreaterThanOrEqual(900);
  });

  it('control: with the app’s timeout below Caddy’s (the old bug, scaled down), the app closes first', async () => {
    // Node 24 closes at keepAliveTimeout + keepAliveTimeoutBuffer (1 s): 200 ms + 1 s, before Caddy's 2 s.
    const closes = await idleThroughCaddy(200, '2s');
    expect(closes).toHaveLength(1);
    expect(closes[0]?.by).toBe('app');
    expect(closes[0]?.afterMs).toBeLessThan(1_900);
  });
});
