// Production mode, end to end (issue 10 item 10): the product as an operator runs it — https
// PUBLIC_URL on a made-up public name, key files from the CLI, `node src/server.ts`, the shipped
// Caddyfile with TLS from a test CA — against a PDS and PLC that are themselves behind TLS on
// public-looking names, reached only through OUTBOUND_PRIVATE_HOSTS. How it is wired: stack.ts and
// docs/testing.md. Each test fails when the thing it names is broken:
//   - the confidential ATProto client (private_key_jwt; its client metadata fetched BY THE PDS over
//     https through Caddy) signs a person up and in, in Chromium, which trusts the test CA;
//   - MCP clients (the real @modelcontextprotocol/sdk client) go through discovery, consent in
//     Chromium, token, /mcp through Caddy's forward_auth to the wiki MCP upstream, and refresh:
//     Claude.ai and Claude Code identified by their metadata documents (served by a claude.ai
//     stand-in), and the DCR registrations of both (Claude Code: `none` + loopback redirect;
//     Claude.ai: confidential, client_secret_post). The bodies are the published ones
//     (test/fixtures/clients/), with https://claude.ai replaced by the stand-in's origin.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientMetadata } from '@modelcontextprotocol/sdk/shared/auth.js';
import type { BrowserContext, Page } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../ops/server-process.ts';
import { deriveUsername } from '../../src/accounts/username.ts';
import { launchChromium, signInWithBluesky, withFailureScreenshot, type LaunchedChromium } from '../support/chromium.ts';
import { MemoryOAuthProvider } from '../support/mcp-oauth-client.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { CHROMIUM_HOST_RULES, clientFixture, startProductionStack, type ProductionStack } from './stack.ts';

let stack: ProductionStack;
let chromium: LaunchedChromium;
/** The person's browser: signed up in the first test, approving MCP clients in the others. */
let person: BrowserContext;
let account: PdsAccount;
let username: string;
/** The last client's tokens after its refresh: the revocation test at the end presents its access token. */
let lastAccessToken: string | undefined;

beforeAll(async () => {
  const started = Date.now();
  stack = await startProductionStack();
  chromium = await launchChromium({ hostResolverRules: CHROMIUM_HOST_RULES, trustedCaFile: stack.ca.caFile });
  person = await chromium.newContext();
  account = await createPdsAccount(stack.pds.localUrl, { handlePrefix: 'prod' });
  username = deriveUsername(account.handle);
  if (process.env.TEST_TIMINGS === '1') process.stderr.write(`[production suite] started in ${Date.now() - started} ms\n`);
}, 90_000);

afterAll(async () => {
  await chromium?.closeAll();
  await stack?.stop();
});

/** Runs `steps` on a new page of `context`; on failure saves a screenshot and adds the app's log tail. */
async function onPage<T>(context: BrowserContext, name: string, steps: (page: Page) => Promise<T>): Promise<T> {
  const page = await context.newPage();
  try {
    return await withFailureScreenshot(page, `production-${name}`, steps, () => `--- app log (tail) ---\n${stack.appLog().slice(-4000)}`);
  } finally {
    await page.close();
  }
}

/** Request-log lines of the app (pino JSON) for one path. */
function appRequests(pathname: string): Array<{ host?: string; status?: number }> {
  return stack
    .appLog()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { req?: { url?: string; host?: string }; res?: { statusCode?: number } })
    .filter((entry) => entry.req?.url === pathname)
    .map((entry) => ({ host: entry.req?.host, status: entry.res?.statusCode }));
}

describe('production sign-in: the confidential ATProto client against a PDS over https', () => {
  it('the PDS and PLC are https on their public names, and the app publishes a confidential client through Caddy', async () => {
    expect(stack.pds.url).toMatch(/^https:\/\/pds\.probe\.internal:\d+$/);
    expect(stack.pds.plcUrl).toMatch(/^https:\/\/plc\.probe\.internal:\d+$/);
    const res = await stack.fetch(`${stack.publicUrl}/auth/client-metadata.json`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      client_id: `${stack.publicUrl}/auth/client-metadata.json`,
      application_type: 'web',
      token_endpoint_auth_method: 'private_key_jwt',
      dpop_bound_access_tokens: true,
      redirect_uris: [`${stack.publicUrl}/auth/callback`],
      jwks_uri: `${stack.publicUrl}/auth/jwks.json`,
    });
  });

  it('a first-time person signs in with Bluesky and signs up in Chromium; the account page shows their DID and handle', async () => {
    const publicUrl = stack.publicUrl;
    await onPage(person, 'signup', async (page) => {
      await page.goto(`${publicUrl}/auth/login`);
      await signInWithBluesky(page, account, stack.pds.url);
      // The PDS sends the browser to https://auth.probe.internal:PORT/auth/callback (a web client's
      // redirect: no loopback hand-off in production), then to signup.
      await page.waitForURL(`${publicUrl}/auth/signup`);
      expect(await page.getByLabel('Username').inputValue()).toBe(username);
      await page.getByRole('button', { name: 'Create my account' }).click();
      await page.waitForURL(`${publicUrl}/account`);
      expect(await page.locator('code.did').textContent()).toBe(account.did);
      expect(await page.locator('main').textContent()).toContain(`@${account.handle}`);
    });
    // The cookies are production cookies: Secure, for the apex's domain.
    const cookies = await person.cookies(publicUrl);
    expect(cookies.length).toBeGreaterThan(0);
    expect(cookies.every((c) => c.secure)).toBe(true);

    // The PDS learnt this client (private_key_jwt, its jwks_uri and https redirect) only from the
    // metadata document, which it fetched from the public name, i.e. through Caddy.
    const fetched = appRequests('/auth/client-metadata.json');
    expect(fetched.length).toBeGreaterThan(0);
    expect(fetched.every((r) => r.host === new URL(publicUrl).host && r.status === 200)).toBe(true);
  });

  it('the same person signs in again in a new browser and lands on their account, not on signup', async () => {
    const fresh = await chromium.newContext();
    try {
      await onPage(fresh, 'returning-sign-in', async (page) => {
        await page.goto(`${stack.publicUrl}/auth/login`);
        await signInWithBluesky(page, account, stack.pds.url);
        await page.waitForURL(`${stack.publicUrl}/account`);
        expect(await page.locator('code.did').textContent()).toBe(account.did);
      });
    } finally {
      await fresh.close();
    }
  });
});

/**
 * The person approves in Chromium: the authorization URL, our consent page, Allow, and the browser
 * is sent to the client's redirect URI (caught there: the client's own callback server is not the
 * subject). Returns that URL.
 */
async function approveInChromium(authorizationUrl: URL, redirectUri: string, clientName: string): Promise<URL> {
  return onPage(person, `consent-${clientName.replace(/\W+/g, '-')}`, async (page) => {
    let reached: string | undefined;
    // Seen as a request whether or not anything answers there (a CLI's loopback port may be gone).
    page.on('request', (request) => {
      if (request.isNavigationRequest() && request.url().startsWith(redirectUri)) reached ??= request.url();
    });
    await page.route(
      (url) => url.href.startsWith(redirectUri),
      (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>callback</title>' }),
    );
    await page.goto(authorizationUrl.href);
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(clientName);
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
    await expect.poll(() => reached, { timeout: 10_000 }).toBeTruthy();
    return new URL(reached!);
  });
}

function connect(provider: MemoryOAuthProvider, mcpUrl: string) {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, fetch: stack.fetch });
  const client = new Client({ name: 'robot-auth-production-suite', version: '1.0.0' });
  return { client, transport, connecting: client.connect(transport) };
}

async function whoami(provider: MemoryOAuthProvider, mcpUrl: string) {
  const { client, connecting } = connect(provider, mcpUrl);
  await connecting;
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  await client.close();
  return result.structuredContent as { did: string; handle: string; wiki: string; scopes: string[] };
}

interface ClientKind {
  kind: string;
  /** The name the consent page shows. */
  clientName: string;
  /** The redirect URI this run of the client uses. */
  redirectUri: () => string;
  /** What the SDK would register (DCR); for document clients, the document's own fields. */
  metadata: () => OAuthClientMetadata;
  /** Set: identifies itself by this document URL instead of registering. */
  documentUrl?: () => string;
  confidential: boolean;
}

/** A published client's metadata (test/fixtures/clients/) with https://claude.ai → the stand-in. */
function fixture(name: string): OAuthClientMetadata {
  return clientFixture(name, stack.claudeOrigin) as unknown as OAuthClientMetadata;
}

/** Claude Code listens on a random loopback port; its document lists the port-less URI. */
const claudeCodePort = 40000 + Math.floor(Math.random() * 20000);

const KINDS: ClientKind[] = [
  {
    kind: 'Claude.ai, identified by its client ID metadata document (the exact published one, on the claude.ai stand-in)',
    clientName: 'Claude',
    redirectUri: () => (fixture('claude-ai.cimd').redirect_uris as string[])[0]!,
    documentUrl: () => `${stack.claudeOrigin}/oauth/mcp-oauth-client-metadata`,
    metadata: () => fixture('claude-ai.cimd'),
    confidential: false,
  },
  {
    kind: 'Claude Code, identified by its client ID metadata document (port-less loopback redirect, random port)',
    clientName: 'Claude Code',
    redirectUri: () => `http://localhost:${claudeCodePort}/callback`,
    documentUrl: () => `${stack.claudeOrigin}/oauth/claude-code-client-metadata`,
    metadata: () => fixture('claude-code.cimd'),
    confidential: false,
  },
  {
    kind: "Claude Code's DCR registration (none, loopback redirect)",
    clientName: 'Claude Code (wiki)',
    redirectUri: () => (fixture('claude-code.dcr').redirect_uris as string[])[0]!,
    metadata: () => fixture('claude-code.dcr'),
    confidential: false,
  },
  {
    kind: "Claude.ai's DCR registration (confidential: client_secret_post, https redirect on the stand-in)",
    clientName: 'Claude',
    redirectUri: () => (fixture('claude-ai.dcr').redirect_uris as string[])[0]!,
    metadata: () => fixture('claude-ai.dcr'),
    confidential: true,
  },
];

describe.each(KINDS)('$kind', (k) => {
  let provider: MemoryOAuthProvider;
  let redirect: string;
  let mcpUrl: string;

  beforeAll(() => {
    redirect = k.redirectUri();
    mcpUrl = stack.wikiMcpUrl(username);
    provider = new MemoryOAuthProvider(redirect, k.metadata(), k.documentUrl ? { clientMetadataUrl: k.documentUrl() } : {});
  });

  it('discovers the AS from the 401, gets consent in Chromium, exchanges the code, and calls /mcp through forward_auth', async () => {
    const first = connect(provider, mcpUrl);
    await expect(first.connecting).rejects.toBeInstanceOf(UnauthorizedError);
    const info = provider.clientInformation();
    if (k.documentUrl) {
      // No registration: the client_id is the document's URL, which the AS fetches itself.
      expect(info?.client_id).toBe(k.documentUrl());
    } else {
      expect(info?.client_id).toBeTruthy();
      expect(Boolean(info && 'client_secret' in info && info.client_secret)).toBe(k.confidential);
    }

    const authUrl = provider.authorizationUrl!;
    expect(authUrl.origin).toBe(stack.publicUrl);
    expect(authUrl.searchParams.get('resource')).toBe(mcpUrl);
    const back = await approveInChromium(authUrl, redirect, k.clientName);
    expect(back.origin + back.pathname).toBe(redirect);
    expect(back.searchParams.get('iss')).toBe(stack.publicUrl);
    expect(back.searchParams.get('state')).toBe(authUrl.searchParams.get('state'));
    await first.transport.finishAuth(back.searchParams.get('code')!);

    const seen = stack.upstreamRequests.length;
    const me = await whoami(provider, mcpUrl);
    expect(me).toEqual({ did: account.did, handle: account.handle, wiki: username, scopes: ['wiki:read', 'wiki:write'] });
    // It went through Caddy's forward_auth to the wiki's MCP upstream, which got the identity headers.
    const upstream = stack.upstreamRequests.slice(seen);
    expect(upstream.length).toBeGreaterThan(0);
    for (const r of upstream) {
      expect(r.headers['x-auth-did']).toBe(account.did);
      expect(r.headers['x-auth-wiki']).toBe(username);
      expect(r.headers['x-auth-client-id']).toBe(info!.client_id);
    }
    // A document client's metadata came from the stand-in, fetched by the product over https.
    if (k.documentUrl) expect(stack.claudeRequests).toContain(new URL(k.documentUrl()).pathname);
  });

  it('refreshes (rotating the refresh token) and keeps working', async () => {
    const before = provider.tokens();
    expect(before?.refresh_token).toBeTruthy();
    const result = await auth(provider, { serverUrl: mcpUrl, fetchFn: stack.fetch });
    expect(result).toBe('AUTHORIZED');
    const after = provider.tokens()!;
    expect(after.refresh_token).toBeTruthy();
    expect(after.refresh_token).not.toBe(before!.refresh_token);
    expect(after.access_token).not.toBe(before!.access_token);
    expect((await whoami(provider, mcpUrl)).did).toBe(account.did);
    // A client that lost the answer retries with the token it had: within the grace window it gets
    // the same successor back (made again from the presented token, refresh-successor.ts), not a second branch.
    provider.saveTokens(before!);
    expect(await auth(provider, { serverUrl: mcpUrl, fetchFn: stack.fetch })).toBe('AUTHORIZED');
    expect(provider.tokens()!.refresh_token).toBe(after.refresh_token);
    expect((await whoami(provider, mcpUrl)).did).toBe(account.did);
    lastAccessToken = provider.tokens()!.access_token;
  });
});

describe('no access without a token, in production too', () => {
  it("a bare /mcp call gets forward_auth's 401 with the wiki's resource metadata, and never reaches the upstream", async () => {
    const seen = stack.upstreamRequests.length;
    const res = await stack.fetch(stack.wikiMcpUrl(username), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(
      `resource_metadata="https://${username}.${new URL(stack.publicUrl).host}/.well-known/oauth-protected-resource/mcp"`,
    );
    // Only this request lacks a token: the earlier tests' MCP clients may still have an authorized
    // request in flight (the SDK's GET stream, aborted by close()) that reaches the upstream now.
    const bare = stack.upstreamRequests.slice(seen).filter((r) => r.headers.authorization === undefined);
    expect(bare).toEqual([]);
  });
});

describe('what strangers name stays out of reach: only OUTBOUND_PRIVATE_HOSTS is exempt', () => {
  it('a client_id document on a pinned name that is not on the list is refused with an error page, and never connected to', async () => {
    const before = stack.trap.connections();
    const clientId = `https://elsewhere.probe.internal:${stack.trap.port}/oauth/client.json`;
    const redirect = `https://elsewhere.probe.internal:${stack.trap.port}/callback`;
    await onPage(person, 'unlisted-document', async (page) => {
      const authorize = new URL(`${stack.publicUrl}/auth/oauth/authorize`);
      for (const [k, v] of Object.entries({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirect,
        code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
        code_challenge_method: 'S256',
        resource: stack.wikiMcpUrl(username),
        state: 'x',
      })) authorize.searchParams.set(k, v);
      const response = await page.goto(authorize.href);
      // An error page here, not a redirect to the unverified redirect_uri (RFC 9700 §4.11.2).
      expect(response?.status()).toBeGreaterThanOrEqual(400);
      expect(new URL(page.url()).origin).toBe(stack.publicUrl);
    });
    expect(stack.trap.connections()).toBe(before);
  });

  it('typing an https origin instead of a handle at sign-in does not make the product connect to it', async () => {
    const before = stack.trap.connections();
    const fresh = await chromium.newContext();
    try {
      await onPage(fresh, 'unlisted-origin-sign-in', async (page) => {
        await page.goto(`${stack.publicUrl}/auth/login`);
        await page.getByLabel('Handle').fill(`https://elsewhere.probe.internal:${stack.trap.port}`);
        const answer = page.waitForResponse((r) => r.url() === `${stack.publicUrl}/auth/login` && r.request().method() === 'POST');
        await page.getByRole('button', { name: 'Sign in with Bluesky' }).click();
        expect((await answer).status()).toBe(400);
        expect(stack.trap.connections()).toBe(before);
        // Still on our own pages, with a plain message; never sent to the named origin.
        await expect
          .poll(() => page.locator('main').innerText())
          .toContain(`We could not reach a sign-in server at https://elsewhere.probe.internal:${stack.trap.port}`);
        expect(new URL(page.url()).origin).toBe(stack.publicUrl);
      });
    } finally {
      await fresh.close();
    }
    expect(stack.trap.connections()).toBe(before);
  });
});

describe('a revocation made by another process, in production too', () => {
  it("the admin CLI's `grants revoke` is refused by forward_auth at once, though the service had just answered that token", async () => {
    expect(lastAccessToken).toBeTruthy();
    const call = () =>
      stack.fetch(stack.wikiMcpUrl(username), {
        method: 'POST',
        headers: { authorization: `Bearer ${lastAccessToken}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
      });
    // Answered (and remembered: src/storage/sqlite/bearer-lookups.ts) before the revocation.
    for (let i = 0; i < 3; i++) expect((await call()).status).toBe(200);
    const revoked = spawnSync(process.execPath, [CLI, 'grants', 'revoke', '--user', username], { env: { PATH: process.env.PATH ?? '', ...stack.env }, encoding: 'utf8' });
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^Revoked [1-9]\d* grants? of /);
    const refused = await call();
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toContain('invalid_token');
  });
});
