// The pane's HTML sanitiser (addin/pane/sanitize.js) in real Chromium, as the companion
// serves it: what an attacker's PEC may carry never survives, ordinary formatting does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';
import { openPane, paneContext } from './support/pane.mjs';

describe('sanitiser of the original message HTML', () => {
  let companion;
  let browser;
  let page;

  before(async () => {
    companion = await startCompanion();
    browser = await launch();
    page = await openPane(await paneContext(browser), companion, { host: 'browser' });
  });
  after(async () => {
    await browser?.close();
    await companion?.stop();
  });

  const clean = (html) => page.evaluate(async (input) => {
    const m = await import('/addin/sanitize.js');
    return m.sanitizeHtml(input);
  }, html);

  test('scripts, handlers, styles, forms, frames and javascript: links are removed', async () => {
    const attack = `<p onclick="alert(1)" style="position:fixed">Gentile utente</p>
      <script>alert(2)</script><img src=x onerror="alert(3)"><svg onload="alert(4)"><circle/></svg>
      <a href="javascript:alert(5)">paga qui</a><a href=" JAVASCRIPT:alert(6)">bis</a>
      <iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=p></form>
      <object data="x"></object><style>body{display:none}</style><base href="https://evil.example/">
      <div><math><mi xlink:href="javascript:alert(7)">x</mi></math></div>
      <table><tr><td background="javascript:alert(8)">cella</td></tr></table>`;
    const { html } = await clean(attack);
    for (const bad of ['script', 'onclick', 'onerror', 'onload', 'javascript', 'style', 'iframe', 'form', 'input', 'object', 'base', 'svg', 'math', 'background', 'evil']) {
      assert.ok(!html.toLowerCase().includes(bad), `${bad} removed from: ${html}`);
    }
    assert.match(html, /Gentile utente/);
    assert.match(html, /paga qui/, 'the text of a dropped link stays readable');
    assert.match(html, /<td>cella<\/td>/);
  });

  test('remote images are not loaded (counted), inline data images are kept', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const { html, blockedImages } = await clean(`<img src="https://tracker.example/pixel.gif"><img src="//cdn.example/a.png"><img alt="logo" src="${png}">`);
    assert.equal(blockedImages, 2);
    assert.ok(!html.includes('tracker.example') && !html.includes('cdn.example'));
    assert.ok(html.includes(png));
  });

  test('links keep http(s)/mailto and open outside the pane', async () => {
    const { html } = await clean('<a href="https://www.agid.gov.it/">AgID</a> <a href="mailto:ufficio@pec.example.it">scrivi</a>');
    const links = await page.evaluate((h) => {
      const d = new DOMParser().parseFromString(h, 'text/html');
      return [...d.querySelectorAll('a')].map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel')]);
    }, html);
    assert.deepEqual(links, [
      ['https://www.agid.gov.it/', '_blank', 'noopener noreferrer'],
      ['mailto:ufficio@pec.example.it', '_blank', 'noopener noreferrer'],
    ]);
  });

  test('the frame document forbids scripts and remote loads by its own CSP', async () => {
    const doc = await page.evaluate(async () => (await import('/addin/sanitize.js')).frameDocument('<p>x</p>', new URL('/addin/frame.css', location.href).href));
    assert.ok(doc.includes(`content="default-src 'none'; img-src data:; style-src ${companion.url}"`), doc);
    assert.ok(doc.includes(`<link rel="stylesheet" href="${companion.url}/addin/frame.css">`));
  });
});
