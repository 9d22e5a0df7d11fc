// Debian's Chromium driven by playwright-core (never a downloaded browser), headless, with
// the flags this machine's closed network needs (../shared/SETUP.md, "Browser").
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

import { repo } from './companion.mjs';

export const CHROMIUM = process.env.PECDESK_CHROMIUM ?? '/usr/bin/chromium';

/** A headless Chromium; close it with `browser.close()`. */
export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Where screenshots go: docs/screenshots/ (committed, looked at). */
export const SHOTS = join(repo, 'docs', 'screenshots');

/** Saves a PNG of `page` as docs/screenshots/NAME.png. */
export async function screenshot(page, name, options = {}) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), ...options });
}
