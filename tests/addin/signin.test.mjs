// Outlook sign-in with the Office dialog API, end to end in Chromium: the pane's
// signIn (addin/pane/hosts/office-signin.js) → displayDialogAsync (the Office double opens a
// real window) → signin-start.html → the companion's /api/v1/auth/login (client `outlook`) →
// the real OpenID provider of tests/oidc (logs in the login_hint) → signin-done.html →
// the companion's callback → messageParent → the pane holds the companion's tokens.
// Nested App Authentication (Entra ID, MSAL.js through an Outlook bridge double): naa.test.mjs.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';

import { launch } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';
import { startIdp } from './support/idp.mjs';
import { outlookContext } from './support/outlook.mjs';

describe('Outlook sign-in through the Office dialog and a real OpenID provider', () => {
  let idp;
  let companion;
  let browser;
  let context;
  let page;
  let orgId;

  // A new browser profile with a companion page holding Office.js (the pane itself is
  // helper H3's): each test starts without the provider's session cookie.
  async function freshPane() {
    await context?.close();
    context = await outlookContext(browser);
    page = await context.newPage();
    const r = await page.goto(`${companion.url}/addin/outlook/commands.html`);
    assert.equal(r.status(), 200);
    await page.waitForFunction(() => window.__officeDouble !== undefined);
  }

  before(async () => {
    [idp, companion] = await Promise.all([startIdp(), startCompanion()]);
    const admin = await companion.devLogin('admin@demo.test');
    const me = await companion.api(admin, 'GET', '/api/v1/me');
    assert.equal(me.status, 200);
    orgId = me.body.user?.org_id;
    assert.ok(orgId, `no org id in /api/v1/me: ${JSON.stringify(me.body)}`);
    const put = await companion.api(admin, 'PUT', '/api/v1/auth/idp', {
      issuer: idp.acme,
      client_id: 'pecdesk',
      client_secret: 'acme-secret',
      scopes: ['openid', 'email', 'profile'],
      claims: { email: 'email', name: 'name' },
      allowed_domains: ['acme.test'],
      redirect_uris: { outlook: [`${companion.url}/addin/outlook/signin-done.html`] },
    });
    assert.equal(put.status, 204, JSON.stringify(put.body));
    browser = await launch();
  });
  beforeEach(freshPane);
  after(async () => {
    await browser?.close();
    await companion?.stop();
    idp?.stop();
  });

  // The pane's way in: the Outlook host of the host contract (hosts/office.js), whose
  // signIn is office-signin.js.
  async function signIn(args) {
    return page.evaluate(async (a) => {
      const { createHost } = await import('/addin/hosts/office.js');
      const host = await createHost();
      try {
        return { tokens: await host.signIn(a) };
      } catch (e) {
        return { error: { code: e.code, message: e.message } };
      }
    }, args);
  }

  test('the dialog signs the user in and the pane gets and keeps the companion tokens', async () => {
    const dialogs = [];
    context.on('page', (p) => dialogs.push(p));
    const out = await signIn({ companion: companion.url, org: orgId, loginHint: 'alice@acme.test' });
    assert.ok(out.tokens, JSON.stringify(out.error));
    assert.equal(out.tokens.token_type, 'Bearer');
    assert.ok(out.tokens.refresh_token);
    // The dialog opened the companion's start page and went through the provider.
    const opened = await page.evaluate(() => __officeDouble.dialogs);
    assert.equal(opened.length, 1);
    assert.ok(opened[0].startsWith(`${companion.url}/addin/outlook/signin-start.html?org=`), opened[0]);
    assert.equal(dialogs.length, 1);
    // The token is the companion's, for Alice, provisioned in the organisation.
    const me = await companion.api(out.tokens.access_token, 'GET', '/api/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.user?.email, 'alice@acme.test');
    // Stored for the pane and for the Smart Alerts handler, in both storages.
    const stored = await page.evaluate(async () => [localStorage.getItem('pecdesk.tokens'), await OfficeRuntime.storage.getItem('pecdesk.tokens')]);
    for (const raw of stored) {
      const t = JSON.parse(raw);
      assert.equal(t.access_token, out.tokens.access_token);
      assert.equal(t.refresh_token, out.tokens.refresh_token);
      assert.equal(t.companion, companion.url);
    }
    // The refresh token works once (rotation).
    const r = await fetch(`${companion.url}/api/v1/auth/refresh`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: out.tokens.refresh_token }),
    });
    assert.equal(r.status, 200);
  });

  test('the Smart Alerts handler renews a refused access token with the stored refresh token', async () => {
    const out = await signIn({ companion: companion.url, org: orgId, loginHint: 'bob@acme.test' });
    assert.ok(out.tokens, JSON.stringify(out.error));
    // An access token the companion refuses, with the real refresh token beside it.
    await page.evaluate(async () => {
      const t = JSON.parse(localStorage.getItem('pecdesk.tokens'));
      t.access_token = 'scaduto';
      const raw = JSON.stringify(t);
      localStorage.setItem('pecdesk.tokens', raw);
      await OfficeRuntime.storage.setItem('pecdesk.tokens', raw);
    });
    const aldo = await companion.devLogin('assegnatario@demo.test');
    const list = await companion.api(aldo, 'GET', '/api/v1/activities?assignee=me');
    const activity = list.body.items.find((a) => a.flow === 'approval');
    assert.ok(activity, JSON.stringify(list.body));
    const r = await page.evaluate(async (id) => {
      __officeDouble.compose({ conversationId: 'AAQk-bob', headers: { 'X-PecDesk-Activity': id } });
      return __officeDouble.send();
    }, activity.id);
    // Renewed, the companion answered for Bob (new in the organisation, no grant): not a
    // sign-in problem any more but an activity he cannot see.
    assert.equal(r.allowEvent, false);
    assert.match(r.errorMessage, /non puoi vedere/);
    const stored = await page.evaluate(async () => [localStorage.getItem('pecdesk.tokens'), await OfficeRuntime.storage.getItem('pecdesk.tokens')].map((x) => JSON.parse(x)));
    for (const t of stored) {
      assert.notEqual(t.access_token, 'scaduto');
      assert.notEqual(t.refresh_token, out.tokens.refresh_token, 'the refresh token rotated');
    }
    const me = await companion.api(stored[0].access_token, 'GET', '/api/v1/me');
    assert.equal(me.body.user?.email, 'bob@acme.test');
  });

  test('a user the provider does not know gets the refusal in the pane', async () => {
    const out = await signIn({ companion: companion.url, org: orgId, loginHint: 'nessuno@acme.test' });
    assert.equal(out.tokens, undefined);
    assert.equal(out.error.code, 'access_denied');
    assert.match(out.error.message, /rifiutato l'accesso/);
  });

  test('a user of a domain the organisation does not allow is refused by the companion', async () => {
    const out = await signIn({ companion: companion.url, org: orgId, loginHint: 'mallory@evil.test' });
    assert.equal(out.tokens, undefined);
    assert.ok(out.error.code, JSON.stringify(out.error));
    assert.match(out.error.message, /\(403\)/);
  });

  test('closing the dialog cancels the sign-in with a message', async () => {
    const popup = context.waitForEvent('page');
    const pending = signIn({ companion: companion.url, org: 'organizzazione-che-non-esiste', loginHint: 'alice@acme.test' });
    const dialog = await popup;
    await dialog.waitForLoadState();
    await dialog.close();
    const out = await pending;
    assert.equal(out.error.code, 'cancelled');
    assert.match(out.error.message, /Accesso annullato/);
  });

  test('without an organisation the dialog is not opened', async () => {
    const before = (await page.evaluate(() => __officeDouble.dialogs)).length;
    const out = await signIn({ companion: companion.url, org: '' });
    assert.equal(out.error.code, 'no_org');
    assert.equal((await page.evaluate(() => __officeDouble.dialogs)).length, before);
  });
});
