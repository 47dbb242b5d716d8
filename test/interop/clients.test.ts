// Every real MCP client connects as it does in production (issue 10 items 1–3): the exact documents
// and DCR bodies of Claude.ai, Claude Code, ChatGPT, VS Code, Cursor and the MCP Inspector
// (test/fixtures/clients/, README there says where each came from) go through the real app, the
// person's consent, the token endpoint and a refresh. Documents are served by a local https
// stand-in; ChatGPT authenticates with real RS256 client assertions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { pageText } from '../support/browser-flow.ts';
import { httpRequest } from '../support/pds.ts';
import { decodeJwt } from '../conformance/support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, exchangeCode, newPkce, obtainCode, openConsent, refresh, submitConsent, tokenRequest, type RegisteredClient } from '../support/oauth-flow.ts';
import {
  documentClient,
  newSigningKey,
  postWithAssertion,
  readFixture,
  serveDocument,
  serveJwks,
  signAssertion,
  startHarness,
  type Harness,
} from './harness.ts';

let h: Harness;
let person: Person;

beforeAll(async () => {
  h = await startHarness();
  person = await seedPerson(h.app, 'interop');
});
afterAll(async () => {
  await h?.close();
});

async function register(body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await httpRequest(`http://127.0.0.1:${h.app.port}${OAUTH_PATHS.register}`, {
    method: 'POST',
    headers: { host: `localhost:${h.app.port}` },
    json: body,
  });
  return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
}

describe('client ID metadata documents (narrowed, never refused for what we merely do not support)', () => {
  it("Claude.ai's published document (with the jwt-bearer grant) connects: consent, code, token, refresh", async () => {
    const doc = serveDocument(h, 'claude-ai.cimd.json');
    const client = documentClient(doc);
    const issued = await obtainCode(client, person, h.app);
    expect(issued.redirect.origin + issued.redirect.pathname).toBe('https://claude.ai/api/mcp/auth_callback');
    const tokens = await exchangeCode(h.app, client, issued);
    expect(tokens).toMatchObject({ token_type: 'Bearer', refresh_token: expect.any(String) });
    const refreshed = await refresh(h.app, client, tokens.refresh_token);
    expect(refreshed.status, refreshed.raw).toBe(200);
    const stored = await h.app.ctx.clientResolver.resolve(client.clientId);
    expect(stored?.metadata).toMatchObject({ grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' });
    // The jwt-bearer grant was dropped, so it is not usable either.
    const jwtBearer = await tokenRequest(h.app, client, { grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion: 'x' });
    expect(jwtBearer.status).toBe(400);
  });

  it("Claude Code's document (port-less loopback URIs) accepts the CLI's random port", async () => {
    const doc = serveDocument(h, 'claude-code.cimd.json');
    for (const redirect of ['http://localhost:52163/callback', 'http://127.0.0.1:40123/callback']) {
      const client = documentClient(doc, redirect);
      const issued = await obtainCode(client, person, h.app);
      expect(issued.redirect.host).toBe(new URL(redirect).host);
      await exchangeCode(h.app, client, issued);
    }
  });

  it('the consent page of a document client shows the host of its client_id and what is granted', async () => {
    const doc = serveDocument(h, 'claude-ai.cimd.json');
    const page = await openConsent(person.browser, authorizeUrl(h.app, authorizeParams(documentClient(doc), person, newPkce())));
    const text = pageText(page.body);
    expect(text).toContain('Claude');
    expect(text).toContain('Read the pages of your wiki');
    // Issue 9 finding 7: a document proves only who publishes it, so the page names that host and
    // still calls the app unverified.
    expect(text).toContain(`Claude from ${new URL(String(doc.client_id)).host} unverified`);
  });

  for (const fixture of ['chatgpt.cimd.json', 'chatgpt-legacy.cimd.json']) {
    it(`ChatGPT (${fixture}): private_key_jwt with RS256 assertions at /token (code, refresh) and /revoke`, async () => {
      const key = await newSigningKey('RS256');
      // Each fixture at its own path (same client_id otherwise): documents and key sets are cached.
      const doc = serveDocument(h, fixture, (d) => d, `/${fixture.replace('.cimd.json', '')}`);
      serveJwks(h, new URL(String(doc.jwks_uri)).pathname, [key]);
      const client = documentClient(doc);
      const stored = await h.app.ctx.clientResolver.resolve(client.clientId);
      expect(stored?.metadata).toMatchObject({ token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'RS256' });

      const issued = await obtainCode(client, person, h.app);
      const codeReply = await postWithAssertion(h.app, OAUTH_PATHS.token, await signAssertion(h.app, client.clientId, key), {
        grant_type: 'authorization_code',
        code: issued.code,
        code_verifier: issued.pkce.verifier,
        redirect_uri: issued.redirectUri,
        client_id: client.clientId,
      });
      expect(codeReply.status, codeReply.raw).toBe(200);
      const refreshToken = String(codeReply.body.refresh_token);
      // aud may be the issuer too.
      const refreshed = await postWithAssertion(h.app, OAUTH_PATHS.token, await signAssertion(h.app, client.clientId, key, { aud: h.app.url }), {
        grant_type: 'refresh_token',
        refresh_token: refreshToken,
      });
      expect(refreshed.status, refreshed.raw).toBe(200);
      // Without an assertion, as a public client: refused (it registered private_key_jwt).
      const unauthenticated = await tokenRequest(h.app, client, { grant_type: 'refresh_token', refresh_token: String(refreshed.body.refresh_token) });
      expect(unauthenticated.status).toBe(401);
      const revoked = await postWithAssertion(h.app, OAUTH_PATHS.revoke, await signAssertion(h.app, client.clientId, key), {
        token: String(refreshed.body.refresh_token),
      });
      expect(revoked.status, revoked.raw).toBe(200);
      const afterRevoke = await postWithAssertion(h.app, OAUTH_PATHS.token, await signAssertion(h.app, client.clientId, key), {
        grant_type: 'refresh_token',
        refresh_token: String(refreshed.body.refresh_token),
      });
      expect(afterRevoke.status).toBe(400);
      expect(afterRevoke.body.error).toBe('invalid_grant');
    });
  }
});

describe('dynamic client registration bodies of real clients', () => {
  const flows: [string, string, (r: Record<string, unknown>) => void][] = [
    ['claude-ai.dcr.json', 'https://claude.ai/api/mcp/auth_callback', (r) => {
      expect(r).toMatchObject({ token_endpoint_auth_method: 'client_secret_post', client_secret: expect.any(String) });
      expect(r).not.toHaveProperty('scope'); // "claudeai" is not ours: ignored
    }],
    ['claude-code.dcr.json', 'http://localhost:61000/callback', (r) => expect(r).toMatchObject({ scope: 'wiki:read wiki:write', application_type: 'native' })],
    ['chatgpt.dcr.json', 'https://chatgpt.com/connector_platform_oauth_redirect', (r) => expect(r).not.toHaveProperty('scope')],
    ['vscode.dcr.json', 'http://127.0.0.1:59656/', (r) => {
      expect(r.grant_types).toEqual(['authorization_code', 'refresh_token']); // device_code dropped
      expect(r.redirect_uris).toContain('https://vscode.dev/redirect');
    }],
    ['vscode.dcr.json', 'https://vscode.dev/redirect', () => undefined],
    ['cursor.dcr.json', 'cursor://anysphere.cursor-mcp/oauth/callback', (r) => expect(r).not.toHaveProperty('client_secret')],
    ['cursor-agents.dcr.json', 'https://www.cursor.com/agents/mcp/oauth/callback', (r) => expect(r.redirect_uris).toHaveLength(3)],
    ['mcp-inspector.dcr.json', 'http://localhost:6274/oauth/callback', (r) => expect(r).toMatchObject({ client_uri: 'https://github.com/modelcontextprotocol/inspector' })],
  ];
  it.each(flows)('%s registers, and connects through %s', async (name, redirectUri, check) => {
    const body = readFixture(name);
    const reg = await register(body);
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body).toMatchObject({ response_types: ['code'] });
    check(reg.body);
    const client: RegisteredClient = {
      clientId: String(reg.body.client_id),
      clientSecret: reg.body.client_secret as string | undefined,
      redirectUri,
      authMethod: reg.body.token_endpoint_auth_method as RegisteredClient['authMethod'],
    };
    const issued = await obtainCode(client, person, h.app);
    expect(issued.redirect.href.startsWith(redirectUri.replace(/:\d+\//, (m) => m))).toBe(true);
    const tokens = await exchangeCode(h.app, client, issued);
    expect((await refresh(h.app, client, tokens.refresh_token)).status).toBe(200);
  });

  it('Cursor: the consent page says the answer opens an app on this device, and the Location carries the code', async () => {
    const reg = await register(readFixture('cursor.dcr.json'));
    const client: RegisteredClient = { clientId: String(reg.body.client_id), clientSecret: undefined, redirectUri: 'cursor://anysphere.cursor-mcp/oauth/callback', authMethod: 'none' };
    const page = await openConsent(person.browser, authorizeUrl(h.app, authorizeParams(client, person, newPkce())));
    expect(pageText(page.body)).toContain('This opens an app on this device');
    expect(page.body).toContain('<code>cursor:</code>');
    const issued = await obtainCode(client, person, h.app);
    expect(issued.redirect.protocol).toBe('cursor:');
    expect(issued.redirect.host).toBe('anysphere.cursor-mcp');
    expect(issued.redirect.pathname).toBe('/oauth/callback');
    expect(issued.redirect.searchParams.get('state')).toBe(issued.state);
    expect(issued.redirect.searchParams.get('iss')).toBe(h.app.url);
    const tokens = await exchangeCode(h.app, client, issued);
    expect(tokens.access_token).toEqual(expect.any(String));
  });

  it('a registration that names another app\'s private-use scheme as a confidential client is refused', async () => {
    const reg = await register({ ...readFixture('cursor.dcr.json'), token_endpoint_auth_method: 'client_secret_basic' });
    expect(reg.status).toBe(400);
    expect(reg.body.error).toBe('invalid_redirect_uri');
  });
});

describe('the scope values real clients send are narrowed, not refused (RFC 6749 §3.3, issue 10 item 1)', () => {
  const BOTH = ['Read the pages of your wiki', 'Create and change pages of your wiki'];

  /** /authorize with this scope → consent (checked) → Allow → code → token; returns the tokens. */
  async function connect(client: RegisteredClient, scope: string | undefined, expectedPage: string[], missingPage: string[] = []) {
    const pkce = newPkce();
    const params = authorizeParams(client, person, pkce, { scope });
    const page = await openConsent(person.browser, authorizeUrl(h.app, params));
    const text = pageText(page.body);
    for (const line of expectedPage) expect(text).toContain(line);
    for (const line of missingPage) expect(text).not.toContain(line);
    const done = await submitConsent(person.browser, page, 'allow');
    expect(done.status, done.body.slice(0, 300)).toBe(303);
    const redirect = new URL(String(done.headers.location));
    const code = redirect.searchParams.get('code');
    expect(code, redirect.href).toBeTruthy();
    return exchangeCode(h.app, client, { code: code!, state: String(params.state), pkce, redirectUri: client.redirectUri, redirect });
  }

  const documentCases: [string, string, string | undefined][] = [
    ["Claude.ai's document", 'claude-ai.cimd.json', 'claudeai'],
    ["Claude Code's document", 'claude-code.cimd.json', 'wiki:read wiki:write offline_access'],
    ["Claude.ai's document, no scope at all", 'claude-ai.cimd.json', undefined],
  ];
  it.each(documentCases)('%s (%s) with scope=%j: consent shows both wiki scopes, the token carries them', async (_name, fixture, scope) => {
    const doc = serveDocument(h, fixture);
    const client = documentClient(doc, fixture.startsWith('claude-code') ? 'http://127.0.0.1:47001/callback' : undefined);
    const tokens = await connect(client, scope, BOTH);
    expect(tokens.scope).toBe('wiki:read wiki:write');
    expect(decodeJwt(tokens.access_token).payload.scope).toBe('wiki:read wiki:write');
    // The client refreshes with what it asked for the first time: still accepted, same scope.
    const refreshed = await refresh(h.app, client, tokens.refresh_token, scope ? { scope } : {});
    expect(refreshed.status, refreshed.raw).toBe(200);
    expect(refreshed.body.scope).toBe('wiki:read wiki:write');
  });

  it("ChatGPT's document with scope=openid email profile offline_access, through RS256 client assertions", async () => {
    const key = await newSigningKey('RS256');
    const doc = serveDocument(h, 'chatgpt.cimd.json', (d) => d, '/chatgpt-scopes');
    serveJwks(h, new URL(String(doc.jwks_uri)).pathname, [key]);
    const client = documentClient(doc);
    const scope = 'openid email profile offline_access';
    const issued = await obtainCode(client, person, h.app, { scope });
    const reply = await postWithAssertion(h.app, OAUTH_PATHS.token, await signAssertion(h.app, client.clientId, key), {
      grant_type: 'authorization_code',
      code: issued.code,
      code_verifier: issued.pkce.verifier,
      redirect_uri: issued.redirectUri,
      client_id: client.clientId,
    });
    expect(reply.status, reply.raw).toBe(200);
    expect(reply.body.scope).toBe('wiki:read wiki:write');
    const refreshed = await postWithAssertion(h.app, OAUTH_PATHS.token, await signAssertion(h.app, client.clientId, key), {
      grant_type: 'refresh_token',
      refresh_token: String(reply.body.refresh_token),
      scope,
    });
    expect(refreshed.status, refreshed.raw).toBe(200);
    expect(refreshed.body.scope).toBe('wiki:read wiki:write');
  });

  it('DCR bodies: each client asks for what it registered with, and gets wiki:read wiki:write', async () => {
    for (const [name, redirectUri] of [
      ['claude-ai.dcr.json', 'https://claude.ai/api/mcp/auth_callback'],
      ['chatgpt.dcr.json', 'https://chatgpt.com/connector_platform_oauth_redirect'],
      ['claude-code.dcr.json', 'http://localhost:61001/callback'],
    ] as const) {
      const body = readFixture(name);
      const reg = await register(body);
      expect(reg.status, JSON.stringify(reg.body)).toBe(201);
      const client: RegisteredClient = {
        clientId: String(reg.body.client_id),
        clientSecret: reg.body.client_secret as string | undefined,
        redirectUri,
        authMethod: reg.body.token_endpoint_auth_method as RegisteredClient['authMethod'],
      };
      const tokens = await connect(client, String(body.scope), BOTH);
      expect(tokens.scope, name).toBe('wiki:read wiki:write');
    }
  });

  it('a known scope plus unknown ones grants only the known one, and the consent page says so', async () => {
    const client = documentClient(serveDocument(h, 'claude-ai.cimd.json'));
    const tokens = await connect(client, 'openid wiki:read claudeai', ['Read the pages of your wiki'], ['Create and change pages of your wiki']);
    expect(tokens.scope).toBe('wiki:read');
    // A refresh cannot widen it: wiki:write is ours and not in the grant.
    const wider = await refresh(h.app, client, tokens.refresh_token, { scope: 'wiki:read wiki:write' });
    expect(wider.status).toBe(400);
    expect(wider.body.error).toBe('invalid_scope');
  });

  it('a client registered for wiki:read only gets wiki:read, whatever it asks for', async () => {
    const reg = await register({ ...readFixture('claude-code.dcr.json'), scope: 'wiki:read offline_access' });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    expect(reg.body.scope).toBe('wiki:read');
    const client: RegisteredClient = { clientId: String(reg.body.client_id), clientSecret: undefined, redirectUri: 'http://localhost:61002/callback', authMethod: 'none' };
    for (const scope of ['wiki:write', 'wiki:read wiki:write', 'claudeai']) {
      const tokens = await connect(client, scope, ['Read the pages of your wiki'], ['Create and change pages of your wiki']);
      expect(tokens.scope, scope).toBe('wiki:read');
    }
  });
});
