// Issue 9, finding 4 and finding 11 (first bullet): identity headers forged or dropped past
// forward_auth. Real Caddy runs the shipped Caddyfile in front of the real app and recording
// stand-ins for a wiki's MCP and web servers (test/deploy/support.ts).
//   - A client with a token for its own wiki adds `X_Auth_Wiki: alice` (or any other spelling that a
//     stack folding `_`/`.` into `-`, or ignoring case, reads as X-Auth-*): it must never reach an upstream.
//   - `/mcp;x`, `/mcp%3bx`, `/MCP`, `//mcp`, … must go through forward_auth like /mcp, never reach the
//     wiki MCP server unauthenticated, and never reach the wiki web server (which may read them as /mcp).
//   - `Connection: X-Auth-Scopes, X-Auth-Wiki, X-Auth-Did` must not make Caddy drop the identity that
//     forward_auth copied (a wiki reading a missing X-Auth-Scopes as "no restriction" would let a
//     read-only token write).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpPost, startRecorder, startStack, type RecordedRequest, type Recorder, type Stack } from '../deploy/support.ts';

/** The identity header names a wiki server might read, after its own folding of `_`, `.` and case. */
function foldedIdentityHeaders(seen: RecordedRequest | undefined): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const [name, value] of Object.entries(seen?.headers ?? {})) {
    const folded = name.toLowerCase().replace(/[_.]/g, '-');
    if (folded.startsWith('x-auth-')) out[name] = value;
  }
  return out;
}

describe('identity headers through the shipped Caddyfile', () => {
  let s: Stack;
  let mcp: Recorder;
  let web: Recorder;
  let bobToken: string;
  let aliceReadToken: string;
  beforeAll(async () => {
    mcp = await startRecorder('mcp');
    web = await startRecorder('web');
    s = await startStack({ mcp, web });
    bobToken = await s.seeded.mint(s.seeded.bobGrant);
    aliceReadToken = await s.seeded.mint({ ...s.seeded.aliceGrant, scope: 'wiki:read' });
  });
  afterAll(async () => {
    await s?.close();
    await mcp?.close();
    await web?.close();
  });

  const FORGED: Record<string, string> = {
    X_Auth_Wiki: 'alice',
    x_auth_scopes: 'wiki:read wiki:write',
    'X-AUTH_DID': 'did:plc:mallory',
    'X_Auth-Handle': 'mallory.test',
    'x.auth.client-id': 'forged-client',
    'X-Auth.Extra': 'forged',
    'x-AUTH-wiki': 'alice',
  };

  it('no spelling of a client-sent X-Auth-* header reaches the wiki MCP server next to the real ones', async () => {
    const before = mcp.requests.length;
    const res = await s.viaCaddy(mcpPost(`bob.${s.apex}`, { Authorization: `Bearer ${bobToken}`, ...FORGED }));
    expect(res.status).toBe(200);
    expect(mcp.requests.length).toBe(before + 1);
    // Exactly the five headers forward_auth copied from the app's answer, for bob, and nothing else.
    expect(foldedIdentityHeaders(mcp.requests.at(-1))).toEqual({
      'x-auth-did': s.seeded.bob.did,
      'x-auth-handle': s.seeded.bob.handle,
      'x-auth-wiki': 'bob',
      'x-auth-scopes': 'wiki:read wiki:write',
      'x-auth-client-id': expect.any(String),
    });
  });

  it('no spelling of a client-sent X-Auth-* header reaches the wiki web server', async () => {
    const before = web.requests.length;
    const res = await s.viaCaddy({ host: s.alice, path: '/wiki/Home', headers: FORGED });
    expect(res.status).toBe(200);
    expect(web.requests.length).toBe(before + 1);
    expect(foldedIdentityHeaders(web.requests.at(-1))).toEqual({});
  });

  const VARIANTS = [
    '/mcp;x',
    '/mcp;jsessionid=1',
    '/mcp%3bx',
    '/mcp%3Bx',
    '/MCP',
    '/Mcp;x',
    '/mcp/../mcp',
    '/./mcp',
    '//mcp',
    '/mcp%2f',
    '/%6dcp',
    '/mcp.json',
    '/mcp%20',
    '/mcp/',
    '/mcp?x=1',
  ];

  it('path variants of /mcp without a token never reach the wiki MCP server or the wiki web server', async () => {
    const before = { mcp: mcp.requests.length, web: web.requests.length };
    for (const path of VARIANTS) {
      const res = await s.viaCaddy({ ...mcpPost(s.alice), path });
      expect(res.status, path).toBeGreaterThanOrEqual(400);
      expect(res.body, path).not.toContain('"upstream"');
    }
    expect(mcp.requests.map((r) => r.url)).toEqual(mcp.requests.slice(0, before.mcp).map((r) => r.url));
    expect(web.requests.map((r) => r.url)).toEqual(web.requests.slice(0, before.web).map((r) => r.url));
  });

  it('path variants of /mcp with another wiki’s token are refused by forward_auth', async () => {
    const before = { mcp: mcp.requests.length, web: web.requests.length };
    for (const path of VARIANTS) {
      const res = await s.viaCaddy({ ...mcpPost(s.alice, { Authorization: `Bearer ${bobToken}`, X_Auth_Wiki: 'alice' }), path });
      expect(res.status, path).toBe(401);
    }
    expect(mcp.requests.length).toBe(before.mcp);
    expect(web.requests.length).toBe(before.web);
  });

  it('`/mcpfoo` and other paths that only start with the letters stay the web server’s', async () => {
    for (const path of ['/mcpfoo', '/mcp-guide', '/mcp_notes']) {
      const res = await s.viaCaddy({ host: s.alice, path });
      expect(JSON.parse(res.body), path).toEqual({ upstream: 'web' });
    }
  });

  it('`Connection: X-Auth-Scopes, X-Auth-Wiki, X-Auth-Did` cannot strip the identity forward_auth copied', async () => {
    const before = mcp.requests.length;
    const res = await s.viaCaddy(
      mcpPost(s.alice, {
        Authorization: `Bearer ${aliceReadToken}`,
        Connection: 'X-Auth-Scopes, X-Auth-Wiki, X-Auth-Did, X-Auth-Handle, X-Auth-Client-Id',
      }),
    );
    // Either the request reaches the wiki MCP server with the caller's identity, or it does not reach it.
    if (mcp.requests.length === before) {
      expect(res.status).toBeGreaterThanOrEqual(400);
      return;
    }
    expect(res.status).toBe(200);
    const seen = mcp.requests.at(-1);
    expect(seen?.headers).toMatchObject({ 'x-auth-scopes': 'wiki:read', 'x-auth-wiki': 'alice', 'x-auth-did': s.seeded.alice.did });
    expect(seen?.headers['x-auth-handle']).toBe(s.seeded.alice.handle);
    expect(seen?.headers['x-auth-client-id']).toBeDefined();
  });

  it('the web upstream still receives `Connection: Upgrade` for WebSockets', async () => {
    const before = web.requests.length;
    await s.viaCaddy({ host: s.alice, path: '/live', headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' } }).catch(() => undefined);
    expect(web.requests.length).toBe(before + 1);
    expect(web.requests.at(-1)?.headers.upgrade).toBe('websocket');
  });
});
