// Issue 10, item 8: browser-based MCP clients (MCP Inspector in direct mode) call /token, /register
// and /revoke from their own origin. The answer: `Access-Control-Allow-Origin: *`, never
// Allow-Credentials, preflights answered; and these endpoints never read a cookie, so a signed-in
// person's session sent along changes nothing (src/resource/cors.ts). Checked in Chromium from a page
// on another origin, in-process on the issuer, and through the shipped Caddyfile on a wiki host's
// /token and /register fallbacks.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames } from '../../src/accounts/cookies.ts';

/** These tests run the app in development mode (http), where the apex session cookie has no __Host- prefix. */
const SESSION_COOKIE = cookieNames({ production: false }).session;
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import type { TestApp } from '../support/app.ts';
import { launchChromium } from '../support/chromium.ts';
import { httpRequest, type HttpResponse } from '../support/pds.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { registerClaudeCode, type RegisteredClient } from '../support/oauth-flow.ts';
import { send, startStack, type Stack } from '../deploy/support.ts';

const ORIGIN = 'https://inspector.example';
const ENDPOINTS = [OAUTH_PATHS.token, OAUTH_PATHS.register, OAUTH_PATHS.revoke];

function preflight(app: TestApp, path: string, requestHeaders = 'content-type'): Promise<HttpResponse> {
  return httpRequest(`${app.url}${path}`, {
    method: 'OPTIONS',
    headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': requestHeaders },
  });
}

function expectOpenCors(res: HttpResponse, what: string): void {
  expect(res.headers['access-control-allow-origin'], what).toBe('*');
  expect(res.headers['access-control-allow-credentials'], what).toBeUndefined();
  expect(res.headers['set-cookie'], what).toBeUndefined();
}

describe('CORS on the issuer’s /token, /register and /revoke', () => {
  let app: TestApp;
  let person: Person;
  let client: RegisteredClient;
  beforeAll(async () => {
    app = await startConformanceApp();
    person = await seedPerson(app, 'corsperson');
    client = await registerClaudeCode(app);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers the preflight of each: 204, any origin, POST, the headers a client sends, no credentials', async () => {
    for (const path of ENDPOINTS) {
      const res = await preflight(app, path, 'authorization, content-type, mcp-protocol-version');
      expect(res.status, path).toBe(204);
      expectOpenCors(res, path);
      expect(res.headers['access-control-allow-methods'], path).toContain('POST');
      for (const h of ['Authorization', 'Content-Type', 'Mcp-Protocol-Version']) expect(res.headers['access-control-allow-headers'], path).toContain(h);
    }
  });

  it('every answer (errors included) is readable by any origin, and WWW-Authenticate is exposed', async () => {
    const token = await httpRequest(`${app.url}${OAUTH_PATHS.token}`, {
      method: 'POST',
      headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic bm9ib2R5Om5vcGU=' },
      body: 'grant_type=authorization_code&code=nope',
    });
    expect(token.status).toBe(401);
    expectOpenCors(token, 'token');
    expect(token.headers['access-control-expose-headers']).toContain('WWW-Authenticate');
  });

  it('a signed-in person’s session cookie sent along changes nothing', async () => {
    const cookie = `${SESSION_COOKIE}=${person.browser.jar.get(SESSION_COOKIE) ?? ''}`;
    expect(cookie.length).toBeGreaterThan(SESSION_COOKIE.length + 10);
    const form = { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN };
    const requests: [string, { method: string; headers: Record<string, string>; body?: string; json?: unknown }][] = [
      [OAUTH_PATHS.token, { method: 'POST', headers: form, body: `grant_type=authorization_code&code=nope&client_id=${client.clientId}&code_verifier=${'a'.repeat(43)}&redirect_uri=${encodeURIComponent(client.redirectUri)}` }],
      [OAUTH_PATHS.token, { method: 'POST', headers: form, body: `grant_type=refresh_token&refresh_token=nope&client_id=${client.clientId}` }],
      [OAUTH_PATHS.revoke, { method: 'POST', headers: form, body: `token=nope&client_id=${client.clientId}` }],
      [OAUTH_PATHS.register, { method: 'POST', headers: { origin: ORIGIN }, json: { client_name: 'Inspector', redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' } }],
    ];
    const sessionsBefore = await app.sql().count('sessions');
    for (const [path, req] of requests) {
      const without = await httpRequest(`${app.url}${path}`, req);
      const withCookie = await httpRequest(`${app.url}${path}`, { ...req, headers: { ...req.headers, cookie } });
      expect(withCookie.status, path).toBe(without.status);
      expectOpenCors(withCookie, path);
      const comparable = (r: HttpResponse): unknown => {
        if (!r.body) return r.body;
        const { client_id: _id, client_id_issued_at: _at, client_secret: _secret, ...rest } = JSON.parse(r.body) as Record<string, unknown>;
        return rest;
      };
      expect(comparable(withCookie), path).toEqual(comparable(without));
    }
    // A client registered with a session cookie belongs to nobody, like any other.
    expect(await app.sql().count('sessions')).toBe(sessionsBefore);
  });
});

describe('from a page on another origin, in Chromium (as MCP Inspector in direct mode)', () => {
  let app: TestApp;
  let chrome: Chromium;
  let page: http.Server;
  let pageOrigin: string;
  beforeAll(async () => {
    [app, chrome] = await Promise.all([startConformanceApp(), launchChromium()]);
    page = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>inspector</title>'));
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await chrome?.close();
    page?.closeAllConnections();
    await new Promise<void>((resolve) => (page ? page.close(() => resolve()) : resolve()));
    await app?.close();
  });

  it('registers, asks for a token and revokes with fetch(); credentials mode is refused by the browser', async () => {
    const context = await chrome.newContext();
    try {
      const tab = await context.newPage();
      await tab.goto(`${pageOrigin}/`);
      const result = await tab.evaluate(
        async ({ issuer, paths }) => {
          const register = await fetch(`${issuer}${paths.register}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'mcp-protocol-version': '2025-11-25' },
            body: JSON.stringify({ client_name: 'Inspector', redirect_uris: ['http://localhost:6274/oauth/callback'], token_endpoint_auth_method: 'none' }),
          });
          const registered = (await register.json()) as { client_id: string };
          const form = (o: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(o).toString() });
          const token = await fetch(`${issuer}${paths.token}`, form({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: registered.client_id }));
          const tokenBody = (await token.json()) as { error: string };
          const revoke = await fetch(`${issuer}${paths.revoke}`, form({ token: 'nope', client_id: registered.client_id }));
          let credentialed = 'allowed';
          try {
            await fetch(`${issuer}${paths.token}`, { ...form({ grant_type: 'refresh_token', refresh_token: 'nope', client_id: registered.client_id }), credentials: 'include' });
          } catch {
            credentialed = 'blocked';
          }
          return { register: register.status, clientId: registered.client_id, token: token.status, tokenError: tokenBody.error, revoke: revoke.status, credentialed };
        },
        { issuer: app.url, paths: OAUTH_PATHS },
      );
      expect(result).toMatchObject({ register: 201, token: 400, tokenError: 'invalid_grant', revoke: 200, credentialed: 'blocked' });
      expect(result.clientId).toBeTruthy();
    } finally {
      await context.close();
    }
  });
});

describe('through Caddy, on a wiki host’s /token and /register fallbacks', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({});
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers the preflight and the POST with Access-Control-Allow-Origin: *', async () => {
    for (const path of ['/token', '/register']) {
      const pre = await send(s.caddy.port, {
        host: s.alice,
        path,
        method: 'OPTIONS',
        headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
      });
      expect(pre.status, path).toBe(204);
      expect(pre.headers['access-control-allow-origin'], path).toBe('*');
      expect(pre.headers['access-control-allow-credentials'], path).toBeUndefined();
      expect(pre.headers['access-control-allow-methods'], path).toContain('POST');
    }
    const token = await send(s.caddy.port, { host: s.alice, path: '/token', method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=refresh_token&refresh_token=x&client_id=nobody' });
    expect(token.status).toBeGreaterThanOrEqual(400);
    expect(token.headers['access-control-allow-origin']).toBe('*');
    const register = await send(s.caddy.port, { host: s.alice, path: '/register', method: 'POST', headers: { Origin: ORIGIN, 'Content-Type': 'application/json' }, body: '{}' });
    expect(register.status).toBe(400);
    expect(register.headers['access-control-allow-origin']).toBe('*');
  });
});
