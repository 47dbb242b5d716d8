// The built-in MCP server, driven by the real SDK client over a listening socket, and raw JSON-RPC
// for what Claude Code sends before `initialize`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoverFallback } from '../../../src/resource/mcp/mcp-server.ts';
import {
  ALICE_HOST,
  ALICE_MCP,
  createResourceFixture,
  loopbackFetch,
  MCP_POST_HEADERS,
  SERVER_DISCOVER,
  type ResourceFixture,
} from '../support.ts';

let f: ResourceFixture;
let server: http.Server;
let port: number;

beforeAll(async () => {
  f = await createResourceFixture();
  server = http.createServer(f.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  f.close();
});

async function connect(token: string | undefined, url = ALICE_MCP): Promise<Client> {
  const client = new Client({ name: 'robot-auth-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: loopbackFetch(port),
    requestInit: token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

describe('with the MCP SDK client', () => {
  it('initializes, lists tools and calls whoami', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const client = await connect(token);
    try {
      expect(client.getServerVersion()?.name).toBe('robot-auth-wiki');
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual(['whoami']);
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      const expected = { did: f.alice.did, handle: f.alice.handle, wiki: 'alice', scopes: ['wiki:read', 'wiki:write'] };
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toEqual(expected);
      expect(result.content).toEqual([{ type: 'text', text: JSON.stringify(expected) }]);
    } finally {
      await client.close();
    }
  });

  it('works the same at /mcp/', async () => {
    const { token } = await f.mint(f.aliceReadOnlyGrant);
    const client = await connect(token, `${ALICE_MCP}/`);
    try {
      const result = await client.callTool({ name: 'whoami', arguments: {} });
      expect(result.structuredContent).toMatchObject({ wiki: 'alice', scopes: ['wiki:read'] });
    } finally {
      await client.close();
    }
  });

  it('cannot connect without a token (401)', async () => {
    await expect(connect(undefined)).rejects.toThrow(/401|Unauthorized/i);
  });
});

describe('raw JSON-RPC with a valid token', () => {
  async function post(body: unknown, headers: Record<string, string> = {}) {
    const { token } = await f.mint(f.aliceGrant);
    return request(f.app)
      .post('/mcp')
      .set('Host', ALICE_HOST)
      .set(MCP_POST_HEADERS)
      .set('Authorization', `Bearer ${token}`)
      .set(headers)
      .send(JSON.stringify(body));
  }

  const discoverHeaders: Record<string, string>[] = [{}, { 'MCP-Protocol-Version': '2026-07-28' }, { 'MCP-Protocol-Version': '2025-11-25' }];
  it.each(discoverHeaders)(
    'server/discover gets a JSON-RPC "method not found" error, HTTP 200 (%j)',
    async (headers) => {
      const res = await post({ ...SERVER_DISCOVER, id: 'd1' }, headers);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ jsonrpc: '2.0', id: 'd1', error: { code: -32601, message: 'Method not found' } });
    },
  );

  it('any unknown method on a fresh stateless server gets "method not found"', async () => {
    const res = await post({ jsonrpc: '2.0', id: 7, method: 'no/such-method', params: {} }, { 'MCP-Protocol-Version': '2025-11-25' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32601 } });
  });

  it('why discoverFallback exists: the SDK refuses other requests naming 2026-07-28 with a 400 before the method is looked at', async () => {
    const res = await post({ jsonrpc: '2.0', id: 8, method: 'no/such-method', params: {} }, { 'MCP-Protocol-Version': '2026-07-28' });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
  });

  it('tools/list without initialize (stateless)', async () => {
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, { 'MCP-Protocol-Version': '2025-11-25' });
    expect(res.status).toBe(200);
    expect(res.body.result.tools[0].name).toBe('whoami');
  });

  it('a notification gets 202', async () => {
    const res = await post({ jsonrpc: '2.0', method: 'notifications/initialized' });
    expect(res.status).toBe(202);
  });

  it('malformed JSON is a 4xx, never a 5xx', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await request(f.app).post('/mcp').set('Host', ALICE_HOST).set(MCP_POST_HEADERS).set('Authorization', `Bearer ${token}`).send('{"jsonrpc":');
    expect(res.status).toBe(400);
  });

  it('GET (the SSE stream) is 405 in stateless mode', async () => {
    const { token } = await f.mint(f.aliceGrant);
    const res = await request(f.app).get('/mcp').set('Host', ALICE_HOST).set('Accept', 'text/event-stream').set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toContain('POST');
  });
});

describe('discoverFallback', () => {
  it('answers server/discover requests only', () => {
    expect(discoverFallback({ jsonrpc: '2.0', id: 3, method: 'server/discover' })).toEqual({
      jsonrpc: '2.0',
      id: 3,
      error: { code: -32601, message: 'Method not found' },
    });
    expect(discoverFallback({ jsonrpc: '2.0', method: 'server/discover' })).toBeUndefined();
    expect(discoverFallback({ jsonrpc: '2.0', id: 3, method: 'initialize', params: {} })).toBeUndefined();
    expect(discoverFallback(undefined)).toBeUndefined();
  });
});
