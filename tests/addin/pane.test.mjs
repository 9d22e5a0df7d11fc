// The task pane in real Chromium (Debian's), in Outlook mode with the Office.js double,
// against a real companion (`pecdesk serve --demo`): sign-in, the certification panel of
// real PECs of the public corpus (compared with expected.json and with the native core's
// signature verdict), and tampered / unsigned messages never shown as certified.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launch, screenshot } from './support/browser.mjs';
import { corpus, startCompanion } from './support/companion.mjs';
import { openPane, paneContext, showItem, signIn } from './support/pane.mjs';

const PUBLIC = corpus ? join(corpus, 'public') : null;
const expected = PUBLIC ? JSON.parse(readFileSync(join(PUBLIC, 'expected.json'), 'utf8')) : null;

/** The native core's verdict on a file (`pecdesk inspect --json`), the reference for the pane. */
function nativeInspect(companionBin, file) {
  return JSON.parse(execFileSync(companionBin, ['inspect', file, '--json'], { encoding: 'utf8' }));
}

describe('task pane: sign-in and certification panel', () => {
  let companion;
  let browser;
  let context;
  let page;
  const bin = process.env.PECDESK_BIN ?? join(import.meta.dirname, '..', '..', 'target', 'debug', 'pecdesk');

  before(async () => {
    assert.ok(PUBLIC, 'PECDESK_CORPUS must point at the corpus (the public samples are the test data)');
    companion = await startCompanion();
    browser = await launch();
    context = await paneContext(browser);
    page = await openPane(context, companion);
  });
  after(async () => {
    await browser?.close();
    await companion?.stop();
  });

  test('the sign-in view offers the demo users and the work account, in Italian', async () => {
    await page.locator('h1', { hasText: 'Accedi a PecDesk' }).waitFor();
    assert.ok(await page.locator('button[data-email="assegnatario@demo.test"]').isVisible());
    assert.ok(await page.getByRole('button', { name: "Accedi con l'account aziendale" }).isVisible());
    assert.equal(await page.locator('html').getAttribute('lang'), 'it');
    await screenshot(page, 'pane-signin', { fullPage: true });
  });

  test('work sign-in without office-signin.js says it is not available, and what to do', async () => {
    await page.getByLabel('Organizzazione').fill('Studio Demo');
    await page.getByRole('button', { name: "Accedi con l'account aziendale" }).last().click();
    await page.locator('#error', { hasText: 'amministratore' }).waitFor();
  });

  test('signing in shows the views for no message open', async () => {
    await signIn(page, 'responsabile@demo.test');
    await page.locator('.bar .who', { hasText: 'Rita Responsabile' }).waitFor();
    const tabs = await page.locator('#tabs .tab').allTextContents();
    assert.deepEqual(tabs, ['Le mie attività', 'Coda del team', 'Da smistare', 'Cerca']);
    assert.deepEqual(page.errors ?? [], []);
  });

  const samples = [
    'docway_aruba_busta-trasporto_segnatura-interop.eml',
    'docway_legalmail_busta-trasporto.eml',
    'oca_aruba_accettazione.eml',
    'oca7_aruba2014_avvenuta-consegna_completa.eml',
    'gopec_anon_busta-trasporto.eml',
    'phppec_synthetic_postacert-inner.eml',
  ];
  for (const name of samples) {
    test(`certification panel of ${name} matches expected.json and the native signature check`, async () => {
      const file = join(PUBLIC, name);
      const want = expected[name];
      const native = nativeInspect(bin, file);
      await showItem(page, readFileSync(file), { subject: want.subject });
      const panel = page.locator('section[data-view="certification"]');
      await panel.waitFor();
      const cert = await panel.locator('[data-cert]').getAttribute('data-cert');
      if (want.kind === 'not-pec') {
        assert.equal(cert, 'not-pec');
      } else {
        // Certified only when the core says valid; the reason is shown otherwise.
        assert.equal(cert, native.signature?.status === 'valid' ? 'certified' : 'unverified', `${name}: ${native.signature?.status}`);
        const text = await panel.innerText();
        assert.ok(text.includes(want.sender), `sender ${want.sender} shown`);
        if (want.provider) assert.ok(text.includes(want.provider), 'provider shown');
        const addresses = await panel.locator('.recipients .addr').allTextContents();
        assert.deepEqual(addresses, want.recipients.map((r) => r.address));
        if (cert === 'unverified') assert.ok(await panel.locator('.reason').innerText(), 'a reason is given');
      }
      assert.deepEqual(page.errors ?? [], []);
      if (name === 'docway_aruba_busta-trasporto_segnatura-interop.eml') await screenshot(page, 'pane-certified', { fullPage: true });
      if (name === 'docway_legalmail_busta-trasporto.eml') await screenshot(page, 'pane-not-verified');
    });
  }

  test('a tampered copy of a certified PEC is never shown as certified, and says why', async () => {
    const raw = readFileSync(join(PUBLIC, 'docway_aruba_busta-trasporto_segnatura-interop.eml'), 'latin1');
    assert.ok(raw.includes('Messaggio di posta certificata'));
    const tampered = Buffer.from(raw.replace('Messaggio di posta certificata', 'Messaggio di posta certificatA'), 'latin1');
    await showItem(page, tampered);
    const panel = page.locator('section[data-view="certification"]');
    await panel.locator('[data-cert="unverified"]').waitFor();
    assert.match(await panel.locator('.reason').innerText(), /modificato dopo la firma/);
  });

  test('a forged PEC (PEC headers, no signature) is not certified', async () => {
    const raw = readFileSync(join(PUBLIC, 'docway_aruba_busta-trasporto_segnatura-interop.eml'), 'latin1');
    // Keep the headers and the readable part, drop the signed structure: what a forger sends.
    const head = raw.slice(0, raw.search(/\r?\n\r?\n/));
    const forged = head.replace(/Content-Type:[^\n]*(\n[ \t][^\n]*)*/i, 'Content-Type: text/plain; charset=utf-8')
      + '\r\n\r\nMessaggio di posta certificata, si fidi.\r\n';
    await showItem(page, Buffer.from(forged, 'latin1'));
    const panel = page.locator('section[data-view="certification"]');
    await panel.locator('[data-cert="unverified"]').waitFor();
    assert.match(await panel.locator('.reason').innerText(), /non è firmato/);
  });

  test('English switch translates the panel', async () => {
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await page.locator('section[data-view="certification"] [data-cert]', { hasText: 'Not verified' }).waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    await page.getByRole('button', { name: "Passa all'italiano" }).click();
    await page.locator('section[data-view="certification"] [data-cert]', { hasText: 'Non verificata' }).waitFor();
  });
});
