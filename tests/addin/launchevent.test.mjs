// Smart Alerts (addin/outlook/launchevent.js) in Chromium, with the Office.js double,
// against a real companion (`serve --demo`: Aldo's reply to the Comune awaits Paolo's
// approval): a reply to that activity is blocked until Paolo approves, then it leaves.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import vm from 'node:vm';

import { launch } from './support/browser.mjs';
import { repo, startCompanion } from './support/companion.mjs';
import { outlookContext, storeTokens } from './support/outlook.mjs';

const CONV = 'AAQkAGI2-conversazione-comune';

describe('OnMessageSend (Smart Alerts) against a real companion', () => {
  let companion;
  let browser;
  let page;
  let aldo;
  let approval;    // the demo activity awaiting approval
  let standard;    // a standard-flow activity

  // Fires OnMessageSend on a compose item; answers what event.completed got.
  async function send(item, { replies = {}, lang = 'it-IT' } = {}) {
    return page.evaluate(async ({ item, replies, lang }) => {
      Office.context.displayLanguage = lang;
      Office.context.roamingSettings.set('pecdesk.replies', replies);
      __officeDouble.compose(item);
      return __officeDouble.send();
    }, { item, replies, lang });
  }

  before(async () => {
    companion = await startCompanion();
    aldo = await companion.devLogin('assegnatario@demo.test');
    const list = await companion.api(aldo, 'GET', '/api/v1/activities?assignee=me');
    assert.equal(list.status, 200);
    approval = list.body.items.find((a) => a.flow === 'approval' && a.status === 'awaiting_approval');
    standard = list.body.items.find((a) => a.flow === 'standard');
    assert.ok(approval, 'the demo has an activity awaiting approval');
    assert.ok(standard, 'the demo has a standard activity');
    browser = await launch();
    const context = await outlookContext(browser);
    page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    const r = await page.goto(`${companion.url}/addin/outlook/commands.html`);
    assert.equal(r.status(), 200);
    await page.waitForFunction(() => window.__officeDouble !== undefined);
    assert.deepEqual(errors, []);
    await storeTokens(page, { access_token: aldo, refresh_token: null, companion: companion.url });
  });
  after(async () => {
    await browser?.close();
    await companion?.stop();
  });

  test('a message of no activity is sent', async () => {
    const r = await send({ conversationId: 'AAQk-altro', subject: 'Ciao' }, { replies: { [CONV]: approval.id } });
    assert.deepEqual(r, { allowEvent: true });
  });

  test('a reply to a standard-flow activity is sent', async () => {
    const r = await send({ conversationId: CONV }, { replies: { [CONV]: standard.id } });
    assert.deepEqual(r, { allowEvent: true });
  });

  test('the reply to the activity awaiting approval is blocked (roamingSettings)', async () => {
    const r = await send({ conversationId: CONV, subject: 'Re: Richiesta documenti' }, { replies: { [CONV]: approval.id } });
    assert.equal(r.allowEvent, false);
    assert.match(r.errorMessage, /richiede l'approvazione/);
    assert.match(r.errorMessage, /non è ancora approvata/);
    assert.ok(r.errorMessage.includes(approval.title));
    assert.ok(r.errorMessage.length <= 500, 'Smart Alerts messages are at most 500 characters');
    assert.equal(r.commandId, 'pecdeskComposeOpenPane');
    assert.equal(r.cancelLabel, 'Apri PecDesk');
  });

  test('a reply opened by the task pane (hosts/office.js) is found and blocked', async () => {
    const r = await page.evaluate(async (activityId) => {
      Office.context.roamingSettings.remove('pecdesk.replies');
      __officeDouble.setItem({ internetMessageId: '<comune@pec.demo.test>', subject: 'Richiesta documenti', conversationId: 'AAQk-dal-riquadro' });
      const { createHost } = await import('/addin/hosts/office.js');
      const host = await createHost();
      await host.reply({ to: [], cc: [], subject: 'Re: Richiesta documenti', body: 'Bozza', activityId });
      // Outlook opens the reply form in the same conversation; the user presses Send.
      __officeDouble.compose({ conversationId: 'AAQk-dal-riquadro' });
      return __officeDouble.send();
    }, approval.id);
    assert.equal(r.allowEvent, false);
    assert.match(r.errorMessage, /non è ancora approvata/);
  });

  test('the same reply found by its X-PecDesk-Activity header is blocked, in English for an English Outlook', async () => {
    const r = await send({ conversationId: 'AAQk-nuova', headers: { 'X-PecDesk-Activity': approval.id } }, { lang: 'en-US' });
    assert.equal(r.allowEvent, false);
    assert.match(r.errorMessage, /needs approval/);
    assert.equal(r.cancelLabel, 'Open PecDesk');
  });

  test('without a sign-in the reply is blocked with what to do', async () => {
    await storeTokens(page, null);
    try {
      const r = await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } });
      assert.equal(r.allowEvent, false);
      assert.match(r.errorMessage, /accedi a PecDesk/);
    } finally {
      await storeTokens(page, { access_token: aldo, refresh_token: null, companion: companion.url });
    }
  });

  test('a refused token is treated as no sign-in', async () => {
    await storeTokens(page, { access_token: 'scaduto', refresh_token: null, companion: companion.url });
    try {
      const r = await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } });
      assert.equal(r.allowEvent, false);
      assert.match(r.errorMessage, /accedi a PecDesk/);
    } finally {
      await storeTokens(page, { access_token: aldo, refresh_token: null, companion: companion.url });
    }
  });

  test('an activity the user cannot see blocks with a message saying so', async () => {
    const esterno = await companion.devLogin('esterno@demo.test');
    await storeTokens(page, { access_token: esterno, refresh_token: null, companion: companion.url });
    try {
      const r = await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } });
      assert.equal(r.allowEvent, false);
      assert.match(r.errorMessage, /non puoi vedere/);
    } finally {
      await storeTokens(page, { access_token: aldo, refresh_token: null, companion: companion.url });
    }
  });

  test('after the approver approves, the reply is sent (both ways of finding it)', async () => {
    const paolo = await companion.devLogin('approvatore@demo.test');
    const d = await companion.api(paolo, 'POST', `/api/v1/activities/${approval.id}/approval`, { decision: 'approve', note: 'Va bene.' });
    assert.equal(d.status, 200, JSON.stringify(d.body));
    assert.deepEqual(await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } }), { allowEvent: true });
    assert.deepEqual(await send({ conversationId: 'x', headers: { 'X-PecDesk-Activity': approval.id } }), { allowEvent: true });
  });

  test('a new draft voids the approval: blocked again', async () => {
    const detail = await companion.api(aldo, 'GET', `/api/v1/activities/${approval.id}`);
    const { to, cc, subject, attachments } = detail.body.draft;
    const put = await companion.api(aldo, 'PUT', `/api/v1/activities/${approval.id}/draft`, { to, cc, subject, attachments, body: 'Testo cambiato dopo l\'approvazione.' });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const r = await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } });
    assert.equal(r.allowEvent, false);
  });

  test('it runs without a DOM or localStorage, as in classic Outlook\'s JavaScript-only runtime', async () => {
    // Only what that runtime offers: Office, OfficeRuntime.storage, fetch, timers.
    const storage = new Map([['pecdesk.tokens', JSON.stringify({ access_token: aldo, refresh_token: null, companion: companion.url })]]);
    const actions = {};
    const completed = [];
    let item = null;
    const ok = (value) => ({ status: 'succeeded', value });
    const Office = {
      context: {
        displayLanguage: 'it-IT',
        mailbox: { get item() { return item; } },
        roamingSettings: { get: (k) => (k === 'pecdesk.replies' ? { 'AAQk-win': approval.id } : undefined) },
      },
      actions: { associate: (name, fn) => { actions[name] = fn; } },
    };
    const OfficeRuntime = { storage: { getItem: async (k) => storage.get(k) ?? null, setItem: async (k, v) => { storage.set(k, v); } } };
    const sandbox = vm.createContext({ Office, OfficeRuntime, fetch, AbortController, setTimeout, clearTimeout, console });
    vm.runInContext(readFileSync(join(repo, 'addin', 'outlook', 'launchevent.js'), 'utf8'), sandbox, { filename: 'launchevent.js' });
    assert.equal(typeof actions.onMessageSendHandler, 'function');
    const fire = (spec) => new Promise((resolve) => {
      item = {
        conversationId: spec.conversationId,
        internetHeaders: { getAsync: (names, cb) => setTimeout(() => cb(ok({})), 0) },
      };
      actions.onMessageSendHandler({ completed: (o) => { completed.push(o); resolve(o); } });
    });
    // The approval was voided by the new draft above: blocked; another conversation: sent.
    const blocked = await fire({ conversationId: 'AAQk-win' });
    assert.equal(blocked.allowEvent, false);
    assert.match(blocked.errorMessage, /non è ancora approvata/);
    assert.deepEqual({ ...(await fire({ conversationId: 'AAQk-altra' })) }, { allowEvent: true });
  });

  test('when the companion cannot be reached the reply is blocked, saying so', async () => {
    await companion.stop();
    const r = await send({ conversationId: CONV }, { replies: { [CONV]: approval.id } });
    assert.equal(r.allowEvent, false);
    assert.match(r.errorMessage, /non è raggiungibile/);
    assert.equal(r.commandId, undefined);
  });
});
