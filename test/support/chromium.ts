// Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
// here). The flags keep it off the network, which is closed on these machines.
// Production mode (test/production/): `hostResolverRules` pins made-up public names to loopback and
// `trustedCaFile` adds the suite's test CA to an NSS database in a private HOME, which is where
// Chromium on Linux reads user-trusted roots; certificate errors are NOT ignored.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const RESULTS_DIR = path.resolve('test-results');

/**
 * Runs `steps` on `page`; when they fail, saves a full-page screenshot to
 * test-results/`name`-failure.png and names it (and the page's URL, and `context()` if given) in the error.
 */
export async function withFailureScreenshot<T>(page: Page, name: string, steps: (page: Page) => Promise<T>, context?: () => string): Promise<T> {
  try {
    return await steps(page);
  } catch (err) {
    const file = path.join(RESULTS_DIR, `${name}-failure.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    const extra = context ? `\n${context()}` : '';
    throw new Error(`${(err as Error).message}\n(screenshot: ${file}, page: ${page.url()})${extra}`, { cause: err });
  }
}

export interface ChromiumOptions {
  /** Chromium's --host-resolver-rules, e.g. `MAP *.probe.internal 127.0.0.1`. */
  hostResolverRules?: string;
  /** A PEM CA certificate Chromium trusts for TLS servers (needs `certutil`, Debian: libnss3-tools). */
  trustedCaFile?: string;
}

export interface LaunchedChromium extends Browser {
  /** Closes the browser and removes its private HOME (when one was made). */
  closeAll(): Promise<void>;
}

const CERTUTIL_MISSING =
  'certutil is not installed: Chromium is made to trust the test CA through an NSS database. Install it (Debian: `apt-get install -y libnss3-tools`).';

/** A HOME whose ~/.pki/nssdb trusts `caFile` for TLS servers. */
function homeTrusting(caFile: string): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-chromium-home-'));
  const db = `sql:${path.join(home, '.pki', 'nssdb')}`;
  fs.mkdirSync(path.join(home, '.pki', 'nssdb'), { recursive: true });
  for (const args of [
    ['-N', '-d', db, '--empty-password'],
    ['-A', '-d', db, '-n', 'robot-auth test CA', '-t', 'C,,', '-i', caFile],
  ]) {
    const result = spawnSync('certutil', args, { encoding: 'utf8' });
    if (result.error) {
      fs.rmSync(home, { recursive: true, force: true });
      throw new Error((result.error as NodeJS.ErrnoException).code === 'ENOENT' ? CERTUTIL_MISSING : result.error.message);
    }
    if (result.status !== 0) {
      fs.rmSync(home, { recursive: true, force: true });
      throw new Error(`certutil ${args[0]} failed (${result.status}): ${result.stderr}`);
    }
  }
  return home;
}

export async function launchChromium(options: ChromiumOptions = {}): Promise<LaunchedChromium> {
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const home = options.trustedCaFile === undefined ? undefined : homeTrusting(options.trustedCaFile);
  try {
    const browser = (await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        ...(options.hostResolverRules === undefined ? [] : [`--host-resolver-rules=${options.hostResolverRules}`]),
      ],
      ...(home === undefined ? {} : { env: { ...process.env, HOME: home } }),
    })) as LaunchedChromium;
    browser.closeAll = async () => {
      await browser.close();
      if (home !== undefined) fs.rmSync(home, { recursive: true, force: true });
    };
    return browser;
  } catch (err) {
    if (home !== undefined) fs.rmSync(home, { recursive: true, force: true });
    throw err;
  }
}

/**
 * From our login page, as a person does: type the handle, go to the PDS, enter the password and
 * approve there. Ends when the PDS has sent the browser back towards the app.
 */
export async function signInWithBluesky(page: Page, account: { handle: string; password: string }, pdsOrigin: string): Promise<void> {
  await page.getByLabel('Handle').fill(account.handle);
  await page.getByRole('button', { name: 'Sign in with Bluesky' }).click();
  // The PDS's own pages: password, then its consent. When the app refuses instead, say what it said.
  await page.waitForURL((url) => url.origin === pdsOrigin, { timeout: 15_000 }).catch(async (err: unknown) => {
    const shown = await page.locator('main').innerText().catch(() => '(no page text)');
    throw new Error(`the app did not send the browser to the PDS (${pdsOrigin}); it shows: ${shown.slice(0, 500)}`, { cause: err });
  });
  await page.locator('input[name="password"]').fill(account.password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Authorize' }).click();
}
