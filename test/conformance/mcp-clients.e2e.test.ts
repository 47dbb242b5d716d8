// The whole product flow with the real MCP SDK client (what Claude Code is built on), the real app
// and the real local PDS: discovery from a 401, registration, Bluesky sign-in, consent, code
// exchange, calling whoami, refreshing, and being revoked from the account page. The app runs with
// ACCESS_TOKEN_ALG=ES256 here (issue 11); the other conformance suites run with the default, RS256.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';
import { MemoryOAuthProvider } from '../support/mcp-oauth-client.ts';
import { browser, fieldValue, location, signUpNew, type Browser } from '../support/browser-flow.ts';

let app: TestApp;
let account: PdsAccount;
let person: Browser;
let username: string;
let mcpUrl: string;

beforeAll(async () => {
  app = await startTestApp({ ACCESS_TOKEN_ALG: 'ES256' });
  account = await createPdsAccount(inject('pdsUrl'), { handlePrefix: 'mcp' });
  person = browser(app);
  await signUpNew(app, person, account);
  username = account.handle.split('.')[0]!;
  mcpUrl = `http://${username}.localhost:${app.port}/mcp`;
});

afterAll(async () => {
  await app?.close();
});

/** The person approves in their browser: authorize URL → consent page → Allow → client's redirect. */
async function approveInBrowser(authorizationUrl: URL, decision: 'Allow' | 'Deny' = 'Allow'): Promise<URL> {
  const start = await person.get(authorizationUrl.href);
  expect(start.status, start.body.slice(0, 300)).toBe(303);
  const consent = await person.get(location(start));
  expect(consent.status, consent.body.slice(0, 300)).toBe(200);
  expect(consent.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  const done = await person.post('/auth/oauth/consent', {
    _csrf: fieldValue(consent.body, '_csrf') ?? '',
    request: fieldValue(consent.body, 'request') ?? '',
    decision: decision.toLowerCase(),
  });
  expect(done.status).toBe(303);
  return new URL(location(done));
}

function connect(provider: MemoryOAuthProvider) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: loopbackFetch(app.port) });
  const client = new Client({ name: 'robot-auth-test', version: '1.0.0' });
  return { client, transport, connecting: client.connect(transport) };
}

async function whoami(provider: MemoryOAuthProvider) {
  const { client, connecting } = connect(provider);
  await connecting;
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  await client.close();
  return result.structuredContent as { did: string; handle: string; wiki: string; scopes: string[] };
}

describe.each([
  {
    kind: 'Claude Code-style public client (loopback redirect, none)',
    redirectUrl: (): string => `http://localhost:${40000 + Math.floor(Math.random() * 20000)}/callback`,
    authMethod: 'none' as const,
  },
  {
    kind: 'Claude.ai-style confidential client (DCR, client_secret_post)',
    redirectUrl: (): string => 'https://claude.ai/api/mcp/auth_callback',
    authMethod: 'client_secret_post' as const,
  },
])('$kind', ({ redirectUrl, authMethod }) => {
  const redirect = redirectUrl();
  const provider = new MemoryOAuthProvider(redirect, {
    client_name: authMethod === 'none' ? `Claude Code (${'wiki'})` : 'Claude',
    redirect_uris: [redirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: authMethod,
  });

  it('discovers, registers, signs in, approves, and calls whoami', async () => {
    const first = connect(provider);
    await expect(first.connecting).rejects.toBeInstanceOf(UnauthorizedError);
    const info = provider.clientInformation();
    expect(info?.client_id).toBeTruthy();
    expect(Boolean(info && 'client_secret' in info && info.client_secret)).toBe(authMethod !== 'none');

    const authUrl = provider.authorizationUrl!;
    expect(authUrl.origin).toBe(app.url);
    expect(authUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authUrl.searchParams.get('resource')).toBe(mcpUrl);

    const back = await approveInBrowser(authUrl);
    expect(back.origin + back.pathname).toBe(redirect);
    expect(back.searchParams.get('iss')).toBe(app.url);
    expect(back.searchParams.get('state')).toBe(authUrl.searchParams.get('state'));
    await first.transport.finishAuth(back.searchParams.get('code')!);
    const header = JSON.parse(Buffer.from(provider.tokens()!.access_token.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
    expect(header).toEqual({ alg: 'ES256', kid: app.ctx.platformKeys.current.kid, typ: 'at+jwt' });

    const me = await whoami(provider);
    const user = (await app.ctx.store.repos.users.findByDid(account.did))!;
    expect(me).toEqual({ did: account.did, handle: account.handle, wiki: user.username, scopes: ['wiki:read', 'wiki:write'] });
  });

  it('refreshes (rotating the refresh token) and keeps working', async () => {
    const before = provider.tokens()!;
    const result = await auth(provider, { serverUrl: mcpUrl, fetchFn: loopbackFetch(app.port) });
    expect(result).toBe('AUTHORIZED');
    const after = provider.tokens()!;
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before.refresh_token);
    expect(after.access_token).not.toBe(before.access_token);
    expect((await whoami(provider)).did).toBe(account.did);
  });

  it('is cut off at once when the person revokes it on the account page', async () => {
    const page = await person.get('/account');
    const clientName = authMethod === 'none' ? 'Claude Code (wiki)' : 'Claude';
    expect(page.body).toContain(clientName);
    const grantId = [...page.body.matchAll(/name="grant" value="([^"]+)"/g)].map((m) => m[1]!);
    let grant: string | undefined;
    for (const id of grantId) if ((await app.ctx.store.repos.grants.findById(id))?.clientId === provider.clientInformation()?.client_id) grant ??= id;
    expect(grant).toBeTruthy();
    const revoked = await person.post('/account/apps/revoke', { _csrf: fieldValue(page.body, '_csrf') ?? '', grant: grant! });
    expect(revoked.status).toBe(303);

    // The access token the client holds is refused now, and its refresh token is dead too.
    const { connecting } = connect(provider);
    await expect(connecting).rejects.toThrow();
    const refreshed = await fetch(`${app.url}/auth/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: provider.tokens()!.refresh_token!,
        client_id: provider.clientInformation()!.client_id,
        ...(authMethod === 'none' ? {} : { client_secret: (provider.clientInformation() as { client_secret: string }).client_secret }),
      }),
    });
    expect(refreshed.status).toBe(400);
    expect(await refreshed.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe('a client that omits resource (Claude Code 2.1.25x+)', () => {
  it('lets the person pick their wiki and binds the token to it', async () => {
    const provider = new MemoryOAuthProvider('http://127.0.0.1:33333/callback', {
      client_name: 'Resource-less client',
      redirect_uris: ['http://127.0.0.1:33333/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    const first = connect(provider);
    await expect(first.connecting).rejects.toBeInstanceOf(UnauthorizedError);
    const authUrl = new URL(provider.authorizationUrl!);
    authUrl.searchParams.delete('resource');
    const start = await person.get(authUrl.href);
    const consent = await person.get(location(start));
    expect(consent.body).toContain('Which wiki?');
    const done = await person.post('/auth/oauth/consent', {
      _csrf: fieldValue(consent.body, '_csrf') ?? '',
      request: fieldValue(consent.body, 'request') ?? '',
      decision: 'allow',
      wiki: username,
    });
    const code = new URL(location(done)).searchParams.get('code')!;
    // The token request also omits resource; the token's audience is still the chosen wiki.
    const res = await fetch(`${app.url}/auth/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        code_verifier: provider.codeVerifier(),
        redirect_uri: 'http://127.0.0.1:33333/callback',
        client_id: provider.clientInformation()!.client_id,
      }),
    });
    expect(res.status).toBe(200);
    const tokens = (await res.json()) as { access_token: string };
    const payload = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as { aud: string };
    expect(payload.aud).toBe(mcpUrl);
  });
});
