// Issue 13 item 3: the account page shows the person their own recent security events. A real
// Chromium signs up with Bluesky at the local PDS, allows an app on the consent page, then signs in
// again in a fresh browser; the "Recent activity" section lists the sign-in and the consent.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OAUTH_PATHS } from '../../src/oauth/paths.ts';
import { launchChromium, signInWithBluesky, withFailureScreenshot, type LaunchedChromium } from '../support/chromium.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { authorizeParams, authorizeUrl, newPkce, registerClient } from '../support/oauth-flow.ts';

const pdsUrl = inject('pdsUrl');
const REDIRECT = 'https://client.example/cb';

let app: TestApp;
let chrome: LaunchedChromium;
let account: PdsAccount;

beforeAll(async () => {
  [app, chrome, account] = await Promise.all([startTestApp(), launchChromium(), createPdsAccount(pdsUrl, { handlePrefix: 'activ' })]);
});
afterAll(async () => {
  await chrome?.closeAll();
  await app?.close();
});

async function onPage(context: BrowserContext, name: string, steps: (page: Page) => Promise<void>): Promise<void> {
  const page = await context.newPage();
  // The client's redirect URI answers in the browser without leaving the machine.
  await page.route(`${REDIRECT}**`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<h1>App connected</h1>' }));
  try {
    await withFailureScreenshot(page, name, steps);
  } finally {
    await page.close();
  }
}

describe('Recent activity on the account page', () => {
  it('shows the sign-in and the consent, newest first, with the app and the wiki', async () => {
    const pdsOrigin = new URL(pdsUrl).origin;
    const client = await registerClient(app, { client_name: 'Activity test app', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' });
    const first = await chrome.newContext();
    let username = '';
    await onPage(first, 'activity-signup-consent', async (page) => {
      await page.goto(`${app.url}/auth/login`);
      await signInWithBluesky(page, account, pdsOrigin);
      await page.waitForURL(`${app.url}/auth/signup`);
      await page.getByRole('button', { name: 'Create my account' }).click();
      await page.waitForURL(`${app.url}/account`);
      username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
      const params = authorizeParams(client, { mcpUrl: `http://${username}.localhost:${app.port}/mcp` }, newPkce(), { state: 'activity' });
      await page.goto(authorizeUrl(app, params));
      await page.waitForURL((url) => url.pathname === OAUTH_PATHS.consent);
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL((url) => url.href.startsWith(REDIRECT));
    });
    await first.close();

    // Another day, another browser: sign in again.
    const second = await chrome.newContext();
    await onPage(second, 'activity-account', async (page) => {
      await page.goto(`${app.url}/auth/login`);
      await signInWithBluesky(page, account, pdsOrigin);
      await page.waitForURL(`${app.url}/account`);
      const section = page.getByRole('region', { name: 'Recent activity' });
      await expect.poll(() => section.isVisible()).toBe(true);
      const items = await section.getByRole('listitem').allInnerTexts();
      expect(items).toHaveLength(3);
      expect(items[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC · Signed in · from (127\.0\.0\.1|::1)$/);
      expect(items[1]).toContain('Allowed an app');
      expect(items[1]).toContain(client.clientId);
      expect(items[1]).toContain(`wiki ${username}`);
      expect(items[2]).toContain('Created the account');
    });
    await second.close();
  }, 90_000);
});
