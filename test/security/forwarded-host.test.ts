// Issue 9, finding 5: behind a trusted front proxy, /auth/verify took the wiki from X-Forwarded-Host
// instead of Host. A load balancer in front of Caddy (listed in CADDY_TRUSTED_PROXIES, as it must be
// for client addresses to be right) passes on what its client sent in X-Forwarded-Host, and Caddy
// keeps it for a trusted proxy; so a token for wiki B was accepted for a request whose Host, the one
// Caddy routes by and the wiki server sees, is wiki A. Now the wiki comes from Host only, and a
// disagreeing X-Forwarded-Host is refused with 400 (src/wikis/urls.ts, wikiSlugOfRequest).
//
// The chain, all real: client → a small Node load balancer (as AWS ALB does: appends X-Forwarded-For,
// sets X-Forwarded-Proto, passes everything else through, Host included) on 127.0.0.9 → real Caddy
// with the shipped Caddyfile trusting 127.0.0.9 → the real app (TRUST_PROXY=loopback) and a recording
// wiki MCP server.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpPost, send, startRecorder, startStack, type RawRequest, type RawResponse, type Recorder, type Stack } from '../deploy/support.ts';

const LB_ADDRESS = '127.0.0.9';

interface FrontProxy {
  port: number;
  close(): Promise<void>;
}

/** A load balancer in front of Caddy: forwards every request as received, from LB_ADDRESS. */
async function startFrontProxy(caddyPort: number): Promise<FrontProxy> {
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers };
    const prior = headers['x-forwarded-for'];
    headers['x-forwarded-for'] = [prior, req.socket.remoteAddress].filter(Boolean).join(', ');
    headers['x-forwarded-proto'] = 'https';
    const upstream = http.request({ host: '127.0.0.1', port: caddyPort, localAddress: LB_ADDRESS, method: req.method, path: req.url, headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('a wiki’s Host cannot be swapped through X-Forwarded-Host behind a trusted load balancer', () => {
  let s: Stack;
  let mcp: Recorder;
  let lb: FrontProxy;
  let bobToken: string;
  let viaLb: (r: RawRequest) => Promise<RawResponse>;
  beforeAll(async () => {
    mcp = await startRecorder('mcp');
    s = await startStack({ mcp }, { caddyEnv: { CADDY_TRUSTED_PROXIES: `${LB_ADDRESS}/32` } });
    lb = await startFrontProxy(s.caddy.port);
    viaLb = (r) => send(lb.port, r);
    bobToken = await s.seeded.mint(s.seeded.bobGrant);
  });
  afterAll(async () => {
    await lb?.close();
    await s?.close();
    await mcp?.close();
  });

  it('the chain works: bob’s token on bob’s wiki reaches the wiki MCP server as bob', async () => {
    const before = mcp.requests.length;
    const res = await viaLb(mcpPost(`bob.${s.apex}`, { Authorization: `Bearer ${bobToken}` }));
    expect(res.status).toBe(200);
    expect(mcp.requests.length).toBe(before + 1);
    expect(mcp.requests.at(-1)?.headers).toMatchObject({ host: `bob.${s.apex}`, 'x-auth-wiki': 'bob' });
  });

  it('a token for wiki bob with Host: alice and X-Forwarded-Host: bob is refused (400) and never reaches alice’s wiki', async () => {
    const before = mcp.requests.length;
    const res = await viaLb(mcpPost(s.alice, { Authorization: `Bearer ${bobToken}`, 'X-Forwarded-Host': `bob.${s.apex}` }));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    expect(mcp.requests.length).toBe(before);
  });

  it('the same forgery with a list, or different case, is refused as well', async () => {
    const before = mcp.requests.length;
    for (const forwarded of [`bob.${s.apex}, ${s.alice}`, `${s.alice}, bob.${s.apex}`, `BOB.${s.apex}`]) {
      const res = await viaLb(mcpPost(s.alice, { Authorization: `Bearer ${bobToken}`, 'X-Forwarded-Host': forwarded }));
      expect(res.status, forwarded).toBe(400);
    }
    expect(mcp.requests.length).toBe(before);
  });

  it('without the forgery, bob’s token on alice’s wiki is the usual 401', async () => {
    const res = await viaLb(mcpPost(s.alice, { Authorization: `Bearer ${bobToken}` }));
    expect(res.status).toBe(401);
  });
});
