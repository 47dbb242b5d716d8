// Property-based fuzzing of the JSON API endpoints (register, token, revoke, authorize, discovery,
// protected-resource metadata, /auth/verify, /mcp) through the whole app. For any input: never a
// 5xx, the documented status and RFC 6749 error code, no header broken by a parameter, and no row
// written unless the request was accepted.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  authorizationHeader,
  contentType,
  encodePairs,
  fuzzOptions,
  headerValue,
  hostHeader,
  mostly,
  nastyString,
  offlineClientId,
  paramPairs,
  rawBody,
  LONG_TEST_TIMEOUT_MS,
} from './arbitraries.ts';
import { slugFromHost } from '../../src/wikis/urls.ts';
import { HEADER_LIMITS } from '../../src/web/header-limits.ts';
import {
  APEX_HOST,
  connectClient,
  contentDigest,
  countChanges,
  expectBearerChallenge,
  expectCleanHeaders,
  expectErrorPage,
  expectJsonError,
  expectNoWrites,
  expectNot5xx,
  ISSUER,
  pkcePair,
  REDIRECT_URI,
  registerClient,
  rowCounts,
  seedUser,
  signedInBrowser,
  startHardeningApp,
  wikiHost,
  wikiMcpUrl,
  type HardeningApp,
  type RegisteredClient,
  type Tokens,
} from './support.ts';


vi.setConfig({ testTimeout: LONG_TEST_TIMEOUT_MS });
let app: HardeningApp;
let publicClient: RegisteredClient;
let confidentialClient: RegisteredClient;
let aliceTokens: Tokens;
let bobTokens: Tokens;
/** The wiki a Host header names, exactly as the app reads it. */
const slugOf = (host: string | undefined) => slugFromHost({ apexHost: APEX_HOST }, host);

beforeAll(async () => {
  app = await startHardeningApp();
  const alice = await seedUser(app.ctx, 'alice');
  const bob = await seedUser(app.ctx, 'bob');
  const connected = await connectClient(app, await signedInBrowser(app, alice));
  publicClient = connected.client;
  aliceTokens = connected.tokens;
  bobTokens = (await connectClient(app, await signedInBrowser(app, bob))).tokens;
  confidentialClient = await registerClient(app, { token_endpoint_auth_method: 'client_secret_basic' });
});
afterAll(async () => {
  await app?.close();
});

/** Sets a header only when there is a value (undefined means "not sent"). */
function withHeader<T extends { set(name: string, value: string): T }>(req: T, name: string, value: string | undefined): T {
  return value === undefined ? req : req.set(name, value);
}


/** Whether a header the app parses is over its cap (src/web/header-limits.ts): then 431 is the answer. */
function overHeaderLimit(headers: Record<string, string | undefined>): boolean {
  return Object.entries(headers).some(([name, value]) => value !== undefined && value.length > (HEADER_LIMITS[name.toLowerCase()] ?? Infinity));
}

describe('POST /auth/oauth/register (RFC 7591)', () => {
  const REGISTER_CODES = new Set(['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_request']);
  const uriLike = fc.oneof(
    nastyString,
    fc.constantFrom('https://app.example/cb', 'http://localhost:8080/cb', 'http://127.0.0.1/cb', 'com.example.app:/cb', 'http://evil.example/cb', 'https://a.example/cb#x'),
  );
  const fieldValue = fc.oneof(nastyString, fc.jsonValue({ maxDepth: 2 }), fc.array(uriLike, { maxLength: 4 }));
  /** Absent (the default applies), a plausible value, or junk. */
  const optional = (plausible: fc.Arbitrary<unknown>) =>
    fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: fieldValue });
  const metadataLike = fc.record({
    redirect_uris: fc.oneof(
      { weight: 8, arbitrary: fc.constant(['https://app.example/cb']) },
      { weight: 3, arbitrary: fc.array(uriLike, { maxLength: 25 }) },
      { weight: 1, arbitrary: fieldValue },
    ),
    token_endpoint_auth_method: mostly('none', ['client_secret_post', 'client_secret_basic', 'private_key_jwt']),
    grant_types: optional(fc.subarray(['authorization_code', 'refresh_token', 'implicit', 'client_credentials'])),
    response_types: optional(fc.subarray(['code', 'token', 'id_token'])),
    client_name: optional(nastyString),
    client_uri: optional(uriLike),
    logo_uri: optional(uriLike),
    scope: optional(fc.constantFrom('wiki:read', 'wiki:read wiki:write offline_access', 'admin', '')),
    application_type: optional(fc.constantFrom('web', 'native')),
    contacts: optional(fc.array(nastyString, { maxLength: 12 })),
    software_id: optional(nastyString),
    extra: optional(fc.jsonValue({ maxDepth: 2 })),
  });
  const body = fc.oneof(
    { weight: 3, arbitrary: metadataLike.map((m) => ({ type: 'application/json' as string | undefined, raw: JSON.stringify(m) })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ type: 'application/json' as string | undefined, raw: JSON.stringify(v) })) },
    { weight: 1, arbitrary: fc.record({ type: contentType, raw: rawBody }) },
  );

  it('answers 201 with a client, or an RFC 7591 error with no row written', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(body, hostHeader, async ({ type, raw }, host) => {
        const before = await rowCounts(app);
        const res = await withHeader(app.http().post('/auth/oauth/register').set('Host', host), 'Content-Type', type).send(raw);
        expectNot5xx(res, raw.slice(0, 200));
        expectCleanHeaders(res);
        if (res.status === 201) {
          accepted++;
          expect(res.body.client_id).toMatch(/^rc_/);
          expect(countChanges(before, await rowCounts(app))).toEqual({ oauth_clients: `${before.oauth_clients} → ${before.oauth_clients! + 1}` });
          return;
        }
        // Wiki hosts serve /register, not the issuer's path: a 404 there.
        if (res.status === 404) {
          expect(slugOf(host), host).toBeDefined();
        } else {
          expectJsonError(res, [400, 413, 415], REGISTER_CODES);
        }
        expect(countChanges(before, await rowCounts(app))).toEqual({});
      }),
      fuzzOptions(200),
    );
    // The generator reaches acceptance too, so the refusals above are not vacuous.
    expect(accepted).toBeGreaterThan(0);
  });
});

describe('POST /auth/oauth/token (RFC 6749 §3.2)', () => {
  const TOKEN_PARAMS = [
    'grant_type',
    'code',
    'refresh_token',
    'client_id',
    'client_secret',
    'code_verifier',
    'redirect_uri',
    'resource',
    'scope',
    'assertion',
  ];
  const value = () =>
    fc.oneof(
      { weight: 4, arbitrary: nastyString },
      {
        weight: 2,
        arbitrary: fc.constantFrom(
          publicClient.clientId,
          confidentialClient.clientId,
          REDIRECT_URI,
          'authorization_code',
          'refresh_token',
          wikiMcpUrl('alice'),
          pkcePair().verifier,
        ),
      },
    );

  it('garbage never gets a token, a 5xx or a write', async () => {
    const body = fc.oneof({ weight: 4, arbitrary: paramPairs(TOKEN_PARAMS, value()).map(encodePairs) }, { weight: 1, arbitrary: rawBody });
    await fc.assert(
      fc.asyncProperty(body, authorizationHeader, contentType, async (raw, authorization, type) => {
        await expectNoWrites(app, async () => {
          let req = app.http().post('/auth/oauth/token');
          req = withHeader(req, 'Authorization', authorization);
          req = withHeader(req, 'Content-Type', type);
          const res = await req.send(raw);
          expectNot5xx(res, raw.slice(0, 200));
          expectCleanHeaders(res);
          expectJsonError(res, [400, 401, 413, 415, 431]);
          if (res.body.error === 'invalid_client') expect(res.status).toBe(401);
        });
      }),
      fuzzOptions(200),
    );
  });

  it('a live refresh token with fuzzed companions: new tokens, or an error and no write', async () => {
    const { client, tokens } = await connectClient(app, await signedInBrowser(app, await seedUser(app.ctx)));
    let current = tokens.refresh_token;
    const extras = paramPairs(['scope', 'resource', 'client_id', 'client_secret', 'code_verifier', 'grant_type', 'refresh_token'], value());
    await fc.assert(
      fc.asyncProperty(extras, async (pairs) => {
        const before = await rowCounts(app);
        const digest = await contentDigest(app);
        const res = await app.http()
          .post('/auth/oauth/token')
          .type('form')
          .send(encodePairs([['grant_type', 'refresh_token'], ['refresh_token', current], ['client_id', client.clientId], ...pairs]));
        expectNot5xx(res);
        expectCleanHeaders(res);
        if (res.status === 200) {
          expect(res.body.token_type).toBe('Bearer');
          current = res.body.refresh_token as string;
          expect(countChanges(before, await rowCounts(app))).toEqual({ refresh_tokens: `${before.refresh_tokens} → ${before.refresh_tokens! + 1}` });
          return;
        }
        expectJsonError(res, [400, 401]);
        expect(await contentDigest(app)).toBe(digest);
      }),
      fuzzOptions(120),
    );
    // Still usable afterwards: the fuzzing never revoked the grant by mistake.
    const last = await app.http().post('/auth/oauth/token').type('form').send({ grant_type: 'refresh_token', refresh_token: current, client_id: client.clientId });
    expect(last.status, last.text).toBe(200);
  });
});

describe('POST /auth/oauth/revoke (RFC 7009)', () => {
  it('answers 200 for any token of an authenticated client, an error otherwise, and writes nothing', async () => {
    const value = fc.oneof(nastyString, fc.constantFrom(publicClient.clientId, confidentialClient.clientId, 'refresh_token', 'access_token'));
    const body = fc.oneof(paramPairs(['token', 'token_type_hint', 'client_id', 'client_secret'], value).map(encodePairs), rawBody);
    await fc.assert(
      fc.asyncProperty(body, authorizationHeader, contentType, async (raw, authorization, type) => {
        await expectNoWrites(app, async () => {
          const res = await withHeader(withHeader(app.http().post('/auth/oauth/revoke'), 'Authorization', authorization), 'Content-Type', type).send(raw);
          expectNot5xx(res, raw.slice(0, 200));
          expectCleanHeaders(res);
          if (res.status === 200) {
            expect(res.text).toBe('');
            return;
          }
          expectJsonError(res, [400, 401, 413, 415, 431]);
        });
      }),
      fuzzOptions(150),
    );
  });
});

describe('GET /auth/oauth/authorize (OAuth 2.1 §4.1.1)', () => {
  it('answers the consent page or an error page (never an error redirect, RFC 9700 §4.11.2); only the first writes', async () => {
    const fields = fc.record({
      response_type: mostly('code', ['token', 'code id_token']),
      client_id: mostly(publicClient.clientId, [confidentialClient.clientId, 'rc_unknown']),
      redirect_uri: mostly(REDIRECT_URI, ['http://127.0.0.1:4321/callback', 'http://localhost:9/callback', 'http://127.0.0.1:9/other', 'http://[::1]:9/callback']),
      code_challenge: mostly(pkcePair().challenge, ['short', `${pkcePair().challenge}=`]),
      code_challenge_method: mostly('S256', ['plain', 's256']),
      scope: mostly('wiki:read', ['wiki:write wiki:read', 'offline_access', 'admin', '', 'ad"min']),
      state: fc.option(nastyString, { nil: undefined }),
      resource: mostly(wikiMcpUrl('alice'), [`${wikiMcpUrl('alice')}/`, wikiMcpUrl('bob'), wikiMcpUrl('nobody'), 'https://alice.localhost:3000/mcp', 'http://alice.localhost:3000/mcp?x=1']),
      response_mode: fc.option(fc.constantFrom('query', 'fragment', 'form_post'), { nil: undefined }),
    });
    const query = fc
      .tuple(fields, paramPairs(['client_id', 'redirect_uri', 'state', 'scope', 'resource', 'response_type', 'code_challenge', 'prompt', 'request_uri']), fc.boolean())
      .map(([record, extra, withExtra]) => {
        const pairs = Object.entries(record)
          .filter((entry): entry is [string, string] => entry[1] !== undefined)
          .map(([k, v]): [string, string] => [k, k === 'client_id' ? offlineClientId(v) : v]);
        return encodePairs(withExtra ? [...pairs, ...extra] : pairs);
      })
      .filter((q) => q.length < 12_000);
    let toConsent = 0;
    let errorPages = 0;
    await fc.assert(
      fc.asyncProperty(query, async (q) => {
        const before = await rowCounts(app);
        const digest = await contentDigest(app);
        const res = await app.http().get(`/auth/oauth/authorize?${q}`);
        expectNot5xx(res, q.slice(0, 300));
        expectCleanHeaders(res);
        expect(res.headers['cache-control']).toMatch(/no-store/);
        if (res.status === 400) {
          errorPages++;
          expectErrorPage(res, [400]);
          expect(await contentDigest(app)).toBe(digest);
          return;
        }
        expect(res.status, res.text.slice(0, 300)).toBe(303);
        const location = String(res.headers.location);
        if (location.startsWith('/auth/oauth/consent?request=')) {
          toConsent++;
          expect(countChanges(before, await rowCounts(app))).toEqual({
            authorization_requests: `${before.authorization_requests} → ${before.authorization_requests! + 1}`,
          });
          return;
        }
        // RFC 9700 §4.11.2: before the person acts, nothing but the consent page is a redirect.
        throw new Error(`/authorize redirected somewhere other than the consent page: ${location}`);
      }),
      fuzzOptions(200),
    );
    expect(toConsent).toBeGreaterThan(0);
    expect(errorPages).toBeGreaterThan(0);
  });
});

describe('discovery (RFC 8414, OpenID path, JWKS)', () => {
  it('serves the same metadata whatever the Host, query or Accept, and never reflects them', async () => {
    const path = fc.constantFrom('/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/.well-known/jwks.json');
    const apexLike = hostHeader.filter((h) => slugOf(h) === undefined);
    await fc.assert(
      fc.asyncProperty(path, apexLike, paramPairs(['issuer', 'resource', 'x']), headerValue, async (p, host, query, accept) => {
        await expectNoWrites(app, async () => {
          const res = await app.http().get(`${p}?${encodePairs(query)}`).set('Host', host).set('Accept', accept);
          expectNot5xx(res);
          expectCleanHeaders(res);
          if (res.status === 400) return; // Node refuses some Host values before the app sees them.
          expect(res.status, `${host} ${res.text.slice(0, 200)}`).toBe(200);
          expect(res.headers['content-type']).toMatch(/^application\/json/);
          expect(res.headers['access-control-allow-origin']).toBe('*');
          if (p === '/.well-known/jwks.json') {
            expect(res.body.keys.length).toBeGreaterThan(0);
            for (const key of res.body.keys as Record<string, unknown>[]) expect(key).not.toHaveProperty('d');
          } else {
            expect(res.body.issuer).toBe(ISSUER);
            for (const [name, v] of Object.entries(res.body as Record<string, unknown>)) {
              if (name.endsWith('_endpoint') || name.endsWith('_uri')) expect(String(v).startsWith(`${ISSUER}/`), name).toBe(true);
            }
          }
        });
      }),
      fuzzOptions(120),
    );
  });

  it('protected resource metadata on wiki hosts: 200 for a wiki, a JSON 404 otherwise', async () => {
    const path = fc.constantFrom('/.well-known/oauth-protected-resource/mcp', '/.well-known/oauth-protected-resource', '/.well-known/oauth-protected-resource/MCP');
    const host = fc.oneof(fc.constantFrom(wikiHost('alice'), wikiHost('bob'), 'ALICE.localhost:3000', 'alice.localhost:3000.'), hostHeader);
    await fc.assert(
      fc.asyncProperty(path, host, async (p, h) => {
        await expectNoWrites(app, async () => {
          const res = await app.http().get(p).set('Host', h);
          expectNot5xx(res);
          expectCleanHeaders(res);
          const slug = slugOf(h);
          if (slug === 'alice' || slug === 'bob') {
            expect(res.status).toBe(200);
            expect(res.body).toMatchObject({ resource: wikiMcpUrl(slug), authorization_servers: [ISSUER] });
          } else if (res.status !== 400) {
            // The apex has no PRM (404 page or JSON); an unknown wiki is a JSON 404.
            expect(res.status, `${h} ${p}`).toBe(404);
          }
        });
      }),
      fuzzOptions(100),
    );
  });
});

describe('the protected resource: /auth/verify and /mcp', () => {
  const tokenFor = () =>
    fc.oneof(
      authorizationHeader,
      fc.constantFrom(
        `Bearer ${aliceTokens.access_token}`,
        `bearer ${aliceTokens.access_token}`,
        `Bearer ${bobTokens.access_token}`,
        `Bearer ${aliceTokens.access_token}x`,
        `Bearer ${aliceTokens.access_token} ${aliceTokens.access_token}`,
        `Bearer ${aliceTokens.refresh_token}`,
        `Basic ${aliceTokens.access_token}`,
      ),
    );

  it('/auth/verify: 200 with identity headers for a valid token, otherwise 401/403 with a well-formed challenge, 404 or 400', async () => {
    const host = fc.oneof(fc.constantFrom(wikiHost('alice'), wikiHost('bob'), wikiHost('nobody')), hostHeader);
    const scope = fc.oneof(
      fc.constant(''),
      fc.constantFrom('?scope=wiki:read', '?scope=wiki:write', '?scope=wiki:read&scope=wiki:write', '?scope=admin', '?scope='),
      nastyString.map((s) => `?${encodePairs([['scope', s]])}`),
    );
    const method = fc.constantFrom('get', 'post', 'head', 'delete');
    await fc.assert(
      fc.asyncProperty(tokenFor(), host, fc.option(host, { nil: undefined }), scope, method, async (authorization, h, forwarded, s, m) => {
        const before = await rowCounts(app);
        const req = app.http()[m](`/auth/verify${s}`).set('Host', h).set('X-Forwarded-Host', forwarded ?? h);
        const res = await withHeader(req, 'Authorization', authorization);
        expectNot5xx(res);
        expectCleanHeaders(res);
        if (overHeaderLimit({ authorization, 'x-forwarded-host': forwarded ?? h })) {
          expect(res.status).toBe(431);
          return;
        }
        expect(res.headers['cache-control']).toMatch(/no-store/);
        expect(countChanges(before, await rowCounts(app))).toEqual({});
        if (res.status === 200) {
          expect(res.headers['x-auth-did']).toMatch(/^did:plc:/);
          expect(['alice', 'bob']).toContain(res.headers['x-auth-wiki']);
          return;
        }
        const slug = slugOf(h);
        if (m === 'head') {
          expect([400, 401, 403, 404]).toContain(res.status);
          return;
        }
        if (res.status === 401 || res.status === 403) {
          expect(slug).toBeDefined();
          expectBearerChallenge(res, slug!);
          expectJsonError(res, [401, 403], new Set(['invalid_token', 'unauthorized', 'insufficient_scope']));
        } else {
          expectJsonError(res, [400, 404], new Set(['invalid_request', 'not_found']));
        }
      }),
      fuzzOptions(200),
    );
  });

  it('/mcp: without a valid token always 401 + challenge; with one, never a 5xx', async () => {
    const method = fc.constantFrom('get', 'post', 'delete', 'put', 'patch', 'options', 'head');
    const accept = fc.oneof(fc.constantFrom('application/json, text/event-stream', 'application/json', 'text/event-stream', '*/*'), headerValue);
    const protocolVersion = fc.option(fc.oneof(fc.constantFrom('2025-11-25', '2025-06-18', '2026-07-28', '1999-01-01'), headerValue), { nil: undefined });
    const body = fc.oneof(
      fc.constantFrom(
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'nope' } }),
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
        JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'server/discover' }),
        JSON.stringify([]),
        JSON.stringify([{ jsonrpc: '2.0', method: 'notifications/initialized' }, { jsonrpc: '2.0', id: 2, method: 'tools/list' }]),
      ),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fc.record({ jsonrpc: fc.constantFrom('2.0', '1.0'), id: fc.jsonValue({ maxDepth: 1 }), method: nastyString, params: fc.jsonValue({ maxDepth: 2 }) }).map((v) => JSON.stringify(v)),
      rawBody,
    );
    const host = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(wikiHost('alice')) }, { weight: 1, arbitrary: hostHeader });
    await fc.assert(
      fc.asyncProperty(method, tokenFor(), host, accept, contentType, protocolVersion, body, async (m, authorization, h, a, type, version, raw) => {
        const before = await rowCounts(app);
        let req = app.http()[m]('/mcp').set('Host', h).set('Accept', a);
        req = withHeader(withHeader(withHeader(req, 'Authorization', authorization), 'Content-Type', type), 'MCP-Protocol-Version', version);
        const res = await (m === 'get' || m === 'head' || m === 'options' ? req : req.send(raw));
        expectNot5xx(res, `${m} ${raw.slice(0, 200)}`);
        expectCleanHeaders(res);
        if (overHeaderLimit({ authorization, host: h, 'content-type': type })) {
          expect(res.status).toBe(431);
          return;
        }
        expect(countChanges(before, await rowCounts(app))).toEqual({});
        const onAlice = slugOf(h) === 'alice';
        const valid = authorization === `Bearer ${aliceTokens.access_token}` || authorization === `bearer ${aliceTokens.access_token}`;
        if (!onAlice || m === 'head') return;
        if (m === 'options') {
          expect(res.status).toBe(204);
        } else if (!valid) {
          expect(res.status, res.text.slice(0, 200)).toBe(401);
          expectBearerChallenge(res, 'alice');
        } else {
          expect(res.status).not.toBe(401);
        }
      }),
      fuzzOptions(250),
    );
  });
});

describe('any path, any method, any Host', () => {
  it('is never a 5xx and never writes without credentials', async () => {
    const path = fc.oneof(
      fc.constantFrom(
        '/',
        '/account',
        '/auth/login',
        '/auth/callback',
        '/auth/handoff',
        '/auth/signup',
        '/auth/logout',
        '/auth/client-metadata.json',
        '/auth/jwks.json',
        '/auth/oauth/authorize',
        '/auth/oauth/consent',
        '/auth/oauth/token',
        '/auth/oauth/register',
        '/auth/oauth/revoke',
        '/auth/verify',
        '/mcp',
        '/authorize',
        '/token',
        '/register',
        '/static/../package.json',
        '/static/%2e%2e/%2e%2e/package.json',
        '/static/style.css',
        '/%00',
        '/%E0%A4%A',
        '/account/apps/revoke',
      ),
      fc.webPath().filter((p) => p.startsWith('/')),
      nastyString.map((s) => `/${encodePairs([['', s]]).slice(1)}`),
    );
    const method = fc.constantFrom('get', 'post', 'put', 'delete', 'patch', 'options', 'head');
    await fc.assert(
      fc.asyncProperty(method, path, hostHeader, fc.option(rawBody, { nil: undefined }), contentType, async (m, p, h, raw, type) => {
        await expectNoWrites(app, async () => {
          const req = withHeader(app.http()[m](p).set('Host', h), 'Content-Type', type);
          const res = await (raw === undefined ? req : req.send(raw));
          expectNot5xx(res, `${m} ${p} Host ${h}`);
          expectCleanHeaders(res);
          if (p.includes('package.json')) expect(res.text ?? '').not.toContain('"dependencies"');
        });
      }),
      fuzzOptions(250),
    );
  });
});
