// Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
// here). The flags keep it off the network, which is closed on these machines.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const RESULTS_DIR = path.resolve('test-results');

export function launchChromium(): Promise<Browser> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}

/**
 * From our login page, as a person does: type the handle, go to the PDS, enter the password and
 * approve there. Ends when the PDS has sent the browser back towards the app.
 */
export async function signInWithBluesky(page: Page, account: { handle: string; password: string }, pdsOrigin: string): Promise<void> {
  await page.getByLabel('Handle').fill(account.handle);
  await page.getByRole('button', { name: 'Sign in with Bluesky' }).click();
  // The PDS's own pages: password, then its consent.
  await page.waitForURL((url) => url.origin === pdsOrigin);
  await page.locator('input[name="password"]').fill(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Authorize' }).click();
}
