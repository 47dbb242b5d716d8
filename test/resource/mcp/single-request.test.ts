// The common MCP request (one JSON-RPC request) is answered by one long-lived McpServer through
// SingleRequestTransport instead of a fresh server and the SDK's Streamable HTTP transport. These
// tests hold it to the SDK: the same answers, byte for byte, for the same requests; each caller
// only ever sees its own identity, even with the same JSON-RPC id at the same moment; anything
// else still takes the SDK's transport.
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../../src/resource/check-bearer.ts';
import { authInfoOf, serveWithSdkTransport, sharedServer, singleRequestOf, serveMcpRequest, whoamiCallOf } from '../../../src/resource/mcp/mcp-server.ts';
import { ALICE_HOST, BOB_HOST, createResourceFixture, MCP_POST_HEADERS, type ResourceFixture } from '../support.ts';

let f: ResourceFixture;
beforeAll(async () => {
  f = await createResourceFixture();
});
afterAll(() => f.close());

const alice: Caller = { did: 'did:plc:alice', handle: 'alice.test', wiki: 'alice', scopes: ['wiki:read', 'wiki:write'], clientId: 'c', grantId: 'g1', jti: 'j1' };

/** Both ways side by side, for one fixed caller: /fast is the route's way, /sdk the SDK transport alone. */
function bothWays(caller: Caller) {
  const app = express();
  app.use(express.json());
  app.post('/fast', (req, res, next) => void serveMcpRequest(caller, req, res).catch(next));
  app.post('/sdk', (req, res, next) => void serveWithSdkTransport(authInfoOf(caller), req, res).catch(next));
  return app;
}

const SAME_ANSWER_CASES: Array<[string, unknown, Record<string, string>?]> = [
  ['tools/call whoami', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }],
  ['tools/call with a string id', { jsonrpc: '2.0', id: 'abc', method: 'tools/call', params: { name: 'whoami' } }],
  ['tools/list', { jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }, { 'MCP-Protocol-Version': '2025-11-25' }],
  ['ping', { jsonrpc: '2.0', id: 3, method: 'ping' }],
  ['an unknown tool', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'nope', arguments: {} } }],
  ['tools/call without a name (invalid params)', { jsonrpc: '2.0', id: 5, method: 'tools/call', params: {} }],
  ['an unknown method', { jsonrpc: '2.0', id: 6, method: 'no/such-method', params: {} }],
  ['resources/list (no such capability)', { jsonrpc: '2.0', id: 7, method: 'resources/list', params: {} }],
];

describe('the single-request way answers as the SDK transport does', () => {
  const app = bothWays(alice);
  it.each(SAME_ANSWER_CASES)('%s', async (_name, body, headers = {}) => {
    expect(singleRequestOf({ method: 'POST', headers: { accept: MCP_POST_HEADERS.Accept, 'content-type': 'application/json' }, body } as never)).toBeDefined();
    const sdk = await request(app).post('/sdk').set(MCP_POST_HEADERS).set(headers).send(JSON.stringify(body));
    const fast = await request(app).post('/fast').set(MCP_POST_HEADERS).set(headers).send(JSON.stringify(body));
    expect(fast.status).toBe(sdk.status);
    expect(fast.headers['content-type']).toBe(sdk.headers['content-type']);
    expect(fast.text).toBe(sdk.text);
  });

  const OTHERS: Array<[string, unknown, Record<string, string>]> = [
    ['initialize', { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }, {}],
    ['an initialize without params', { jsonrpc: '2.0', id: 1, method: 'initialize' }, {}],
    ['a notification', { jsonrpc: '2.0', method: 'notifications/initialized' }, {}],
    ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'ping' }], {}],
    ['Accept without text/event-stream', { jsonrpc: '2.0', id: 1, method: 'ping' }, { Accept: 'application/json' }],
    ['a text/plain body', { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'Content-Type': 'text/plain; a=application/json' }],
    ['an unsupported MCP-Protocol-Version', { jsonrpc: '2.0', id: 1, method: 'ping' }, { 'MCP-Protocol-Version': '2099-01-01' }],
  ];
  it.each(OTHERS)('%s still takes the SDK transport, with its answer', async (_name, body, headers) => {
    const sdk = await request(app).post('/sdk').set(MCP_POST_HEADERS).set(headers).send(JSON.stringify(body));
    const fast = await request(app).post('/fast').set(MCP_POST_HEADERS).set(headers).send(JSON.stringify(body));
    expect(fast.status).toBe(sdk.status);
    expect(fast.text).toBe(sdk.text);
  });
});

// whoami's plainest calls are answered by the tool's own function (whoamiCallOf), every other shape
// by the server: either way the answer is the SDK transport's, byte for byte.
const WHOAMI_CALLS: Array<[string, unknown, boolean]> = [
  ['no arguments', { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } }, true],
  ['arguments {}', { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, true],
  ['arguments it ignores, members in another order', { params: { arguments: { x: [1, { y: null }] }, name: 'whoami' }, id: -7, method: 'tools/call', jsonrpc: '2.0' }, true],
  ['the largest safe integer id', { jsonrpc: '2.0', id: Number.MAX_SAFE_INTEGER, method: 'tools/call', params: { name: 'whoami' } }, true],
  ['a string id with quotes and non-ASCII', { jsonrpc: '2.0', id: 'ré"q\\1', method: 'tools/call', params: { name: 'whoami' } }, true],
  ['an empty string id', { jsonrpc: '2.0', id: '', method: 'tools/call', params: { name: 'whoami' } }, true],
  ['a _meta with a progress token', { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', _meta: { progressToken: 'p' } } }, false],
  ['a task', { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', task: { ttl: 1000 } } }, false],
  ['arguments as an array', { jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'whoami', arguments: [] } }, false],
  ['arguments null', { jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'whoami', arguments: null } }, false],
  ['a fractional id', { jsonrpc: '2.0', id: 1.5, method: 'tools/call', params: { name: 'whoami' } }, false],
  ['a null id', { jsonrpc: '2.0', id: null, method: 'tools/call', params: { name: 'whoami' } }, false],
  ['a member JSON-RPC does not have', { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'whoami' }, extra: 1 }, false],
  ['jsonrpc "1.0"', { jsonrpc: '1.0', id: 7, method: 'tools/call', params: { name: 'whoami' } }, false],
  ['another name', { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'WhoAmI' } }, false],
];

describe('whoami answered by its own function: the same answer as the server gives', () => {
  const app = bothWays(alice);
  it.each(WHOAMI_CALLS)('%s', async (_name, body, direct) => {
    expect(whoamiCallOf(body) !== undefined).toBe(direct);
    const sdk = await request(app).post('/sdk').set(MCP_POST_HEADERS).send(JSON.stringify(body));
    const fast = await request(app).post('/fast').set(MCP_POST_HEADERS).send(JSON.stringify(body));
    expect(fast.status).toBe(sdk.status);
    expect(fast.headers['content-type']).toBe(sdk.headers['content-type']);
    expect(fast.text).toBe(sdk.text);
    if (direct) expect(JSON.parse(fast.text)).toMatchObject({ result: { structuredContent: { did: alice.did, wiki: 'alice' } } });
  });

  it('headers the SDK transport refuses still get its answer, not the tool result', async () => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami' } });
    for (const headers of [{ Accept: 'application/json' }, { 'MCP-Protocol-Version': '2099-01-01' }]) {
      const sdk = await request(app).post('/sdk').set(MCP_POST_HEADERS).set(headers).send(call);
      const fast = await request(app).post('/fast').set(MCP_POST_HEADERS).set(headers).send(call);
      expect(sdk.status).toBeGreaterThanOrEqual(400);
      expect([fast.status, fast.text]).toEqual([sdk.status, sdk.text]);
    }
  });
});

describe('one long-lived server, many callers', () => {
  it('each caller gets its own identity, even with the same JSON-RPC id at the same moment', async () => {
    const [{ token: aliceToken }, { token: bobToken }] = await Promise.all([f.mint(f.aliceGrant), f.mint(f.bobGrant)]);
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    const send = (host: string, token: string) =>
      request(f.app).post('/mcp').set('Host', host).set(MCP_POST_HEADERS).set('Authorization', `Bearer ${token}`).send(call);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? send(ALICE_HOST, aliceToken) : send(BOB_HOST, bobToken))));
    answers.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.id).toBe(1);
      expect(res.body.result.structuredContent).toMatchObject(i % 2 === 0 ? { did: f.alice.did, wiki: 'alice' } : { did: f.bob.did, wiki: 'bob' });
    });
    expect((await sharedServer()).transport.inFlight).toBe(0);
  });

  it('two requests with the same id handed in at the same moment each get their own answer', async () => {
    const { transport } = await sharedServer();
    const bob: Caller = { ...alice, did: 'did:plc:bob', handle: 'bob.test', wiki: 'bob', grantId: 'g2', jti: 'j2' };
    const call = { jsonrpc: '2.0' as const, id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } };
    const never = new AbortController().signal;
    const both = Promise.all([transport.request(call, authInfoOf(alice), never), transport.request(call, authInfoOf(bob), never)]);
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 2000));
    const answers = await Promise.race([both, timeout]);
    expect(answers).not.toBe('timeout');
    const [a, b] = answers as Awaited<typeof both>;
    expect(a).toMatchObject({ id: 1, result: { structuredContent: { did: 'did:plc:alice', wiki: 'alice' } } });
    expect(b).toMatchObject({ id: 1, result: { structuredContent: { did: 'did:plc:bob', wiki: 'bob' } } });
    expect(transport.inFlight).toBe(0);
  });

  it('a request whose client went away leaves nothing behind', async () => {
    const { transport } = await sharedServer();
    const gone = new AbortController();
    gone.abort();
    const answer = await transport.request({ jsonrpc: '2.0', id: 9, method: 'ping' }, authInfoOf(alice), gone.signal);
    expect(answer).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 10)); // the server's late answer is dropped
    expect(transport.inFlight).toBe(0);
  });
});
