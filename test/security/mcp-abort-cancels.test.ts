// Review finding (low): an MCP request on the fast path (one JSON-RPC request through the long-lived
// server, src/resource/mcp/mcp-server.ts SingleRequestTransport) whose HTTP client went away only
// dropped the waiting entry: the tool handler kept running, so a client could start slow work and
// hang up, again and again, for free. The SDK path closes its server and transport on `close`. The
// attack: a tool that works until its AbortSignal fires (registered on the shared server for this
// test only, through the module's `sharedServer` seam), a client that sends tools/call over real
// HTTP and disconnects. The handler's signal must fire.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../src/resource/check-bearer.ts';
import { serveMcpRequest, sharedServer } from '../../src/resource/mcp/mcp-server.ts';

const alice: Caller = { did: 'did:plc:alice', handle: 'alice.test', wiki: 'alice', scopes: ['wiki:read'], clientId: 'c', grantId: 'g1', jti: 'j1' };

let server: http.Server;
let port: number;
const started: Array<() => void> = [];
const outcomes: Array<'aborted' | 'finished'> = [];

beforeAll(async () => {
  const { server: mcp } = await sharedServer();
  mcp.registerTool('test_slow', { description: 'test only: works for 5 s unless cancelled' }, async (extra) => {
    started.shift()?.();
    const outcome = await new Promise<'aborted' | 'finished'>((resolve) => {
      const timer = setTimeout(() => resolve('finished'), 5_000);
      extra.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve('aborted');
      });
    });
    outcomes.push(outcome);
    return { content: [{ type: 'text', text: outcome }] };
  });
  const app = express();
  app.use(express.json());
  app.post('/mcp', (req, res, next) => void serveMcpRequest(alice, req, res).catch(next));
  server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe('a fast-path MCP request whose client goes away', () => {
  it("cancels the tool handler (its AbortSignal fires), and nothing stays in flight", async () => {
    const { transport } = await sharedServer();
    const running = new Promise<void>((resolve) => started.push(resolve));
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'test_slow', arguments: {} } });
    const req = http.request({
      host: '127.0.0.1',
      port,
      path: '/mcp',
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Content-Length': Buffer.byteLength(body) },
    });
    req.on('error', () => {}); // we hang up ourselves
    req.end(body);
    await running;
    expect(transport.inFlight).toBe(1);
    const hungUpAt = Date.now();
    req.destroy();
    await expect.poll(() => outcomes.length, { timeout: 3_000, interval: 20 }).toBe(1);
    expect(outcomes).toEqual(['aborted']);
    expect(Date.now() - hungUpAt).toBeLessThan(2_000);
    expect(transport.inFlight).toBe(0);
  });
});
