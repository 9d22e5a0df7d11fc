// The Thunderbird MailExtension in a real Thunderbird (Debian's 153 ESR, headless) against a
// real companion (`pecdesk serve --demo`), a real Dovecot and an SMTP sink:
// - the extension is downloaded from the companion's /webext/pecdesk.xpi and side-loaded;
// - an IMAP account on the Dovecot holds two real PECs: a demo message the companion knows
//   and a PEC of the repo's fixtures it does not;
// - the message list's context menu item creates one activity per selected message (the
//   unknown one imported first) — checked on the companion's API;
// - a reply the pane opened for an activity whose draft is not approved is refused at send
//   (compose.onBeforeSend): the compose window stays, nothing reached the SMTP sink or the
//   companion's outbox, the extension logged the refusal; once the approver approves, the
//   same send goes out (so the refusal is the extension's doing);
// - the work-account sign-in: identity.launchWebAuthFlow through the companion's OIDC flow
//   against the project's real OpenID provider (tests/oidc/server.mjs) with the extension's
//   identity.getRedirectURL() registered for the organisation; the extension ends up holding
//   the companion's tokens of the IdP user.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { repo, startCompanion } from '../addin/support/companion.mjs';
import { startDovecot } from './support/dovecot.mjs';
import { startIdp } from './support/idp.mjs';
import { startSmtpSink } from './support/smtp.mjs';
import { GECKO_ID, startThunderbird } from './support/thunderbird.mjs';

const BOX = 'protocollo@pec.demo.test';
const PASSWORD = 'segreta-di-test';
const MENU_ITEM = 'pecdesk-create-activities';
const FIXTURE = join(repo, 'shared', 'tests', 'fixtures', 'busta_trasporto_completa.eml');
const FIXTURE_ID = 'opec100.20240305101500.1234.56.1.7@pec.gestore.example';

/** The XPI as the real companion serves it (the layout of addin/README.md). */
async function downloadXpi(companion) {
  const r = await fetch(`${companion.url}/webext/pecdesk.xpi`);
  const body = Buffer.from(await r.arrayBuffer());
  assert.equal(r.status, 200, `GET /webext/pecdesk.xpi: ${r.status} ${body.toString('utf8', 0, 400)}`);
  assert.equal(r.headers.get('content-type'), 'application/x-xpinstall');
  assert.equal(body.subarray(0, 4).toString('latin1'), 'PK\x03\x04', 'the XPI is a zip');
  return body;
}

describe('Thunderbird extension', { timeout: 600_000 }, () => {
  let companion;
  let dovecot;
  let smtp;
  let tb;
  let tokens; // companion tokens by demo user
  let protocollo; // the demo mailbox id
  let known; // the demo message the companion knows
  let folderUri;
  let idp; // the OpenID provider, started once the extension's redirect URL is known

  const api = (who, method, path, body) => companion.api(tokens[who], method, path, body);

  before(async () => {
    companion = await startCompanion();
    tokens = {};
    for (const who of ['responsabile', 'assegnatario', 'approvatore']) {
      tokens[who] = await companion.devLogin(`${who}@demo.test`);
    }
    const me = (await api('responsabile', 'GET', '/api/v1/me')).body;
    protocollo = me.grants.find((g) => g.address === BOX).id;
    const list = await api('responsabile', 'GET', `/api/v1/messages?mailbox=${protocollo}&kind=posta-certificata&limit=50`);
    known = list.body.items.find((m) => m.message_id);
    assert.ok(known, 'the demo has a certified message with a Message-ID');
    const raw = await fetch(`${companion.url}/api/v1/messages/${known.id}/raw`, {
      headers: { authorization: `Bearer ${tokens.responsabile}` },
    }).then((r) => r.arrayBuffer());

    dovecot = await startDovecot([[BOX, PASSWORD]]);
    dovecot.deliver(BOX, Buffer.from(raw));
    dovecot.deliver(BOX, readFileSync(FIXTURE));
    smtp = await startSmtpSink();

    tb = await startThunderbird(await downloadXpi(companion));
  });

  after(async () => {
    const dir = process.env.PECDESK_TB_LOG_DIR;
    if (dir && tb) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'thunderbird.log'), tb.log());
    }
    await tb?.stop();
    await idp?.stop();
    await smtp?.stop();
    await dovecot?.stop();
    await companion?.stop();
  });

  test('the extension side-loaded from the companion starts and knows its companion', async () => {
    const [line] = await tb.waitForLog(/\[pecdesk\] started \S+ \(companion (\S+)\)/);
    assert.match(line, new RegExp(`companion ${companion.url.replace(/[.]/g, '\\.')}\\)`));
    const addon = await tb.script('addon', { id: GECKO_ID });
    assert.equal(addon?.active, true, `the add-on is active: ${JSON.stringify(addon)}`);
  });

  test('an IMAP account on Dovecot shows the two PECs', async () => {
    const account = await tb.script('account', {
      user: BOX, password: PASSWORD, email: BOX, name: 'Protocollo',
      imapPort: dovecot.port, smtpPort: smtp.port, expect: 2,
    });
    assert.equal(account.count, 2);
    assert.ok(account.messageIds.includes(FIXTURE_ID), 'the fixture is in the inbox');
    assert.ok(account.messageIds.includes(known.message_id), 'the demo message is in the inbox');
    folderUri = account.folderUri;
  });

  test('signed in from an extension page, the menu creates one activity per selected message', async () => {
    const before = await api('responsabile', 'GET', `/api/v1/messages/lookup?message_id=${encodeURIComponent(FIXTURE_ID)}`);
    assert.equal(before.status, 404, 'the companion does not know the fixture yet');

    const signedIn = await tb.script('extension-page', {
      id: GECKO_ID, message: { type: 'pecdesk.signIn', devEmail: 'responsabile@demo.test' },
    });
    assert.equal(signedIn.ok, true, JSON.stringify(signedIn));
    await tb.waitForLog(/\[pecdesk\] signed in \(demo\)/);

    const clicked = await tb.script('menu-create-activities', { folderUri, itemId: MENU_ITEM });
    assert.equal(clicked.selected, 2);
    assert.match(clicked.label, /Crea un'attività per ogni messaggio|Create one activity per message/);
    const [, created, imported, skipped] = await tb.waitForLog(/\[pecdesk\] activities created: (\d+) \(imported (\d+), skipped (\d+)\)/);
    assert.deepEqual([created, imported, skipped], ['2', '1', '0']);

    // The companion's own view: the fixture was imported, and each message has its activity.
    const fixture = await api('responsabile', 'GET', `/api/v1/messages/lookup?message_id=${encodeURIComponent(FIXTURE_ID)}`);
    assert.equal(fixture.status, 200, 'the extension imported the fixture');
    const acts = await api('responsabile', 'GET', `/api/v1/activities?mailbox=${protocollo}&limit=200`);
    const linked = new Set();
    for (const a of acts.body.items) {
      const d = await api('responsabile', 'GET', `/api/v1/activities/${a.id}`);
      for (const m of d.body.message_ids) linked.add(m);
    }
    assert.ok(linked.has(fixture.body[0].id), 'an activity links the imported fixture');
    assert.ok(linked.has(known.id), 'an activity links the demo message');
  });

  test('the pane opens from the message display action with a filled certification panel (screenshot)', async () => {
    const opened = await tb.script('open-pane', { folderUri, headerMessageId: known.message_id, waitMs: 30000 });
    assert.match(opened.button, /messageDisplayAction-toolbarbutton$/);
    assert.match(opened.url ?? '', /^moz-extension:\/\/[^/]+\/pane\/index\.html\?host=thunderbird$/, 'the popup shows the pane');
    // The wasm core (pane/wasm/ inside the XPI) read the raw message Thunderbird gave: a
    // verdict badge and the envelope's facts. Certified only with a valid signature.
    assert.ok(['certified', 'unverified'].includes(opened.cert), `certification panel: ${JSON.stringify(opened)}`);
    const detail = (await api('responsabile', 'GET', `/api/v1/messages/${known.id}`)).body;
    assert.ok(detail.summary?.subject, JSON.stringify(detail.summary));
    assert.ok(opened.text.includes(detail.summary.subject), `the subject in the panel: ${opened.text}`);
    assert.ok(opened.text.includes(detail.summary.identificativo), 'the PEC identifier in the panel');
    assert.match(opened.text, /protocollo@pec\.demo\.test/, 'the recipients list is filled');
    if (opened.cert === 'unverified') assert.match(opened.text, /(verificat|verified|certif)/i, 'a reason is given');
    const dir = join(repo, 'docs', 'screenshots');
    mkdirSync(dir, { recursive: true });
    const popup = await tb.screenshot(join(dir, 'thunderbird-pane.png'));
    assert.match(popup?.url ?? '', /\/pane\/index\.html\?host=thunderbird$/, 'the screenshot has the pane');
  });

  test('a reply to an activity whose draft is not approved is refused at send; approved, it goes', async () => {
    const users = (await api('responsabile', 'GET', `/api/v1/users?mailbox=${protocollo}`)).body.items;
    const id = (email) => users.find((u) => u.email === email).id;
    const created = await api('responsabile', 'POST', '/api/v1/activities', {
      mailbox_id: protocollo, title: 'Risposta da approvare', message_ids: [known.id],
      assignee_id: id('assegnatario@demo.test'), flow: 'approval', approver_id: id('approvatore@demo.test'),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const activity = created.body.id;
    const draft = { to: ['mittente@pec.esempio.test'], cc: [], subject: 'Re: richiesta', body: 'Gentile mittente, confermiamo la ricezione.', attachments: [] };
    const put = await api('assegnatario', 'PUT', `/api/v1/activities/${activity}/draft`, draft);
    assert.equal(put.status, 200, JSON.stringify(put.body));

    // What the pane's "reply" does (hosts/thunderbird.js → background): the reply form opens
    // filled with the draft, remembered as the activity's.
    const opened = await tb.script('extension-page', {
      id: GECKO_ID, headerMessageId: known.message_id,
      message: { type: 'pecdesk.reply', activityId: activity, to: draft.to, subject: draft.subject, body: draft.body },
    });
    assert.equal(opened.ok, true, JSON.stringify(opened));
    await tb.waitForLog(new RegExp(`reply opened for activity ${activity}`));
    await new Promise((r) => setTimeout(r, 2000));

    const refused = await tb.script('compose', { send: true, waitMs: 5000 });
    await tb.waitForLog(new RegExp(`send refused for activity ${activity}: draft not approved`));
    assert.equal(refused.count, 1, 'the compose window stays open');
    assert.equal(refused.windows[0].subject, draft.subject);
    assert.equal(smtp.connections.length, 0, 'nothing reached the SMTP server');
    const detail = await api('responsabile', 'GET', `/api/v1/activities/${activity}`);
    assert.deepEqual(detail.body.outgoing, [], 'nothing in the companion\'s outbox for the activity');
    assert.notEqual(detail.body.status, 'done');

    // The assignee works it and asks; the approver approves; the same send now goes out.
    const now = (await api('assegnatario', 'GET', `/api/v1/activities/${activity}`)).body;
    const started = await api('assegnatario', 'POST', `/api/v1/activities/${activity}/transitions`, { to: 'in_progress', version: now.version });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    const asked = await api('assegnatario', 'POST', `/api/v1/activities/${activity}/approval-request`, {});
    assert.equal(asked.status, 200, JSON.stringify(asked.body));
    const approved = await api('approvatore', 'POST', `/api/v1/activities/${activity}/approval`, { decision: 'approve', note: 'ok' });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    const sent = await tb.script('compose', { send: true, waitMs: 8000 });
    await tb.waitForLog(new RegExp(`send allowed for activity ${activity}`));
    assert.equal(sent.count, 0, 'the compose window closed after sending');
    assert.equal(smtp.messages.length, 1, 'the approved reply reached the SMTP server');
    assert.match(smtp.messages[0].data, new RegExp(`^X-PecDesk-Activity: ${activity}\r?$`, 'im'));
  });

  test('a reply opened by hand to a message linked to an activity awaiting approval is refused at send', async () => {
    // The fixture (imported by the menu above) already has an activity without approval; a
    // second one with the approval flow and a draft not approved is linked to it.
    const fixture = (await api('responsabile', 'GET', `/api/v1/messages/lookup?message_id=${encodeURIComponent(FIXTURE_ID)}`)).body[0];
    const users = (await api('responsabile', 'GET', `/api/v1/users?mailbox=${protocollo}`)).body.items;
    const id = (email) => users.find((u) => u.email === email).id;
    const created = await api('responsabile', 'POST', '/api/v1/activities', {
      mailbox_id: protocollo, title: 'Risposta a mano', message_ids: [fixture.id],
      assignee_id: id('assegnatario@demo.test'), flow: 'approval', approver_id: id('approvatore@demo.test'),
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const activity = created.body.id;
    const put = await api('assegnatario', 'PUT', `/api/v1/activities/${activity}/draft`,
      { to: ['mittente@pec.esempio.test'], cc: [], subject: 'Re: a mano', body: 'Bozza.', attachments: [] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const linked = await api('responsabile', 'GET', `/api/v1/activities?message=${fixture.id}`);
    assert.equal(linked.body.items.length, 2, 'the bulk activity and the approval one');

    const sentBefore = smtp.messages.length;
    const opened = await tb.script('extension-page', { id: GECKO_ID, headerMessageId: FIXTURE_ID, replyByHand: true });
    assert.ok(opened.tabId, JSON.stringify(opened));
    await new Promise((r) => setTimeout(r, 2000));
    const refused = await tb.script('compose', { send: true, waitMs: 5000 });
    await tb.waitForLog(new RegExp(`send refused for activity ${activity}: draft not approved`));
    assert.equal(refused.count, 1, 'the compose window stays open');
    assert.equal(smtp.messages.length, sentBefore, 'nothing more reached the SMTP server');
    assert.deepEqual((await api('responsabile', 'GET', `/api/v1/activities/${activity}`)).body.outgoing, []);
    await tb.script('compose', { close: true });
  });

  test('the work account: identity.launchWebAuthFlow against the organisation\'s OpenID provider', async () => {
    // The redirect URL the organisation registers (docs/addin.md "Install"), from the extension.
    const redirect = await tb.script('extension-page', { id: GECKO_ID, redirectUrl: true });
    assert.match(redirect, /^https:\/\/[0-9a-f]{40}\.extensions\.allizom\.org\/$/);
    idp = await startIdp([redirect]);

    // The demo organisation's administrator sets its IdP: the provider's first tenant,
    // confidential client, the extension's URL registered for the `thunderbird` client.
    const admin = await companion.devLogin('admin@demo.test');
    const org = (await companion.api(admin, 'GET', '/api/v1/me')).body.user.org_id;
    const put = await companion.api(admin, 'PUT', '/api/v1/auth/idp', {
      issuer: idp.acme, client_id: 'pecdesk', client_secret: 'acme-secret',
      scopes: ['openid', 'email', 'profile', 'groups'],
      claims: { email: 'email', name: 'name', groups: 'groups' },
      allowed_domains: ['acme.test'],
      redirect_uris: { thunderbird: [redirect] },
    });
    assert.equal(put.status, 204, JSON.stringify(put.body));

    // What the pane's "Accedi con l'account aziendale" does (hosts/thunderbird.js signIn).
    const signedIn = await tb.script('extension-page', {
      id: GECKO_ID, message: { type: 'pecdesk.signIn', org, loginHint: 'alice@acme.test' },
    });
    assert.equal(signedIn.ok, true, JSON.stringify(signedIn));
    await tb.waitForLog(/\[pecdesk\] signed in \(oidc\)/);
    assert.ok(signedIn.value.refresh_token, 'the SSO sign-in gives a refresh token');

    // The tokens the extension now holds are the companion's, for the IdP user.
    const held = await tb.script('extension-page', { id: GECKO_ID, message: { type: 'pecdesk.tokens' } });
    assert.equal(held.ok, true, JSON.stringify(held));
    assert.equal(held.value.access_token, signedIn.value.access_token);
    const me = await companion.api(held.value.access_token, 'GET', '/api/v1/me');
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.user.email, 'alice@acme.test');
    assert.equal(me.body.user.name, 'Alice Rossi');
    assert.equal(me.body.user.org_id, org);

    // A user of the IdP whose e-mail domain the organisation does not allow: refused, and
    // the extension keeps the tokens it had. (Without the IdP's session cookie, which would
    // sign Alice in again whatever the login hint.)
    await tb.script('clear-cookies');
    const refused = await tb.script('extension-page', {
      id: GECKO_ID, message: { type: 'pecdesk.signIn', org, loginHint: 'mallory@evil.test' },
    });
    assert.equal(refused.ok, false, JSON.stringify(refused));
    assert.match(refused.error, /403/);
    await tb.waitForLog(/\[pecdesk\] sign-in refused by the companion \(403\)/);
    const still = await tb.script('extension-page', { id: GECKO_ID, message: { type: 'pecdesk.tokens' } });
    assert.equal(still.value.access_token, signedIn.value.access_token);
  });
});
