// Pages of the Outlook add-in in Chromium with the Office.js test double in place of
// Microsoft's office.js (page.route on the CDN URL, for every page of the context: dialogs
// opened by displayDialogAsync get the double too).
//
//   const context = await outlookContext(browser);
//   const page = await context.newPage();
//   await page.goto(`${companion.url}/addin/outlook/commands.html`);
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const double = readFileSync(join(import.meta.dirname, 'office-double.js'), 'utf8');

/** A browser context whose pages load the Office.js double for office.js. */
export async function outlookContext(browser, options = {}) {
  const context = await browser.newContext(options);
  await context.route('https://appsforoffice.microsoft.com/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: double }));
  return context;
}

/** The companion's tokens as the pane stores them (localStorage and OfficeRuntime.storage). */
export async function storeTokens(page, tokens) {
  await page.evaluate(async (t) => {
    const raw = t === null ? null : JSON.stringify(t);
    if (raw === null) {
      localStorage.removeItem('pecdesk.tokens');
      await OfficeRuntime.storage.removeItem('pecdesk.tokens');
    } else {
      localStorage.setItem('pecdesk.tokens', raw);
      await OfficeRuntime.storage.setItem('pecdesk.tokens', raw);
    }
  }, tokens);
}
