// POST /mcp's light path (src/web/mcp-light-path.ts) answers exactly as the Express chain does: each
// request sent once with the light path on and once with it off, over a real socket; status,
// headers (minus Date, the request id by shape), body, log lines and metrics must agree. The
// variants it must leave to Express (another spelling, another host, another body encoding, a
// spent budget…) are checked not taken; those it takes and hands on (another MCP message, a
// refused token, a body that is not JSON) are checked taken and equal.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lightPathSwitch } from '../../src/web/light-request.ts';
import { JSON_LIGHT_BODY_LIMIT } from '../../src/web/json-body.ts';
import type { TestApp } from '../support/app.ts';
import { both, send, started, type LogLine, type Shot } from '../support/light-path.ts';
import { mintAccessToken, seedAliceAndBob, seedGrant } from '../support/seed.ts';

const ALICE = 'alice.localhost:3000';
const MCP_HEADERS = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
const WHOAMI = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } });

let app: TestApp;
let lines: LogLine[];
let token: string;
let otherWikiToken: string;
let writeOnlyToken: string;

beforeAll(async () => {
  ({ app, lines } = await started({ TRUST_PROXY: 'loopback' }));
  const { alice, bob } = await seedAliceAndBob(app.ctx, 'test-client');
  const g = await seedGrant(app.ctx, app.config, { did: alice.did, slug: 'alice', clientId: 'test-client', refreshToken: false });
  token = (await mintAccessToken(app.ctx, { grantId: g.grantId, did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:read wiki:write' })).token;
  const b = await seedGrant(app.ctx, app.config, { did: bob.did, slug: 'bob', clientId: 'test-client', refreshToken: false });
  otherWikiToken = (await mintAccessToken(app.ctx, { grantId: b.grantId, did: bob.did, slug: 'bob', clientId: 'test-client', scope: 'wiki:read' })).token;
  const w = await seedGrant(app.ctx, app.config, { did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:write', refreshToken: false });
  writeOnlyToken = (await mintAccessToken(app.ctx, { grantId: w.grantId, did: alice.did, slug: 'alice', clientId: 'test-client', scope: 'wiki:write' })).token;
});
afterAll(async () => {
  lightPathSwitch.enabled = true;
  await app?.close();
});

/** A whoami call of exactly `bytes` bytes (its arguments padded). */
function whoamiOfLength(bytes: number): string {
  const bare = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'whoami', arguments: { pad: '' } } });
  return bare.replace('"pad":""', `"pad":"${'x'.repeat(bytes - bare.length)}"`);
}

const mcp = (body: string, headers: Record<string, string> = {}, path = '/mcp'): Shot => ({
  method: 'POST',
  path,
  headers: { host: ALICE, authorization: `Bearer ${token}`, ...MCP_HEADERS, ...headers },
  body,
});

describe('POST /mcp: the light path answers as the Express chain does', () => {
  it('tools/call whoami: taken, the same 200 (CORS, no-store, JSON), log line and metrics', async () => {
    const r = await both(app, lines, mcp(WHOAMI));
    expect(r.light).toBe(true);
    expect(r.answer.status).toBe(200);
    expect(JSON.parse(r.answer.body)).toMatchObject({ jsonrpc: '2.0', id: 1, result: { structuredContent: { wiki: 'alice', scopes: ['wiki:read', 'wiki:write'] } } });
    expect(r.answer.headers['access-control-allow-origin']).toBe('*');
    expect(r.answer.headers['access-control-expose-headers']).toBe('WWW-Authenticate, Mcp-Session-Id, Mcp-Protocol-Version');
    expect(r.answer.headers['cache-control']).toBe('no-store');
    expect(r.answer.headers['content-security-policy']).toBeDefined();
  });

  const taken: [string, Shot][] = [
    ['whoami with charset=UTF-8 and a byte order mark', mcp(`\uFEFF${WHOAMI}`, { 'content-type': 'application/json; charset=UTF-8' })],
    ['whoami with MCP-Protocol-Version 2025-11-25', mcp(WHOAMI, { 'mcp-protocol-version': '2025-11-25' })],
    ['whoami with an unsupported MCP-Protocol-Version (the transport refuses it)', mcp(WHOAMI, { 'mcp-protocol-version': '2099-01-01' })],
    ['whoami with Accept: application/json only (406 from the transport)', mcp(WHOAMI, { accept: 'application/json' })],
    ['tools/list (the server answers)', mcp(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: {} }))],
    ['whoami with a _meta (the server answers)', mcp(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whoami', _meta: { progressToken: 1 } } }))],
    ['initialize (the SDK transport answers)', mcp(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }))],
    ['a notification (202)', mcp(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))],
    ['a batch', mcp(JSON.stringify([{ jsonrpc: '2.0', id: 5, method: 'ping' }]))],
    ['server/discover (-32601)', mcp(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'server/discover' }))],
    ['a body that is not JSON (400)', mcp('{"jsonrpc": "2.0",')],
    ['a JSON string, not an object (strict: 400)', mcp('"whoami"')],
    ['a byte order mark alone (body-parser: {})', mcp('\uFEFF')],
    ['whitespace alone (400)', mcp('   ')],
    ['no token (401 with the challenge)', mcp(WHOAMI, { authorization: '' })],
    ['a malformed Authorization header (401)', mcp(WHOAMI, { authorization: 'Bearer a b' })],
    ['a token of another wiki (401)', mcp(WHOAMI, { authorization: `Bearer ${otherWikiToken}` })],
    ['a token that is not one (401), with a body that is not JSON either: the token decides', mcp('not json', { authorization: 'Bearer abc.def.ghi' })],
    ['an unknown wiki (404)', mcp(WHOAMI, { host: 'nobody.localhost:3000' })],
    ['a token without wiki:read (403 insufficient_scope)', mcp(WHOAMI, { authorization: `Bearer ${writeOnlyToken}` })],
    ['X-Forwarded-Host naming the same wiki', mcp(WHOAMI, { 'x-forwarded-host': ALICE })],
    ['the wiki host in upper case', mcp(WHOAMI, { host: 'ALICE.localhost:3000' })],
    ['a Content-Length with leading zeros', mcp(WHOAMI, { 'content-length': `00${Buffer.byteLength(WHOAMI)}` })],
    [`a body of exactly ${JSON_LIGHT_BODY_LIMIT} bytes`, mcp(whoamiOfLength(JSON_LIGHT_BODY_LIMIT))],
  ];
  it.each(taken)('%s: taken, the same answer', async (_name, shot) => {
    const r = await both(app, lines, shot);
    expect(r.light).toBe(true);
  });

  const notTaken: [string, Shot][] = [
    ['another spelling of the path (/mcp/)', mcp(WHOAMI, {}, '/mcp/')],
    ['a query string', mcp(WHOAMI, {}, '/mcp?x=1')],
    ['the apex host', mcp(WHOAMI, { host: 'localhost:3000' })],
    ['a wiki host with a trailing dot (not a wiki host: the apex answers)', mcp(WHOAMI, { host: 'alice.localhost.:3000' })],
    ['Host and X-Forwarded-Host disagreeing (400)', mcp(WHOAMI, { 'x-forwarded-host': 'bob.localhost:3000' })],
    ['text/plain', mcp(WHOAMI, { 'content-type': 'text/plain' })],
    ['application/json with another charset (415)', mcp(WHOAMI, { 'content-type': 'application/json; charset=latin1' })],
    ['a +json media type', mcp(WHOAMI, { 'content-type': 'application/vnd.api+json' })],
    ['a compressed body', mcp(WHOAMI, { 'content-encoding': 'gzip' })],
    ['a chunked body', mcp(WHOAMI, { 'transfer-encoding': 'chunked' })],
    ['an empty body (body-parser: {})', mcp('')],
    [`a body of ${JSON_LIGHT_BODY_LIMIT + 1} bytes, one over the light limit`, mcp(whoamiOfLength(JSON_LIGHT_BODY_LIMIT + 1))],
  ];
  it.each(notTaken)('%s: left to Express, the same answer', async (_name, shot) => {
    const r = await both(app, lines, shot);
    expect(r.light).toBe(false);
  });

  it('GET, DELETE and OPTIONS are left to Express', async () => {
    for (const method of ['GET', 'DELETE', 'OPTIONS']) {
      const r = await both(app, lines, { method, path: '/mcp', headers: { host: ALICE, authorization: `Bearer ${token}`, origin: 'https://inspector.example' } });
      expect(r.light).toBe(false);
    }
  });

  /** Sends the headers, then the body's parts each in its own packet (a pause between): the raw answer. */
  const inPieces = (parts: (string | Buffer)[], length = Buffer.byteLength(Buffer.concat(parts.map((p) => Buffer.from(p))))) =>
    new Promise<string>((resolve, reject) => {
      let answer = '';
      const socket = net.connect(app.port, '127.0.0.1', async () => {
        socket.write(`POST /mcp HTTP/1.1\r\nHost: ${ALICE}\r\nAuthorization: Bearer ${token}\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`);
        for (const part of parts) {
          await new Promise((r) => setTimeout(r, 30));
          socket.write(part);
        }
        if (length > Buffer.concat(parts.map((p) => Buffer.from(p))).length) setTimeout(() => socket.destroy(), 50);
      });
      socket.on('data', (d: Buffer) => (answer += d.toString()));
      socket.on('close', () => resolve(answer));
      socket.on('error', reject);
    });

  it('a body that comes in several packets: taken, read whole', async () => {
    const before = lightPathSwitch.answered;
    const answer = await inPieces([WHOAMI.slice(0, 7), WHOAMI.slice(7, 50), WHOAMI.slice(50)]);
    expect(lightPathSwitch.answered - before).toBe(1);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"structuredContent":{"did":');
  });

  it('a character cut between two packets: decoded whole (the string id comes back as sent)', async () => {
    const bytes = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 'ré-1', method: 'tools/call', params: { name: 'whoami' } }));
    const cut = bytes.indexOf(0xc3) + 1; // between the two bytes of é
    const answer = await inPieces([bytes.subarray(0, cut), bytes.subarray(cut)]);
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer).toContain('"id":"ré-1"');
  });

  it('a client that goes away before its whole body came: nothing answered, the same lines logged as with Express', async () => {
    const logged: Record<string, string[]> = {};
    for (const enabled of [true, false]) {
      lightPathSwitch.enabled = enabled;
      const before = lightPathSwitch.answered;
      const from = lines.length;
      expect(await inPieces([WHOAMI.slice(0, 10)], WHOAMI.length)).toBe('');
      await new Promise((r) => setTimeout(r, 50));
      logged[String(enabled)] = lines.slice(from).map((l) => `${l.level} ${l.msg}`);
      expect(lightPathSwitch.answered - before).toBe(enabled ? 1 : 0);
    }
    lightPathSwitch.enabled = true;
    expect(logged.true).toEqual(logged.false);
    expect(logged.true).toContain('30 request refused'); // the body-parser error, answered to no one
    // The app still answers.
    expect((await send(app.port, mcp(WHOAMI))).status).toBe(200);
  });
});
