// The sign-in journey in a real (headless) Chromium: our pages, the PDS's sign-in and consent pages,
// the 127.0.0.1 callback, the hand-off to localhost, signup and the account page. On failure a
// screenshot goes to test-results/.
import path from 'node:path';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deriveUsername } from '../../src/accounts/username.ts';
import { startTestApp, type TestApp } from '../support/app.ts';
import { createPdsAccount } from '../support/pds.ts';
import { launchChromium, RESULTS_DIR, signInWithBluesky, withFailureScreenshot } from '../support/chromium.ts';

// Used only inside page.evaluate callbacks, which run in the page (tsconfig has no DOM lib).
declare const document: { documentElement: { scrollWidth: number } };
declare function getComputedStyle(el: unknown): { maxWidth: string; fontSize: string; borderTopColor: string; backgroundColor: string };

const pdsUrl = inject('pdsUrl');

let app: TestApp;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([
    startTestApp(),
    launchChromium(),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** Runs `steps` on a fresh page; on failure saves a full-page screenshot named after the test. */
async function onPage(name: string, viewport: { width: number; height: number } | null, steps: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  try {
    await withFailureScreenshot(page, name, steps);
  } finally {
    await context.close();
  }
}

/** WCAG 2 contrast ratio of two `rgb(r, g, b)` colours. */
function contrastRatio(a: string, b: string): number {
  const luminance = (css: string) => {
    const [r, g, bl] = (css.match(/\d+(\.\d+)?/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe('sign-in in a real browser', () => {
  it('a first-time user signs in at the PDS, creates an account and sees their DID', async () => {
    const account = await createPdsAccount(pdsUrl, { handlePrefix: 'web' });
    const pdsOrigin = new URL(pdsUrl).origin;

    await onPage('first-sign-in', null, async (page) => {
      await page.goto(`${app.url}/auth/login`);
      await signInWithBluesky(page, account, pdsOrigin);

      // Back through 127.0.0.1/auth/callback and the hand-off, to signup on PUBLIC_URL.
      await page.waitForURL(`${app.url}/auth/signup`);
      expect(await page.getByLabel('Username').inputValue()).toBe(deriveUsername(account.handle));
      await page.getByRole('button', { name: 'Create my account' }).click();

      await page.waitForURL(`${app.url}/account`);
      expect(await page.locator('code.did').textContent()).toBe(account.did);
      expect(await page.locator('main').textContent()).toContain(`@${account.handle}`);
      // The stylesheet is allowed by the CSP and applied.
      expect(await page.locator('main').evaluate((el) => getComputedStyle(el).maxWidth)).not.toBe('none');

      const cookies = await page.context().cookies(app.url);
      const session = cookies.find((c) => c.name === 'session');
      expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', domain: 'localhost' });
    });
  });

  it('the login page is usable on a phone (390×844): no sideways scrolling, readable input with a visible border', async () => {
    await onPage('login-phone', { width: 390, height: 844 }, async (page) => {
      await page.goto(`${app.url}/auth/login`);
      await page.screenshot({ path: path.join(RESULTS_DIR, 'login-phone.png'), fullPage: true });

      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      for (const locator of [page.getByLabel('Handle'), page.getByRole('button', { name: 'Sign in with Bluesky' })]) {
        const box = await locator.boundingBox();
        expect(box).not.toBeNull();
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(390);
        // Big enough to hit with a thumb.
        expect(box!.height).toBeGreaterThanOrEqual(40);
      }
      // Mobile browsers zoom into inputs whose text is smaller than 16px.
      const fontSize = await page.getByLabel('Handle').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      expect(fontSize).toBeGreaterThanOrEqual(16);
      // WCAG 1.4.11: the field's outline must stand out from the page (3:1), or it vanishes in daylight.
      const border = await page.getByLabel('Handle').evaluate((el) => getComputedStyle(el).borderTopColor);
      const background = await page.locator('body').evaluate((el) => getComputedStyle(el).backgroundColor);
      expect(contrastRatio(border, background)).toBeGreaterThanOrEqual(3);
    });
  });
});
