// The shipped Caddyfile with real Caddy: validated and adapted as production would load it, then run
// (plain http on a loopback port, SITE_SCHEME=http) in front of the real app and recording stand-ins
// for a wiki's own MCP and web servers. The app believes its apex is what Caddy serves
// (PUBLIC_URL=http://localhost:<caddy port>), so wiki hosts are alice.localhost:<caddy port>.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { INITIALIZE } from '../resource/support.ts';
import {
  adaptCaddyfile,
  CADDYFILE,
  caddyBinary,
  CLIENT_ID,
  mcpPost,
  partitionKeyOf,
  rateLimitPartitionKey,
  runCaddy,
  startRecorder,
  startStack,
  type RawRequest,
  type RawResponse,
  type Recorder,
  type Stack,
} from './support.ts';

/** Every value in a JSON tree (depth first), for assertions that do not depend on Caddy's exact JSON layout. */
function walk(value: unknown, visit: (node: unknown, key: string | undefined) => void, key?: string): void {
  visit(value, key);
  if (Array.isArray(value)) value.forEach((v) => walk(v, visit));
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) walk(v, visit, k);
}

function stringsUnder(config: unknown, name: string): string[] {
  const found: string[] = [];
  walk(config, (node, key) => {
    if (key === name && typeof node === 'string') found.push(node);
    if (key === name && Array.isArray(node)) found.push(...node.filter((v): v is string => typeof v === 'string'));
  });
  return found;
}

function objectsWith(config: unknown, predicate: (o: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  const found: Record<string, unknown>[] = [];
  walk(config, (node) => {
    if (typeof node === 'object' && node !== null && !Array.isArray(node) && predicate(node as Record<string, unknown>)) {
      found.push(node as Record<string, unknown>);
    }
  });
  return found;
}

const json = (res: RawResponse): unknown => JSON.parse(res.body);

const PRODUCTION = { PLATFORM_DOMAIN: 'wiki.example' };

describe('the caddy binary', () => {
  it('is installed (CI installs the Debian package; these tests never skip)', () => {
    expect(() => caddyBinary()).not.toThrow();
  });
});

describe('the shipped Caddyfile, as production loads it', () => {
  beforeAll(() => {
    caddyBinary();
  });

  it('passes `caddy validate` with only PLATFORM_DOMAIN set, and with every variable set', () => {
    const minimal = runCaddy(['validate', '--config', CADDYFILE, '--adapter', 'caddyfile'], PRODUCTION);
    expect(minimal.stderr + minimal.stdout).toContain('Valid configuration');
    expect(minimal.status).toBe(0);
    const full = runCaddy(['validate', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
      ...PRODUCTION,
      APP_ADDRESS: '127.0.0.1:3100',
      WIKI_MCP_UPSTREAM: '127.0.0.1:8081',
      WIKI_WEB_UPSTREAM: 'http://127.0.0.1:8080',
      CADDY_TLS_MODE: 'on-demand',
      CADDY_ADMIN: 'off',
      CADDY_BIND: '0.0.0.0',
    });
    expect(full.status, full.stderr).toBe(0);
  });

  it('refuses to load without PLATFORM_DOMAIN, naming it', () => {
    const result = runCaddy(['validate', '--config', CADDYFILE, '--adapter', 'caddyfile'], {});
    expect(result.status).not.toBe(0);
    expect(result.stderr.toLowerCase()).toContain('platform_domain=unset');
  });

  it('serves the apex and *.PLATFORM_DOMAIN on :443, wiki hosts with on-demand certificates the app must approve', () => {
    const config = adaptCaddyfile(PRODUCTION);
    expect(stringsUnder(config, 'listen')).toContain(':443');
    expect(stringsUnder(config, 'host')).toEqual(expect.arrayContaining(['wiki.example', '*.wiki.example']));
    const onDemand = objectsWith(config, (o) => o.on_demand === true);
    expect(onDemand.map((p) => p.subjects)).toEqual([['*.wiki.example']]);
    // Caddy 2.6 writes `ask`, 2.8+ a `permission` module with `endpoint`: the URL is what matters.
    expect(JSON.stringify(config)).toContain('"http://127.0.0.1:3000/internal/tls-ask"');
    // The admin endpoint is a unix socket, never a TCP port (test/security/edge-admin.test.ts).
    expect(stringsUnder(config, 'listen')).toContain('unix//run/caddy/admin.sock');
  });

  it('with no wiki upstreams, every request goes to the app (APP_ADDRESS), the ask endpoint included', () => {
    const config = adaptCaddyfile({ ...PRODUCTION, APP_ADDRESS: '10.1.2.3:4000' });
    const dials = stringsUnder(config, 'dial');
    expect(dials.length).toBeGreaterThan(0);
    expect(new Set(dials)).toEqual(new Set(['10.1.2.3:4000']));
    expect(JSON.stringify(config)).toContain('"http://10.1.2.3:4000/internal/tls-ask"');
  });

  it('with WIKI_MCP_UPSTREAM, /mcp goes there behind forward_auth to the app’s /auth/verify', () => {
    const config = adaptCaddyfile({ ...PRODUCTION, WIKI_MCP_UPSTREAM: '10.9.9.9:7000' });
    expect(stringsUnder(config, 'dial')).toEqual(expect.arrayContaining(['127.0.0.1:3000', '10.9.9.9:7000']));
    const verify = objectsWith(config, (o) => typeof o.rewrite === 'object' && o.rewrite !== null && (o.rewrite as Record<string, unknown>).uri === '/auth/verify');
    expect(verify).toHaveLength(1);
    expect(JSON.stringify(verify[0])).toContain('{http.reverse_proxy.header.X-Auth-Did}');
  });

  it('CADDY_TLS_MODE=wildcard-dns swaps in the DNS-challenge wildcard snippet (which needs a plugin build)', () => {
    const result = runCaddy(['adapt', '--config', CADDYFILE, '--adapter', 'caddyfile'], { ...PRODUCTION, CADDY_TLS_MODE: 'wildcard-dns' });
    if (result.status === 0) {
      // A Caddy built with caddy-dns/cloudflare: one wildcard certificate by DNS-01, no on-demand.
      expect(result.stdout).toContain('"cloudflare"');
      expect(objectsWith(JSON.parse(result.stdout), (o) => o.on_demand === true)).toEqual([]);
    } else {
      expect(result.stderr).toContain('dns.providers.cloudflare');
    }
  });
});

describe('Caddy in front of the app and a wiki’s own MCP and web servers', () => {
  let s: Stack;
  let mcp: Recorder;
  let web: Recorder;
  beforeAll(async () => {
    mcp = await startRecorder('mcp');
    web = await startRecorder('web');
    s = await startStack({ mcp, web });
  });
  afterAll(async () => {
    await s?.close();
    await mcp?.close();
    await web?.close();
  });

  it('the apex is the app: its AS metadata names the issuer Caddy serves, with Caddy’s and the app’s headers', async () => {
    const res = await s.viaCaddy({ host: s.apex, path: '/.well-known/oauth-authorization-server' });
    expect(res.status).toBe(200);
    expect(json(res)).toMatchObject({ issuer: `http://${s.apex}` });
    expect(res.headers['x-request-id']).toBeDefined();
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers.server).toBeUndefined();
    // The app's own security headers (helmet) pass through.
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(mcp.requests.length + web.requests.length).toBe(0);
  });

  it('wiki protected resource metadata passes through unchanged', async () => {
    for (const path of ['/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource']) {
      const proxied = await s.viaCaddy({ host: s.alice, path });
      const direct = await s.direct({ host: s.alice, path });
      expect(proxied.status).toBe(200);
      expect(proxied.body).toBe(direct.body);
      for (const h of ['content-type', 'cache-control', 'access-control-allow-origin']) expect(proxied.headers[h]).toBe(direct.headers[h]);
      expect(json(proxied)).toMatchObject({ resource: `http://${s.alice}/mcp`, authorization_servers: [`http://${s.apex}`] });
    }
    expect(mcp.requests.length + web.requests.length).toBe(0);
  });

  it('/mcp without a token: the client gets the app’s 401 challenge unchanged, the wiki MCP server is never called', async () => {
    const before = mcp.requests.length;
    const proxied = await s.viaCaddy(mcpPost(s.alice));
    const builtIn = await s.direct(mcpPost(s.alice));
    expect(proxied.status).toBe(401);
    expect(proxied.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="http://${s.alice}/.well-known/oauth-protected-resource/mcp", scope="wiki:read wiki:write"`,
    );
    expect(proxied.headers['www-authenticate']).toBe(builtIn.headers['www-authenticate']);
    expect(json(proxied)).toEqual(json(builtIn));
    // Readable by browser MCP clients, as the app's own /mcp answers it.
    expect(proxied.headers['access-control-allow-origin']).toBe('*');
    expect(proxied.headers['access-control-expose-headers']).toContain('WWW-Authenticate');
    expect(mcp.requests.length).toBe(before);
  });

  it('a valid token passes forward_auth: the wiki MCP server gets the request with the caller in X-Auth-*', async () => {
    const token = await s.seeded.mint(s.seeded.aliceGrant);
    const before = mcp.requests.length;
    const res = await s.viaCaddy(
      mcpPost(s.alice, { Authorization: `Bearer ${token}`, 'X-Auth-Did': 'did:plc:mallory', 'X-Auth-Admin': 'yes', 'x-auth-wiki': 'bob' }),
    );
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ upstream: 'mcp' });
    expect(res.headers.server).toBeUndefined();
    expect(mcp.requests.length).toBe(before + 1);
    const seen = mcp.requests.at(-1);
    expect(seen).toMatchObject({ method: 'POST', url: '/mcp', body: JSON.stringify(INITIALIZE) });
    expect(seen?.headers).toMatchObject({
      host: s.alice,
      authorization: `Bearer ${token}`,
      'x-auth-did': s.seeded.alice.did,
      'x-auth-handle': s.seeded.alice.handle,
      'x-auth-wiki': 'alice',
      'x-auth-scopes': 'wiki:read wiki:write',
      'x-auth-client-id': CLIENT_ID,
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': s.alice,
    });
    expect(seen?.headers['x-auth-admin']).toBeUndefined();
  });

  it('an invalid token, another wiki’s token or an unknown wiki never reaches the wiki MCP server', async () => {
    const before = mcp.requests.length;
    const garbage = await s.viaCaddy(mcpPost(s.alice, { Authorization: 'Bearer not-a-token' }));
    expect(garbage.status).toBe(401);
    expect(garbage.headers['www-authenticate']).toContain('error="invalid_token"');

    const bobs = await s.viaCaddy(mcpPost(s.alice, { Authorization: `Bearer ${await s.seeded.mint(s.seeded.bobGrant)}` }));
    expect(bobs.status).toBe(401);
    expect(bobs.headers['www-authenticate']).toContain(`resource_metadata="http://${s.alice}/.well-known/oauth-protected-resource/mcp"`);

    const nobody = await s.viaCaddy(mcpPost(`nobody.${s.apex}`, { Authorization: `Bearer ${await s.seeded.mint(s.seeded.aliceGrant)}` }));
    expect(nobody.status).toBe(404);

    const subPath = await s.viaCaddy({ ...mcpPost(s.alice), path: '/mcp/messages' });
    expect(subPath.status).toBe(401);
    expect(mcp.requests.length).toBe(before);
  });

  it('a CORS preflight of /mcp (it carries no token) is answered by the app, not refused by forward_auth', async () => {
    const before = mcp.requests.length;
    const res = await s.viaCaddy({
      host: s.alice,
      path: '/mcp',
      method: 'OPTIONS',
      headers: { Origin: 'https://claude.ai', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-allow-methods']).toContain('POST');
    expect(res.headers['access-control-allow-headers']).toContain('Authorization');
    expect(mcp.requests.length).toBe(before);
  });

  it('other paths go to the wiki web server, with client-sent X-Auth-* removed', async () => {
    const before = web.requests.length;
    const res = await s.viaCaddy({ host: s.alice, path: '/wiki/Home?x=1', headers: { 'X-Auth-Did': s.seeded.alice.did, 'X-Auth-Scopes': 'wiki:write' } });
    expect(res.status).toBe(200);
    expect(json(res)).toEqual({ upstream: 'web' });
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers.server).toBeUndefined();
    expect(web.requests.length).toBe(before + 1);
    const seen = web.requests.at(-1);
    expect(seen?.url).toBe('/wiki/Home?x=1');
    expect(seen?.headers.host).toBe(s.alice);
    expect(Object.keys(seen?.headers ?? {}).filter((h) => h.startsWith('x-auth-'))).toEqual([]);
    // `/mcpfoo` is not the MCP endpoint.
    expect(json(await s.viaCaddy({ host: s.alice, path: '/mcpfoo' }))).toEqual({ upstream: 'web' });
  });

  it('/authorize, /token, /register and the OAuth well-known paths of a wiki host are the app’s', async () => {
    const before = web.requests.length + mcp.requests.length;
    const authorize = await s.viaCaddy({ host: s.alice, path: '/authorize?client_id=x&state=a%20b' });
    expect(authorize.status).toBe(302);
    expect(authorize.headers.location).toBe(`http://${s.apex}${OAUTH_PATHS.authorize}?client_id=x&state=a%20b`);

    const tokenRequest = {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=authorization_code&code=nope&client_id=nobody',
    };
    const token = await s.viaCaddy({ host: s.alice, path: '/token', ...tokenRequest });
    const issuerToken = await s.direct({ host: s.apex, path: OAUTH_PATHS.token, ...tokenRequest });
    expect(token.status).toBeGreaterThanOrEqual(400);
    expect(token.status).toBe(issuerToken.status);
    expect(json(token)).toEqual(json(issuerToken));

    const register = await s.viaCaddy({ host: s.alice, path: '/register', method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    expect(register.status).toBe(400);
    expect(register.headers['x-request-id']).toBeDefined();

    const asMetadata = await s.viaCaddy({ host: s.alice, path: '/.well-known/oauth-authorization-server' });
    expect(asMetadata.status).toBe(404);
    expect(asMetadata.headers['content-type']).toContain('application/json');
    expect(web.requests.length + mcp.requests.length).toBe(before);
  });

  it('/internal/* is not reachable through Caddy on any host, however the path is spelled', async () => {
    const hosts = [s.apex, s.alice, `nobody.${s.apex}`];
    const paths = ['/internal/tls-ask', '/internal', '/INTERNAL/TLS-ASK', '/Internal/tls-ask', '/internal/tls-ask/', '/%69nternal/tls-ask', '/internal%2Ftls-ask'];
    for (const host of hosts) {
      for (const path of paths) {
        const res = await s.viaCaddy({ host, path: `${path}?domain=${s.apex.split(':')[0]}` });
        expect(res.status, `${host}${path}`).toBe(404);
        // Caddy answered: the app (which tags every response with X-Request-Id) never saw it.
        expect(res.headers['x-request-id'], `${host}${path}`).toBeUndefined();
      }
    }
    // While the app itself answers the ask on its local address, as Caddy calls it.
    const ask = await s.direct({ host: `127.0.0.1:${s.app.port}`, path: `/internal/tls-ask?domain=${s.apex.split(':')[0]}` });
    expect(ask.status).toBe(200);
  });

  it('req.ip is the client address Caddy saw (TRUST_PROXY=loopback), and a client cannot choose it', async () => {
    const prm = (localAddress: string, headers: Record<string, string> = {}): RawRequest => ({
      host: s.alice,
      path: '/.well-known/oauth-protected-resource/mcp',
      localAddress,
      headers,
    });
    expect(partitionKeyOf(await s.viaCaddy(prm('127.0.0.2')))).toBe(rateLimitPartitionKey('127.0.0.2'));
    expect(partitionKeyOf(await s.viaCaddy(prm('127.0.0.3')))).toBe(rateLimitPartitionKey('127.0.0.3'));
    const spoofed = await s.viaCaddy(prm('127.0.0.4', { 'X-Forwarded-For': '203.0.113.9', Forwarded: 'for=203.0.113.9', 'X-Real-IP': '203.0.113.9' }));
    expect(partitionKeyOf(spoofed)).toBe(rateLimitPartitionKey('127.0.0.4'));

    // The wiki servers see the same: Caddy replaces a client's X-Forwarded-For.
    await s.viaCaddy({ host: s.alice, path: '/spoof', localAddress: '127.0.0.5', headers: { 'X-Forwarded-For': '203.0.113.9' } });
    expect(web.requests.at(-1)?.headers['x-forwarded-for']).toBe('127.0.0.5');

    // Why the app must listen on loopback only (HOST=127.0.0.1): it believes a loopback peer's X-Forwarded-For.
    const bypass = await s.direct(prm('127.0.0.6', { 'X-Forwarded-For': '203.0.113.9' }));
    expect(partitionKeyOf(bypass)).toBe(rateLimitPartitionKey('203.0.113.9'));
  });
});

describe('Caddy in front of the app with no wiki upstreams configured (the built-in MCP server)', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({});
  });
  afterAll(async () => {
    await s?.close();
  });

  it('/mcp without a token: the app’s own 401 challenge, unchanged', async () => {
    const proxied = await s.viaCaddy(mcpPost(s.alice));
    const direct = await s.direct(mcpPost(s.alice));
    expect(proxied.status).toBe(401);
    expect(proxied.headers['www-authenticate']).toBe(
      `Bearer resource_metadata="http://${s.alice}/.well-known/oauth-protected-resource/mcp", scope="wiki:read wiki:write"`,
    );
    for (const h of ['www-authenticate', 'content-type', 'cache-control', 'access-control-allow-origin', 'access-control-expose-headers']) {
      expect(proxied.headers[h], h).toBe(direct.headers[h]);
    }
    expect(proxied.body).toBe(direct.body);
  });

  it('a valid token reaches the built-in MCP server', async () => {
    const token = await s.seeded.mint(s.seeded.aliceGrant);
    const res = await s.viaCaddy(mcpPost(s.alice, { Authorization: `Bearer ${token}`, 'X-Auth-Did': 'did:plc:mallory' }));
    expect(res.status).toBe(200);
    expect(res.body).toContain('robot-auth-wiki');
    expect(res.headers.server).toBeUndefined();
  });

  it('a preflight of /mcp is the app’s', async () => {
    const res = await s.viaCaddy({
      host: s.alice,
      path: '/mcp',
      method: 'OPTIONS',
      headers: { Origin: 'https://claude.ai', 'Access-Control-Request-Method': 'POST' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });

  it('other paths on a wiki host are the app’s 404; PRM and the apex work as with upstreams', async () => {
    const page = await s.viaCaddy({ host: s.alice, path: '/wiki/Home', headers: { Accept: 'text/html' } });
    expect(page.status).toBe(404);
    expect(page.headers['x-request-id']).toBeDefined();
    const prm = await s.viaCaddy({ host: s.alice, path: '/.well-known/oauth-protected-resource/mcp' });
    expect(json(prm)).toMatchObject({ resource: `http://${s.alice}/mcp` });
    const apex = await s.viaCaddy({ host: s.apex, path: '/.well-known/oauth-authorization-server' });
    expect(json(apex)).toMatchObject({ issuer: `http://${s.apex}` });
    const internal = await s.viaCaddy({ host: s.apex, path: '/internal/tls-ask?domain=localhost' });
    expect(internal.status).toBe(404);
    expect(internal.headers['x-request-id']).toBeUndefined();
  });
});
