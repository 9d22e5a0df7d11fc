// The original message in the pane (wasm `original`), in real Chromium against a real
// companion: sanitised HTML in a sandboxed frame, attachments, `.p7m` signed documents
// checked by the core (never "valid" without the qualified CA list), and a PEC forwarded
// into Microsoft 365 as a message/rfc822 attachment, read from the attached envelope.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launch, screenshot } from './support/browser.mjs';
import { corpus, repo, startCompanion } from './support/companion.mjs';
import { openPane, paneContext, showItem, signIn } from './support/pane.mjs';

const CADES = join(repo, 'shared', 'tests', 'fixtures', 'cades');

function b64(buf) {
  return Buffer.from(buf).toString('base64').replace(/.{76}/g, '$&\r\n');
}

function part(name, type, bytes) {
  return `Content-Type: ${type}; name="${name}"\r\nContent-Disposition: attachment; filename="${name}"\r\n`
    + `Content-Transfer-Encoding: base64\r\n\r\n${b64(bytes)}\r\n`;
}

/** An ordinary mail with HTML (hostile bits included) and three attachments, two of them signed. */
function signedDocumentsMail() {
  const html = '<p>Gentili colleghi,</p><p>in allegato <b>l\'atto firmato digitalmente</b> e la nota.</p>'
    + '<script>parent.postMessage("pwned", "*")</script><img src="https://tracker.example/p.gif" alt="">'
    + '<p onmouseover="alert(1)"><a href="https://www.giustizia.it/">Portale</a></p>';
  return Buffer.from([
    'From: "Studio Bianchi" <segreteria@studiobianchi.example>',
    'To: <protocollo@pec.demo.test>',
    'Subject: Atto firmato e nota',
    'Date: Mon, 16 Nov 2026 10:00:00 +0100',
    'Message-ID: <atto-firmato-1@studiobianchi.example>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: multipart/alternative; boundary="b2"',
    '',
    '--b2',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Gentili colleghi, in allegato l\'atto firmato digitalmente e la nota.',
    '--b2',
    'Content-Type: text/html; charset=utf-8',
    '',
    html,
    '--b2--',
    '--b1',
    part('documento.pdf.p7m', 'application/pkcs7-mime', readFileSync(join(CADES, 'documento.pdf.p7m'))).trimEnd(),
    '--b1',
    part('alterato.pdf.p7m', 'application/pkcs7-mime', readFileSync(join(CADES, 'alterato.pdf.p7m'))).trimEnd(),
    '--b1',
    part('nota.txt', 'text/plain', readFileSync(join(CADES, 'nota.txt'))).trimEnd(),
    '--b1--',
    '',
  ].join('\r\n'));
}

describe('original message, attachments and signed documents', () => {
  let companion;
  let browser;
  let page;

  before(async () => {
    companion = await startCompanion();
    browser = await launch();
    page = await openPane(await paneContext(browser), companion);
    await signIn(page, 'responsabile@demo.test');
  });
  after(async () => {
    await browser?.close();
    await companion?.stop();
  });

  test('HTML is shown sanitised in a sandboxed frame, attachments are listed', async () => {
    let pwned = false;
    page.on('console', (m) => { if (m.text().includes('pwned')) pwned = true; });
    await page.exposeFunction('__pwned', () => { pwned = true; });
    await page.evaluate(() => window.addEventListener('message', (e) => { if (e.data === 'pwned') window.__pwned(); }));
    await showItem(page, signedDocumentsMail());
    assert.equal(await page.locator('[data-cert]').getAttribute('data-cert'), 'not-pec');
    const frame = page.locator('iframe.html');
    await frame.waitFor();
    const sandbox = await frame.getAttribute('sandbox');
    assert.ok(!sandbox.includes('allow-scripts') && !sandbox.includes('allow-same-origin'), sandbox);
    const inner = page.frameLocator('iframe.html');
    await inner.locator('b', { hasText: "l'atto firmato digitalmente" }).waitFor();
    assert.equal(await inner.locator('script, img, [onmouseover]').count(), 0);
    assert.equal(await inner.locator('a[target="_blank"][rel~="noopener"]').count(), 1);
    assert.match(await page.locator('main').innerText(), /1 immagini remote non caricate/);
    const names = await page.locator('.attachments .name').allTextContents();
    assert.deepEqual(names, ['documento.pdf.p7m', 'alterato.pdf.p7m', 'nota.txt']);
    assert.equal(pwned, false, 'no script of the message ran');
    await screenshot(page, 'pane-original', { fullPage: true });
  });

  test('a .p7m: document extracted, signer shown, intact but never "valid" without the qualified CA list', async () => {
    const item = page.locator('.attachments li', { hasText: 'documento.pdf.p7m' });
    await item.locator('button[data-action="p7m"]').click();
    const box = page.locator('[data-view="p7m"]');
    await box.waitFor();
    const status = await box.locator('[data-p7m]').getAttribute('data-p7m');
    const served = await fetch(`${companion.url}/addin/trust/qualified.json`);
    // The demo companion loads no qualified CA list: the math is right, the trust unknown.
    assert.equal(served.ok, false, 'this test expects no qualified list on the demo companion');
    assert.equal(status, 'integrity-only');
    const text = await box.innerText();
    assert.match(text, /Mario Rossi/);
    assert.match(text, /TINIT-RSSMRA80A01H501U/);
    assert.match(text, /elenco delle CA qualificate non caricato/);
    assert.doesNotMatch(text, /Firma qualificata valida/);
    // The document inside is offered, as a PDF.
    const [download] = await Promise.all([page.waitForEvent('download'), box.locator('a[download]').click()]);
    assert.equal(download.suggestedFilename(), 'documento.pdf');
    const saved = readFileSync(await download.path());
    assert.equal(saved.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.deepEqual(saved, readFileSync(join(CADES, 'documento.pdf')));
    await screenshot(page, 'pane-p7m', { fullPage: true });
  });

  test('a tampered .p7m is shown as an invalid signature', async () => {
    const item = page.locator('.attachments li', { hasText: 'alterato.pdf.p7m' });
    await item.locator('button[data-action="p7m"]').click();
    await page.locator('[data-view="p7m"] [data-p7m="invalid"]').waitFor();
    assert.match(await page.locator('[data-view="p7m"]').innerText(), /Firma non valida/);
  });

  test('a PEC forwarded into the mailbox is read from the attached envelope', async () => {
    assert.ok(corpus, 'PECDESK_CORPUS must be set');
    const envelope = readFileSync(join(corpus, 'public', 'docway_aruba_busta-trasporto_segnatura-interop.eml'));
    const forward = Buffer.concat([Buffer.from([
      'From: "Utente M365" <utente@m365.example>',
      'To: <collega@m365.example>',
      'Subject: I: POSTA CERTIFICATA: prova msa 3.0.0 again again',
      'Date: Tue, 18 Dec 2018 18:00:00 +0100',
      'Message-ID: <inoltro-1@m365.example>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="fw"',
      '',
      '--fw',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'Ti inoltro la PEC.',
      '--fw',
      'Content-Type: message/rfc822',
      'Content-Disposition: attachment; filename="postacert.eml"',
      '',
      '',
    ].join('\r\n')), envelope, Buffer.from('\r\n--fw--\r\n')]);
    await showItem(page, forward, { internetMessageId: '<inoltro-1@m365.example>' });
    const panel = page.locator('section[data-view="certification"]');
    await panel.locator('[data-cert="certified"]').waitFor();
    const text = await panel.innerText();
    assert.match(text, /PEC inoltrata/);
    assert.match(text, /assistenza@pec\.3di\.it/);
  });
});
