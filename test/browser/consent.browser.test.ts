// A Claude Code-like MCP client connecting a wiki, with a real (headless) Chromium playing the
// person: the client registers with a loopback redirect and waits on 127.0.0.1; the person opens
// the /authorize URL, signs in with Bluesky at the real local PDS, signs up, and allows on our
// consent page; the client receives code, state and iss, exchanges the code with PKCE and calls
// whoami. On failure a screenshot goes to test-results/.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { authorizeParams, authorizeUrl, newPkce, tokenRequest, type RegisteredClient } from '../support/oauth-flow.ts';
import { loopbackFetch } from '../support/loopback-fetch.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { launchChromium, signInWithBluesky, withFailureScreenshot } from '../support/chromium.ts';

const pdsUrl = inject('pdsUrl');

/** The client's loopback listener: records each callback's query, like Claude Code's local server. */
interface CallbackServer {
  port: number;
  /** Resolves with the query of the next request to /callback. */
  next(): Promise<URLSearchParams>;
  close(): Promise<void>;
}

async function startCallbackServer(): Promise<CallbackServer> {
  const received: URLSearchParams[] = [];
  const waiting: ((q: URLSearchParams) => void)[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/callback') {
      const waiter = waiting.shift();
      if (waiter) waiter(url.searchParams);
      else received.push(url.searchParams);
      res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>Authentication complete</h1><p>You can close this window.</p>');
      return;
    }
    // A page on another site that tries to frame the given URL (clickjacking).
    if (url.pathname === '/frame') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe id="victim" src="${(url.searchParams.get('src') ?? '').replace(/"/g, '&quot;')}" width="800" height="600"></iframe>`);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    next: () => {
      const ready = received.shift();
      return ready ? Promise.resolve(ready) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let app: TestApp;
let chrome: Browser;
let callback: CallbackServer;
let context: BrowserContext;
let account: PdsAccount;
let client: { clientId: string };

beforeAll(async () => {
  [app, chrome, callback, account] = await Promise.all([
    startTestApp(),
    launchChromium(),
    startCallbackServer(),
    createPdsAccount(pdsUrl, { handlePrefix: 'cc' }),
  ]);
  context = await chrome.newContext();
  // Claude Code registers a public client whose loopback port changes from run to run.
  const registered = await fetch(`${app.url}${OAUTH_PATHS.register}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Claude Code (wiki)',
      redirect_uris: ['http://localhost:54321/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      application_type: 'native',
    }),
  });
  expect(registered.status).toBe(201);
  client = { clientId: ((await registered.json()) as { client_id: string }).client_id };
});

afterAll(async () => {
  await context?.close();
  await chrome?.close();
  await callback?.close();
  await app?.close();
});

/** Runs `steps` on a page of the shared context; on failure saves a full-page screenshot named after the test. */
async function onPage(name: string, steps: (page: Page) => Promise<void>): Promise<void> {
  const page = await context.newPage();
  try {
    await withFailureScreenshot(page, name, steps);
  } finally {
    await page.close();
  }
}

interface Authorization {
  url: string;
  state: string;
  verifier: string;
  redirectUri: string;
}

/** What the client opens in the browser: PKCE S256, state, and (when it knows it) the wiki. */
function authorization(resource: string | undefined, clientId: string = client.clientId): Authorization {
  // Registered with port 54321; this run listens elsewhere, on 127.0.0.1 (RFC 8252 §7.3).
  const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
  const pkce = newPkce();
  const as: RegisteredClient = { clientId, clientSecret: undefined, redirectUri, authMethod: 'none' };
  const params = authorizeParams(as, { mcpUrl: resource ?? '' }, pkce, { state: crypto.randomBytes(16).toString('base64url'), resource });
  return { url: authorizeUrl(app, params), state: String(params.state), verifier: pkce.verifier, redirectUri };
}

/** The client's side after the callback: code → tokens (PKCE), then whoami on the wiki's MCP endpoint. */
async function exchangeAndCallWhoami(auth: Authorization, query: URLSearchParams, clientId: string = client.clientId) {
  const tokenRes = await tokenRequest(app, { clientId, clientSecret: undefined, redirectUri: auth.redirectUri, authMethod: 'none' }, {
    grant_type: 'authorization_code',
    code: query.get('code') ?? '',
    code_verifier: auth.verifier,
    redirect_uri: auth.redirectUri,
  });
  const tokens = tokenRes.body as { access_token: string; refresh_token: string; token_type: string };
  expect(tokenRes.status, tokenRes.raw).toBe(200);
  expect(tokens.token_type).toBe('Bearer');
  expect(tokens.refresh_token).toBeTruthy();
  const { aud } = JSON.parse(Buffer.from(tokens.access_token.split('.')[1]!, 'base64url').toString()) as { aud: string };

  const mcp = await loopbackFetch(app.port)(aud, {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-11-25',
      authorization: `Bearer ${tokens.access_token}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
  expect(mcp.status).toBe(200);
  const body = (await mcp.json()) as { result: { structuredContent: { did: string; handle: string; wiki: string; scopes: string[] } } };
  return { aud, me: body.result.structuredContent };
}

// One person's journey: the later tests continue in the browser the first one signed in.
describe('a Claude Code-like client connects a wiki through a real browser', () => {
  it('first time: /authorize → Bluesky sign-in at the PDS → signup → consent → Allow → the loopback gets code, state and iss → tokens → whoami', async () => {
    const pdsOrigin = new URL(pdsUrl).origin;
    // A first-time user has no wiki yet, so the client cannot name one (Claude Code 2.1.25x+ may omit resource anyway).
    const auth = authorization(undefined);
    await onPage('consent-first-time', async (page) => {
      await page.goto(auth.url);

      // Not signed in: our login page, which will come back to this request.
      await page.waitForURL((url) => url.pathname === '/auth/login');
      await signInWithBluesky(page, account, pdsOrigin);

      // First time here: create the account (its first wiki comes with it).
      await page.waitForURL(`${app.url}/auth/signup`);
      await page.getByRole('button', { name: 'Create my account' }).click();

      // Our consent page, for the very request the client started.
      await page.waitForURL((url) => url.origin === app.url && url.pathname === OAUTH_PATHS.consent);
      const main = page.locator('main');
      await expect.poll(() => main.textContent()).toContain('Claude Code (wiki)');
      const text = (await main.textContent()) ?? '';
      expect(text).toMatch(/unverified/i);
      expect(text).toContain(`127.0.0.1:${callback.port}`);
      // Every redirect URI it registered is loopback: the person is told, in plain words.
      await expect.poll(() => page.locator('.loopback-warning').isVisible()).toBe(true);
      expect(text).toContain('This app will receive the authorization on this computer (localhost)');
      expect(text).toContain('Read the pages of your wiki');
      const username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
      await expect.poll(() => page.getByRole('radio', { name: new RegExp(username) }).isChecked()).toBe(true);

      const received = callback.next();
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(auth.redirectUri));
      const query = await received;
      expect(query.get('code')).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(query.get('state')).toBe(auth.state);
      expect(query.get('iss')).toBe(app.url);
      expect(query.has('error')).toBe(false);

      const { aud, me } = await exchangeAndCallWhoami(auth, query);
      expect(aud).toBe(`http://${username}.localhost:${app.port}/mcp`);
      expect(me).toEqual({ did: account.did, handle: account.handle, wiki: username, scopes: ['wiki:read', 'wiki:write'] });
    });
  });

  it('signed in already, with resource: straight to consent, Allow, and the token is for that wiki', async () => {
    const username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
    const mcpUrl = `http://${username}.localhost:${app.port}/mcp`;
    const auth = authorization(mcpUrl);
    await onPage('consent-returning', async (page) => {
      await page.goto(auth.url);
      await page.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      expect(await page.locator('main').textContent()).toContain(mcpUrl);
      const received = callback.next();
      await page.getByRole('button', { name: 'Allow' }).click();
      const query = await received;
      expect(query.get('state')).toBe(auth.state);
      expect(query.get('iss')).toBe(app.url);
      const { aud, me } = await exchangeAndCallWhoami(auth, query);
      expect(aud).toBe(mcpUrl);
      expect(me.did).toBe(account.did);
    });
  });

  it('Deny: the loopback gets access_denied with state and iss, and no code', async () => {
    const username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
    const auth = authorization(`http://${username}.localhost:${app.port}/mcp`);
    await onPage('consent-deny', async (page) => {
      await page.goto(auth.url);
      await page.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      const received = callback.next();
      await page.getByRole('button', { name: 'Deny' }).click();
      const query = await received;
      expect(query.get('error')).toBe('access_denied');
      expect(query.get('state')).toBe(auth.state);
      expect(query.get('iss')).toBe(app.url);
      expect(query.has('code')).toBe(false);
    });
  });

  it("a metadata-document client (Claude Code's document): its own name, the host that published it, unverified, the loopback warning", async () => {
    const clientId = 'https://claude.ai/oauth/claude-code-client-metadata';
    const now = Math.floor(Date.now() / 1000);
    // As if just fetched from claude.ai (the cached copy the resolver serves while fresh).
    (await app.ctx.store.repos.clients.upsertDocument(
      clientId,
      {
        client_name: 'Claude Code',
        redirect_uris: ['http://localhost/callback', 'http://127.0.0.1/callback'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
      now,
      now + 3600,
    ));
    const username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
    const auth = authorization(`http://${username}.localhost:${app.port}/mcp`, clientId);
    await onPage('consent-metadata-document', async (page) => {
      await page.goto(auth.url);
      await page.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      const who = page.locator('.who-asks');
      expect(await who.locator('.client-name').textContent()).toBe('Claude Code');
      expect((await who.locator('.client-host').textContent())?.replace(/\s+/g, ' ').trim()).toBe('from claude.ai');
      expect(await who.locator('.badge').textContent()).toBe('unverified');
      expect(await page.locator('.loopback-warning').isVisible()).toBe(true);
      const received = callback.next();
      await page.getByRole('button', { name: 'Allow' }).click();
      const query = await received;
      const { aud } = await exchangeAndCallWhoami(auth, query, clientId);
      expect(aud).toBe(`http://${username}.localhost:${app.port}/mcp`);
    });
  });

  it('several wikis and no resource: nothing preselected, Allow without a choice stays on the page, the chosen wiki is the audience', async () => {
    const username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
    const second = `${username}-two`;
    app.ctx.sqlite!.db.prepare('INSERT INTO wikis (slug, owner_did, created_at) VALUES (?, ?, ?)').run(second, account.did, Math.floor(Date.now() / 1000));
    const auth = authorization(undefined);
    await onPage('consent-choose-wiki', async (page) => {
      await page.goto(auth.url);
      await page.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      const radios = page.getByRole('radio');
      expect(await radios.count()).toBe(2);
      for (const radio of await radios.all()) expect(await radio.isChecked()).toBe(false);
      // The browser refuses the submit: still the consent page, and the choice is flagged as missing.
      await page.getByRole('button', { name: 'Allow' }).click();
      expect(new URL(page.url()).pathname).toBe(OAUTH_PATHS.consent);
      expect(await page.locator('input[name="wiki"]:invalid').count()).toBe(2);
      await page.getByRole('radio', { name: new RegExp(second) }).check();
      const received = callback.next();
      await page.getByRole('button', { name: 'Allow' }).click();
      const query = await received;
      const { aud, me } = await exchangeAndCallWhoami(auth, query);
      expect(aud).toBe(`http://${second}.localhost:${app.port}/mcp`);
      expect(me.wiki).toBe(second);
    });
  });

  it('another site cannot frame the consent page (clickjacking)', async () => {
    // A pending request, as an attacker would start it; the frame would show its consent page (or sign-in).
    const start = await fetch(authorization(undefined).url, { redirect: 'manual' });
    expect(start.status).toBe(303);
    const consentUrl = new URL(start.headers.get('location') ?? '', app.url).href;
    await onPage('consent-framed', async (page) => {
      const blocked = page.waitForEvent('framenavigated', {
        predicate: (f) => f !== page.mainFrame() && f.url().startsWith('chrome-error:'),
        timeout: 5000,
      });
      await page.goto(`http://127.0.0.1:${callback.port}/frame?src=${encodeURIComponent(consentUrl)}`);
      // Chromium replaces the framed response with its error page (frame-ancestors 'none' / X-Frame-Options DENY).
      await blocked;
      const frame = page.frameLocator('#victim');
      expect(await frame.getByRole('button', { name: 'Allow' }).count()).toBe(0);
      expect(await frame.getByRole('button', { name: 'Sign in with Bluesky' }).count()).toBe(0);
    });
  });
});

