// Outlook sign-in with Nested App Authentication (Entra ID), end to end in Chromium, on SQLite
// and on PostgreSQL: the pane's signIn (addin/pane/hosts/office-signin.js) loads the vendored
// MSAL.js (msal-browser 5.30.0, unchanged) → createNestablePublicClientApplication →
// window.nestedAppAuthBridge, Outlook's part, doubled in support/office-double.js → Outlook's
// broker (support/naa.mjs) → the REAL OpenID provider of tests/oidc as the Entra tenant (code
// flow with PKCE, audience from the scope) → MSAL's AuthenticationResult → the companion
// verifies the IdP bearer token (companion/src/auth/idp_token.rs).
//
// Only Outlook is doubled: MSAL.js, the provider, the companion and the pane are the real ones.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, beforeEach, describe, test } from 'node:test';

import { launch } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';
import { startIdp } from './support/idp.mjs';
import { installNaaBroker } from './support/naa.mjs';
import { openPane, paneContext } from './support/pane.mjs';

const PG = process.env.PECDESK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function psql(sql) {
  execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' });
}

/** The organisation's Entra app as the pane is given it (client id and the API's scope). */
const ENTRA_APP = 'pecdesk';
const SCOPE = 'api://pecdesk/access_as_user';
/** A scope of another application of the same tenant: a real token, the wrong audience. */
const OTHER_SCOPE = 'api://altra-app/access_as_user';

for (const engine of ['sqlite', 'postgres']) {
  describe(`Outlook sign-in through Nested App Authentication on ${engine}`, () => {
    let idp;
    let companion;
    let browser;
    let context;
    let page;
    let broker;
    let database = null;
    let orgId;

    before(async () => {
      let start;
      if (engine === 'postgres') {
        database = `pecdesk_naa_${process.pid}_${Date.now()}`;
        psql(`CREATE DATABASE ${database}`);
        start = startCompanion({ postgres: PG.replace(/\/[^/]*$/, `/${database}`) });
      } else {
        start = startCompanion();
      }
      [idp, companion] = await Promise.all([startIdp(), start]);
      const admin = await companion.devLogin('admin@demo.test');
      const me = await companion.api(admin, 'GET', '/api/v1/me');
      assert.equal(me.status, 200);
      orgId = me.body.user?.org_id;
      assert.ok(orgId, JSON.stringify(me.body));
      // docs/operations.md, Entra ID: the issuer is the tenant, the audience the API's
      // application ID URI (here the provider of tests/oidc plays the tenant).
      const put = await companion.api(admin, 'PUT', '/api/v1/auth/idp', {
        issuer: idp.acme,
        client_id: ENTRA_APP,
        client_secret: 'acme-secret',
        scopes: ['openid', 'email', 'profile'],
        claims: { email: 'email', name: 'name', groups: 'groups' },
        allowed_domains: ['acme.test'],
        audiences: ['api://pecdesk'],
        redirect_uris: { outlook: [`${companion.url}/addin/outlook/signin-done.html`] },
      });
      assert.equal(put.status, 204, JSON.stringify(put.body));
      browser = await launch();
    });

    // A new profile each time: no MSAL cache, no stored tokens.
    beforeEach(async () => {
      await context?.close();
      context = await paneContext(browser);
      broker = await installNaaBroker(context, { issuer: idp.acme, user: 'alice@acme.test' });
      page = await openPane(context, companion);
    });

    after(async () => {
      await browser?.close();
      await companion?.stop();
      idp?.stop();
      if (database) {
        try { psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`); } catch { /* best effort */ }
      }
    });

    /** The pane's Outlook host signs in (what the pane's sign-in calls), in the pane's page. */
    async function signIn(scopes, { interactionRequired = false } = {}) {
      return page.evaluate(async ([a, ir]) => {
        window.__officeDouble.naa.enable({ interactionRequired: ir });
        const { createHost } = await import('/addin/hosts/office.js');
        const host = await createHost();
        try {
          return { tokens: await host.signIn(a), msal: typeof globalThis.msal?.createNestablePublicClientApplication };
        } catch (e) {
          return { error: { code: e.code, message: e.message } };
        }
      }, [{ companion: companion.url, org: orgId, entra: { client_id: ENTRA_APP, authority: idp.acme, scopes } }, interactionRequired]);
    }

    test('MSAL gets the token through the bridge, the companion accepts it, the pane is signed in', async () => {
      const out = await signIn([SCOPE]);
      assert.ok(out.tokens, JSON.stringify(out.error));
      assert.equal(out.msal, 'function', 'the vendored MSAL.js was loaded');
      assert.equal(out.tokens.token_type, 'Bearer');
      assert.equal(out.tokens.refresh_token, null);
      assert.ok(out.tokens.expires_in > 0 && out.tokens.expires_in <= 600, String(out.tokens.expires_in));
      // MSAL spoke the bridge protocol: init, then one silent request for the app and scope.
      const requests = await page.evaluate(() => window.__officeDouble.naa.requests);
      assert.deepEqual(requests.map((r) => r.method), ['GetInitContext', 'GetToken']);
      assert.equal(requests[1].clientId, ENTRA_APP);
      assert.match(requests[1].scope, /api:\/\/pecdesk\/access_as_user/);
      assert.deepEqual(broker.calls.map((c) => c.method), ['GetToken']);
      assert.equal(broker.calls[0].aud, 'api://pecdesk');
      // The token is the provider's own JWT for the API, not a companion token.
      const claims = JSON.parse(Buffer.from(out.tokens.access_token.split('.')[1], 'base64url').toString('utf8'));
      assert.equal(claims.iss, idp.acme);
      assert.equal(claims.aud, 'api://pecdesk');
      // The companion accepts it as a bearer token and answers for Alice.
      const me = await companion.api(out.tokens.access_token, 'GET', '/api/v1/me');
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.user?.email, 'alice@acme.test');
      assert.equal(me.body.user?.org_id, orgId);
      // Kept where the pane and the Smart Alerts handler read it.
      const stored = await page.evaluate(async () => [localStorage.getItem('pecdesk.tokens'), await OfficeRuntime.storage.getItem('pecdesk.tokens')]);
      for (const raw of stored) assert.equal(JSON.parse(raw).access_token, out.tokens.access_token);
      // The pane, opened again, is signed in with it: Alice's name in its bar, her views.
      await page.reload();
      await page.locator('#tabs .tab').first().waitFor();
      assert.equal(await page.locator('.bar .who').textContent(), 'Alice Rossi');
      assert.equal(await page.locator('.bar .who').getAttribute('title'), 'alice@acme.test');
      assert.deepEqual(page.errors ?? [], []);
    });

    test('a token of the tenant for another audience is refused by the companion and the pane says so', async () => {
      const out = await signIn([OTHER_SCOPE]);
      // MSAL got a real token from the provider through the bridge...
      assert.deepEqual(broker.calls.map((c) => c.method), ['GetToken']);
      assert.match(broker.calls[0].scope, /api:\/\/altra-app/);
      assert.equal(broker.calls[0].aud, 'api://altra-app', 'the provider issued a real token for the other API');
      // ...the companion refused it, and the sign-in says why, in Italian first.
      assert.equal(out.tokens, undefined, 'no tokens for a refused audience');
      assert.equal(out.error.code, 'refused', JSON.stringify(out.error));
      assert.match(out.error.message, /PecDesk ha rifiutato il token di Microsoft Entra ID/);
      assert.match(out.error.message, /\(401\)/);
      // Nothing kept: the pane, opened again, asks to sign in.
      const stored = await page.evaluate(async () => [localStorage.getItem('pecdesk.tokens'), await OfficeRuntime.storage.getItem('pecdesk.tokens')]);
      assert.deepEqual(stored, [null, null]);
      await page.reload();
      await page.locator('[data-action="signin-corporate"]').waitFor();
      assert.equal(await page.locator('.bar .who').count(), 0);
    });

    // The pane's own sign-in form: the organisation typed by the user, the Entra app found
    // through GET /api/v1/auth/options. The companion names an Entra app only for an issuer
    // at login.microsoftonline.com, which this machine cannot reach: the one answer of the
    // companion substituted here is that endpoint's, as it answers for such an issuer
    // (companion/src/auth/sso.rs `options`); MSAL, the bridge, the provider and every other
    // call to the companion are the real ones.
    test("the pane's sign-in form reaches NAA through the organisation's sign-in options", async () => {
      const asked = [];
      await page.route('**/api/v1/auth/options?*', async (route) => {
        asked.push(new URL(route.request().url()).searchParams.get('org'));
        const real = await route.fetch();
        const body = await real.json();
        assert.equal(body.entra, null, 'the real answer for a non-Entra issuer has no entra');
        await route.fulfill({
          response: real,
          json: { ...body, entra: { client_id: ENTRA_APP, authority: idp.acme, scopes: [SCOPE] } },
        });
      });
      await page.evaluate(() => window.__officeDouble.naa.enable({ interactionRequired: false }));
      await page.locator('input[name="org"]').fill(orgId);
      await page.locator('[data-action="signin-corporate"]').click();
      await page.locator('.bar .who').waitFor({ timeout: 30000 });
      assert.equal(await page.locator('.bar .who').textContent(), 'Alice Rossi');
      assert.deepEqual(asked, [orgId]);
      const requests = await page.evaluate(() => window.__officeDouble.naa.requests);
      assert.deepEqual(requests.map((r) => r.method), ['GetInitContext', 'GetToken']);
      assert.deepEqual(broker.calls.map((c) => c.method), ['GetToken']);
      // No Office dialog was opened: NAA signed in.
      assert.deepEqual(await page.evaluate(() => window.__officeDouble.dialogs), []);
    });

    test('interaction required: MSAL falls back to acquireTokenPopup through the bridge', async () => {
      const out = await signIn([SCOPE], { interactionRequired: true });
      assert.ok(out.tokens, JSON.stringify(out.error));
      const requests = await page.evaluate(() => window.__officeDouble.naa.requests);
      // The silent request was answered USER_INTERACTION_REQUIRED; the popup one got the token.
      assert.deepEqual(requests.map((r) => r.method), ['GetInitContext', 'GetToken', 'GetTokenPopup']);
      assert.deepEqual(broker.calls.map((c) => c.method), ['GetTokenPopup']);
      const me = await companion.api(out.tokens.access_token, 'GET', '/api/v1/me');
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.user?.email, 'alice@acme.test');
    });
  });
}
