// Issue 14 item 5 — every page of the service in a real (headless) Chromium: home, sign-in, signup,
// consent, account, and the error pages, each at 1280 px and 390 px wide. For each: a full-page
// screenshot kept in test-artifacts/pages/ (gitignored), no sideways scrolling on a phone, and
// axe-core (WCAG 2.1 A/AA + best practices) with no serious or critical violation. axe is injected
// in a separate context with bypassCSP (the pages' CSP rightly refuses injected scripts); the
// pages themselves are loaded under their real CSP, and no CSP violation may be reported there.
// Then the account page's copy buttons (the one script the CSP allows) and its forms with
// JavaScript off. The account page screenshot at 1280 px is the README's docs/account-page.png.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPdsAccount, type PdsAccount } from '../support/pds.ts';
import { launchChromium, signInWithBluesky } from '../support/chromium.ts';
import { authorizeParams, authorizeUrl, newPkce, registerClaudeCode } from '../support/oauth-flow.ts';
import { wikiMcpUrl } from '../../src/wikis/urls.ts';

// Used only inside page.evaluate callbacks, which run in the page (tsconfig has no DOM lib).
declare const document: { documentElement: { scrollWidth: number } };
declare const navigator: { clipboard: { readText(): Promise<string> } };
declare function getComputedStyle(el: unknown): { userSelect: string };
interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: unknown[] }[] }
declare const axe: { run(options: unknown): Promise<{ violations: AxeViolation[] }> };

const ARTIFACTS = path.resolve('test-artifacts', 'pages');
const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const WIDTHS = [1280, 390] as const;
const pdsUrl = inject('pdsUrl');

let app: TestApp;
let browser: Browser;
let account: PdsAccount;
/** The signed-in browser state (cookies) after signup, reused by the checks of signed-in pages. */
let signedIn: Awaited<ReturnType<BrowserContext['storageState']>>;
let signupState: Awaited<ReturnType<BrowserContext['storageState']>>;
let username: string;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  let newcomer: PdsAccount;
  [app, browser, account, newcomer] = await Promise.all([
    startTestApp(),
    launchChromium(),
    createPdsAccount(pdsUrl, { handlePrefix: 'pages' }),
    createPdsAccount(pdsUrl, { handlePrefix: 'pagesb' }),
  ]);
  // A first-time person signs in at the PDS and stops at signup (kept for the signup page's checks);
  // another one goes on and creates the account.
  const atSignup = await browser.newContext();
  const signupPage = await atSignup.newPage();
  await signupPage.goto(`${app.url}/auth/login`);
  await signInWithBluesky(signupPage, newcomer, new URL(pdsUrl).origin);
  await signupPage.waitForURL(`${app.url}/auth/signup`);
  signupState = await atSignup.storageState();
  await atSignup.close();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${app.url}/auth/login`);
  await signInWithBluesky(page, account, new URL(pdsUrl).origin);
  await page.waitForURL(`${app.url}/auth/signup`);
  await page.getByRole('button', { name: 'Create my account' }).click();
  await page.waitForURL(`${app.url}/account`);
  signedIn = await context.storageState();
  await context.close();
  username = (await app.ctx.store.repos.users.findByDid(account.did))!.username;
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

type State = typeof signedIn | undefined;

/** Opens `url` at `width` under the page's real CSP; returns the page, its context, and the CSP reports. */
async function open(url: string, width: number, state: State, options: { javaScriptEnabled?: boolean; bypassCSP?: boolean } = {}) {
  const context = await browser.newContext({ viewport: { width, height: 900 }, ...(state ? { storageState: state } : {}), ...options });
  const page = await context.newPage();
  const cspReports: string[] = [];
  page.on('console', (msg) => {
    if (msg.text().includes('Content Security Policy')) cspReports.push(msg.text());
  });
  const response = await page.goto(url);
  return { context, page, cspReports, status: response?.status() };
}

async function axeViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ path: AXE_SOURCE });
  const result = await page.evaluate(() => axe.run({ runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

/** The screenshot, the layout and the CSP under the real page; axe in a bypassCSP twin. */
async function checkPage(name: string, url: string, state: State, expectedStatus: number, mustContain: string): Promise<void> {
  for (const width of WIDTHS) {
    const { context, page, cspReports, status } = await open(url, width, state);
    try {
      expect(status, `${name} at ${width}px`).toBe(expectedStatus);
      expect(await page.locator('main').innerText()).toContain(mustContain);
      await page.screenshot({ path: path.join(ARTIFACTS, `${name}-${width}.png`), fullPage: true });
      expect(await page.evaluate(() => document.documentElement.scrollWidth), `${name} scrolls sideways at ${width}px`).toBeLessThanOrEqual(width);
      expect(cspReports, `${name}: CSP violations`).toEqual([]);
    } finally {
      await context.close();
    }
    const twin = await open(url, width, state, { bypassCSP: true });
    try {
      expect(await axeViolations(twin.page), `${name} at ${width}px: axe`).toEqual([]);
    } finally {
      await twin.context.close();
    }
  }
}

describe('the axe check itself', () => {
  it('reports a form field without a label and unreadable text (so a pass above means something)', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.setContent('<html lang="en"><title>x</title><main><input type="text"><p style="color:#ddd;background:#fff">faint</p></main></html>');
    const found = await axeViolations(page);
    await context.close();
    expect(found.join('\n')).toMatch(/critical label/);
    expect(found.join('\n')).toMatch(/serious color-contrast/);
  });
});

describe('every page at 1280 and 390 px: screenshot, no sideways scroll, axe without serious or critical violations', () => {
  it('home', async () => checkPage('home', `${app.url}/`, undefined, 200, 'Sign in with Bluesky'));
  it('home after deleting an account', async () => checkPage('home-deleted', `${app.url}/?deleted=1`, undefined, 200, 'Your account was deleted'));
  it('sign-in', async () => checkPage('sign-in', `${app.url}/auth/login`, undefined, 200, 'Handle'));
  it('signup', async () => checkPage('signup', `${app.url}/auth/signup`, signupState, 200, 'username'));
  it('account', async () => checkPage('account', `${app.url}/account`, signedIn, 200, 'Your wikis'));
  it('consent', async () => {
    const client = await registerClaudeCode(app);
    const url = authorizeUrl(app, authorizeParams(client, { mcpUrl: wikiMcpUrl(app.config, username) }, newPkce()));
    await checkPage('consent', url, signedIn, 200, 'Claude Code');
  });
  it('error: not found', async () => checkPage('error-404', `${app.url}/no-such-page`, undefined, 404, ''));
  it('error: signup expired', async () => checkPage('error-signup', `${app.url}/auth/signup`, undefined, 400, 'sign in again'));
  it('error: authorize with an unknown client', async () =>
    checkPage('error-authorize', `${app.url}/auth/oauth/authorize?client_id=unknown&response_type=code`, signedIn, 400, ''));
});

describe('the account page in Chromium', () => {
  it('copy buttons work under the CSP: the Claude Code command lands on the clipboard', async () => {
    const { context, page, cspReports } = await open(`${app.url}/account`, 1280, signedIn);
    try {
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });
      const section = page.locator(`section[aria-labelledby="wiki-${username}"]`);
      await section.getByText('Claude Code', { exact: true }).click();
      const copy = section.getByRole('button', { name: `Copy the Claude Code command for ${username}` });
      await expect.poll(() => copy.isVisible()).toBe(true);
      await copy.click();
      await expect.poll(() => copy.innerText()).toBe('Copied');
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`claude mcp add --transport http ${username} ${wikiMcpUrl(app.config, username)}`);
      expect(cspReports).toEqual([]);
      // The README's picture (docs/account-page.png): with an app connected (a grant recorded
      // directly here, for the picture only; the connect flow itself is test/account/account.e2e.test.ts).
      const client = await registerClaudeCode(app);
      await app.ctx.store.repos.grants.insert({
        id: `screenshot-${Date.now()}`,
        clientId: client.clientId,
        userDid: account.did,
        wikiSlug: username,
        resource: wikiMcpUrl(app.config, username),
        scope: 'wiki:read wiki:write',
        expiresAt: Math.floor(Date.now() / 1000) + 3600,
      });
      await page.reload();
      await page.locator(`section[aria-labelledby="wiki-${username}"]`).getByText('Claude Code', { exact: true }).click();
      expect(await page.locator('main').innerText()).toContain('Claude Code (wiki), connected just now');
      // Kept with the other artifacts; UPDATE_README_SCREENSHOT=1 npx vitest run test/browser/pages.browser.test.ts
      // refreshes the README's copy (a test run never rewrites a tracked file by itself).
      const picture = process.env.UPDATE_README_SCREENSHOT === '1' ? path.resolve('docs', 'account-page.png') : path.join(ARTIFACTS, 'account-page-readme.png');
      await page.screenshot({ path: picture, fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('works with JavaScript off: no dead copy buttons, the text is selectable, and a wiki is created and deleted through the forms', async () => {
    const { context, page } = await open(`${app.url}/account`, 390, signedIn, { javaScriptEnabled: false });
    try {
      expect(await page.getByRole('button', { name: /^Copy/ }).count()).toBe(0);
      expect(await page.locator(`#mcp-${username}`).innerText()).toBe(wikiMcpUrl(app.config, username));
      expect(await page.locator(`#mcp-${username}`).evaluate((el) => getComputedStyle(el).userSelect)).not.toBe('none');

      const slug = `${username}-nojs`;
      await page.getByLabel('Wiki name').fill(slug);
      await page.getByRole('button', { name: 'Create wiki' }).click();
      await page.waitForURL(`${app.url}/account?done=wiki-created`);
      expect(await page.getByRole('status').innerText()).toContain('Your new wiki is ready');
      expect((await app.ctx.store.repos.wikis.findBySlug(slug))?.ownerDid).toBe(account.did);

      const section = page.locator(`section[aria-labelledby="wiki-${slug}"]`);
      await section.getByText('Delete this wiki').click();
      await section.getByLabel(`Type ${slug} to confirm`).fill(slug);
      await section.getByRole('button', { name: `Delete ${slug}` }).click();
      await page.waitForURL(`${app.url}/account?done=wiki-deleted`);
      expect(await app.ctx.store.repos.wikis.findBySlug(slug)).toBeUndefined();
    } finally {
      await context.close();
    }
  });
});
