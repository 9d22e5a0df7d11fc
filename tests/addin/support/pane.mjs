// Opening the task pane in Chromium as Outlook shows it: the companion's /addin/?host=outlook
// with the Office.js test double in place of Microsoft's office.js, a 400 px wide pane.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const OFFICE_JS = 'https://appsforoffice.microsoft.com/lib/1/hosted/office.js';
const double = readFileSync(join(here, 'office-double.js'), 'utf8');

/** A browser context the size of a task pane, with the Office.js double routed in. */
export async function paneContext(browser, { width = 400, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, locale: 'it-IT', acceptDownloads: true });
  // Nothing else leaves the machine: any other outside request fails the way it would offline.
  // (Registered first: Playwright tries the routes added last first.)
  await context.route(/^https?:\/\/(?!127\.0\.0\.1|localhost)/, (route) => route.abort());
  await context.route(OFFICE_JS, (route) => route.fulfill({ status: 200, contentType: 'application/javascript', body: double }));
  return context;
}

/** Opens the pane in Outlook mode (`?host=outlook`) and waits for its first view. */
export async function openPane(context, companion, { host = 'outlook' } = {}) {
  const page = await context.newPage();
  page.on('pageerror', (e) => { page.errors = [...(page.errors ?? []), e.message]; });
  await page.goto(`${companion.url}/addin/?host=${host}`);
  await page.locator('#main h1, #main section, #main form').first().waitFor();
  return page;
}

/** Demo sign-in through the pane's own buttons. */
export async function signIn(page, email) {
  await page.locator(`button[data-email="${email}"]`).click();
  await page.locator('#tabs .tab').first().waitFor();
}

/** Puts a message "on screen" in the double (raw bytes as Outlook gives them: base64 EML). */
export async function showItem(page, raw, { internetMessageId = null, subject = null, conversationId = null } = {}) {
  const eml = Buffer.from(raw).toString('base64');
  const renders = await page.evaluate(() => Number(document.body.dataset.renders ?? 0));
  await page.evaluate((spec) => window.__officeDouble.setItem(spec), { eml, internetMessageId, subject, conversationId });
  await waitRender(page, renders);
}

/** Waits until the pane finished a render after the `renders`-th one (see app.js `show`). */
export async function waitRender(page, renders, view = null) {
  await page.waitForFunction(([n, v]) => Number(document.body.dataset.renders ?? 0) > n && (!v || document.body.dataset.view === v), [renders, view]);
}

/** Runs `action` and waits for the render it causes. */
export async function rendered(page, action, view = null) {
  const renders = await page.evaluate(() => Number(document.body.dataset.renders ?? 0));
  await action();
  await waitRender(page, renders, view);
}
