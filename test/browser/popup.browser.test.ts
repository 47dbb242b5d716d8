// Issue 10, item 7: Claude.ai opens authorization in a popup. A page on the client's origin calls
// window.open(authorize URL); the person (signed in) allows on our consent page; the popup lands on
// the client's callback page, which hands the result to its opener with window.opener.postMessage.
// That only works if no page on the way sends `Cross-Origin-Opener-Policy: same-origin` (helmet's
// default), which would sever the opener for good. The flow's pages send `unsafe-none`; every other
// page keeps `same-origin` (src/web/security-headers.ts). Real Chromium; the client registered by DCR
// with its callback on that other origin. (Not covered, because it is not ours: a person who is not
// signed in goes through their PDS, whose pages send `same-origin` too, and the opener is lost there.)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser as Chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cookieNames } from '../../src/accounts/cookies.ts';

/** These tests run the app in development mode (http), where the apex session cookie has no __Host- prefix. */
const SESSION_COOKIE = cookieNames({ production: false }).session;
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import type { TestApp } from '../support/app.ts';
import { launchChromium, RESULTS_DIR } from '../support/chromium.ts';
import { httpRequest } from '../support/pds.ts';
import { startConformanceApp } from '../conformance/support.ts';
import { seedPerson, type Person } from '../support/seed.ts';
import { authorizeParams, authorizeUrl, exchangeCode, newPkce, registerClient, type RegisteredClient } from '../support/oauth-flow.ts';

/** The MCP client's web origin: an opener page and the OAuth callback page that reports to it. */
const OPENER_HTML = `<!doctype html><title>client</title>
<button id="connect">Connect</button>
<script>
  window.received = [];
  window.addEventListener('message', (e) => window.received.push({ origin: e.origin, data: e.data }));
  document.getElementById('connect').addEventListener('click', () => { window.popup = window.open(window.authorizeUrl, 'oauth', 'popup,width=500,height=700'); });
</script>`;
const CALLBACK_HTML = `<!doctype html><title>callback</title>
<script>
  const q = new URLSearchParams(location.search);
  document.title = window.opener ? 'has-opener' : 'no-opener';
  if (window.opener) window.opener.postMessage({ code: q.get('code'), state: q.get('state'), iss: q.get('iss') }, location.origin);
</script>`;

let app: TestApp;
let chrome: Chromium;
let site: http.Server;
let origin: string;
let person: Person;
let client: RegisteredClient;

beforeAll(async () => {
  site = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const html = path === '/' ? OPENER_HTML : path === '/oauth/callback' ? CALLBACK_HTML : undefined;
    if (html === undefined) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  [app, chrome] = await Promise.all([startConformanceApp(), launchChromium()]);
  person = await seedPerson(app, 'popper');
  client = await registerClient(app, { client_name: 'Popup client', redirect_uris: [`${origin}/oauth/callback`], token_endpoint_auth_method: 'none' });
});

afterAll(async () => {
  await chrome?.close();
  site?.closeAllConnections();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
  await app?.close();
});

describe('the authorization flow in a popup opened by another origin', () => {
  it('ends on the client’s callback page, which reaches its opener with postMessage', async () => {
    const context = await chrome.newContext();
    const opener = await context.newPage();
    try {
      await context.addCookies([{ name: SESSION_COOKIE, value: person.browser.jar.get(SESSION_COOKIE) ?? '', url: app.url }]);
      const pkce = newPkce();
      const params = authorizeParams(client, person, pkce);
      await opener.goto(`${origin}/`);
      await opener.evaluate(`window.authorizeUrl = ${JSON.stringify(authorizeUrl(app, params))}`);

      const [popup] = await Promise.all([opener.waitForEvent('popup'), opener.click('#connect')]);
      await popup.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      await popup.getByRole('button', { name: 'Allow' }).click();
      await popup.waitForURL((url) => url.origin === origin && url.pathname === '/oauth/callback');
      await popup.waitForFunction(`document.title !== 'callback'`);
      expect(await popup.title()).toBe('has-opener');

      await opener.waitForFunction('window.received.length > 0', undefined, { timeout: 5000 });
      const received = (await opener.evaluate('window.received')) as { origin: string; data: { code: string; state: string; iss: string } }[];
      expect(received).toHaveLength(1);
      expect(received[0]?.origin).toBe(origin);
      expect(received[0]?.data.state).toBe(params.state);
      expect(received[0]?.data.iss).toBe(app.url);

      // And the code the opener got is a real one.
      const tokens = await exchangeCode(app, client, { code: received[0]!.data.code, state: String(params.state), pkce, redirectUri: client.redirectUri, redirect: new URL(popup.url()) });
      expect(tokens.access_token).toBeTruthy();
    } catch (err) {
      await opener.screenshot({ path: `${RESULTS_DIR}/popup-opener.png` }).catch(() => undefined);
      throw err;
    } finally {
      await context.close();
    }
  });
});

describe('Cross-Origin-Opener-Policy per page', () => {
  const coop = async (path: string, headers: Record<string, string> = {}): Promise<string | undefined> => {
    const res = await httpRequest(`${app.url}${path}`, { headers });
    const value = res.headers['cross-origin-opener-policy'];
    return Array.isArray(value) ? value.join(',') : value;
  };

  it('unsafe-none on every page of the flow (authorize, sign-in, callback, hand-off, sign-up, consent), whatever the outcome', async () => {
    const cookie = `${SESSION_COOKIE}=${person.browser.jar.get(SESSION_COOKIE) ?? ''}`;
    for (const path of [`${OAUTH_PATHS.authorize}?client_id=nobody`, '/auth/login', '/auth/callback?state=x&code=y', '/auth/handoff?ticket=nope', '/auth/signup', `${OAUTH_PATHS.consent}?request=nope`]) {
      expect(await coop(path), path).toBe('unsafe-none');
      expect(await coop(path, { cookie }), `${path} (signed in)`).toBe('unsafe-none');
    }
    // The wiki-host alias of /authorize (a redirect to the issuer's) too.
    const alias = await httpRequest(`http://127.0.0.1:${app.port}/authorize?client_id=x`, { headers: { host: `popper.localhost:${app.port}` } });
    expect(alias.status).toBe(302);
    expect(alias.headers['cross-origin-opener-policy']).toBe('unsafe-none');
  });

  it('same-origin everywhere else', async () => {
    for (const path of ['/', '/account', '/auth/oauth/consentx', '/healthz-nope', '/.well-known/oauth-authorization-server', '/auth/loginx']) {
      expect(await coop(path), path).toBe('same-origin');
    }
  });
});
