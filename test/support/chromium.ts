// Debian's Chromium driven by playwright-core (Playwright's own browser download does not work
// here). The flags keep it off the network, which is closed on these machines.
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';

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
