// The whole story in the task pane, on SQLite and on PostgreSQL: a demo PEC on screen in
// Outlook (the Office.js double), taken in charge, two activities created from it, a comment
// with a mention, a draft whose send is refused before approval, the approval by another
// user in another browser context, the send through the companion (the demo's simulator
// delivers it), the reply form in the client, the collision warning between two contexts,
// and the no-message views (queues, search, stato del messaggio).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { launch, screenshot } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';
import { openPane, paneContext, rendered, showItem, signIn } from './support/pane.mjs';

// The PostgreSQL server of the test suite (a database of its own is created and dropped).
const PG = process.env.PECDESK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function psql(sql) {
  execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' });
}

async function until(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The titles of the activities linked to a message, as the companion's details say. */
async function linkedTitles(companion, token, messageId) {
  const list = await companion.api(token, 'GET', '/api/v1/activities?limit=200');
  const titles = [];
  for (const a of list.body.items) {
    const d = await companion.api(token, 'GET', `/api/v1/activities/${a.id}`);
    if (d.body.message_ids.includes(messageId)) titles.push(a.title);
  }
  return titles.sort();
}

for (const engine of ['sqlite', 'postgres']) {
  describe(`task pane story on ${engine}`, () => {
    let companion;
    let browser;
    let database = null;
    let rita;   // responsabile: takes, creates
    let aldo;   // assegnatario: works, drafts, asks approval, sends
    let paolo;  // approvatore
    let tokens;
    let message; // demo PEC 01 (the Comune's request)
    let activityId;
    let pecBytes;
    const shots = engine === 'sqlite'; // screenshots once

    before(async () => {
      if (engine === 'postgres') {
        database = `pecdesk_pane_${process.pid}_${Date.now()}`;
        psql(`CREATE DATABASE ${database}`);
        companion = await startCompanion({ postgres: PG.replace(/\/[^/]*$/, `/${database}`) });
      } else {
        companion = await startCompanion();
      }
      browser = await launch();
      tokens = {
        rita: await companion.devLogin('responsabile@demo.test'),
        aldo: await companion.devLogin('assegnatario@demo.test'),
      };
      const list = await companion.api(tokens.rita, 'GET', '/api/v1/messages?q=pratica%20edilizia%2042&limit=5');
      message = list.body.items.find((m) => m.kind === 'posta-certificata');
      assert.ok(message, 'demo PEC 01 is in the companion');
    });
    after(async () => {
      await browser?.close();
      await companion?.stop();
      if (database) psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });

    test('the PEC on screen: certified, taken in charge, two activities created from it', async () => {
      const context = await paneContext(browser);
      rita = await openPane(context, companion);
      await signIn(rita, 'responsabile@demo.test');
      pecBytes = new Uint8Array(await (await fetch(`${companion.url}/api/v1/messages/${message.id}/raw`, { headers: { authorization: `Bearer ${tokens.rita}` } })).arrayBuffer());
      await showItem(rita, pecBytes, { internetMessageId: `<${message.message_id}>`, subject: message.subject });
      const panel = rita.locator('section[data-view="certification"]');
      await panel.locator('[data-cert="certified"]').waitFor();
      const text = await panel.innerText();
      assert.match(text, /Posta certificata/);
      assert.match(text, /protocollo@pec\.comune-esempio\.test/);
      assert.match(await rita.locator('main').innerText(), /Verifica del servizio PecDesk|da lavorare/);

      await rendered(rita, () => rita.locator('button[data-action="take"]').click());
      assert.match(await rita.locator('main').innerText(), /Preso in carico da Rita Responsabile/);
      const taken = await companion.api(tokens.rita, 'GET', `/api/v1/messages/${message.id}`);
      assert.equal(taken.body.state, 'taken');

      await rendered(rita, () => rita.locator('button[data-action="new-activity"]').click(), 'create');
      const form = rita.locator('form[data-view="create"]');
      await form.getByLabel('Titolo').fill('Rispondere al Comune sulla pratica 42');
      await form.getByLabel('Assegna a').selectOption({ label: 'Aldo Assegnatario' });
      await form.getByLabel('Flusso').selectOption('approval');
      await form.getByLabel('Approvatore').selectOption({ label: 'Paolo Approvatore' });
      await form.getByLabel('Scadenza').fill('2026-12-15');
      await form.getByLabel('Priorità').selectOption('high');
      if (shots) await screenshot(rita, 'pane-create-activity', { fullPage: true });
      await form.locator('button[data-action="create"]').click();
      await form.locator('.created', { hasText: 'Attività creata' }).waitFor();
      // A second activity from the same message, for a team.
      await form.getByLabel('Titolo').fill('Archiviare la documentazione della pratica 42');
      await form.getByLabel('Assegna a').selectOption({ label: 'Ufficio Legale' });
      await form.getByLabel('Flusso').selectOption('standard');
      await form.locator('button[data-action="create"]').click();
      await form.locator('.created', { hasText: 'Archiviare' }).waitFor();

      const acts = await companion.api(tokens.rita, 'GET', '/api/v1/activities?q=pratica%2042&limit=10');
      const mine = acts.body.items.filter((a) => a.title.includes('pratica 42'));
      assert.equal(mine.length, 2);
      const main = mine.find((a) => a.flow === 'approval');
      assert.equal(main.assignee_name, 'Aldo Assegnatario');
      assert.equal(main.approver_name, 'Paolo Approvatore');
      assert.equal(main.priority, 'high');
      activityId = main.id;
      const detail = await companion.api(tokens.rita, 'GET', `/api/v1/activities/${activityId}`);
      assert.deepEqual(detail.body.message_ids, [message.id]);

      await rendered(rita, () => rita.locator('#tabs .tab[data-tab="message"]').click(), 'message');
      const linked = (await rita.locator('main [data-activity] .title').allTextContents()).sort();
      assert.deepEqual(linked, await linkedTitles(companion, tokens.rita, message.id), 'the activities linked to the message are listed');
      assert.ok(linked.includes('Rispondere al Comune sulla pratica 42') && linked.includes('Archiviare la documentazione della pratica 42'));
      if (shots) await screenshot(rita, 'pane-message-work', { fullPage: true });
      assert.deepEqual(rita.errors ?? [], []);
    });

    test('the assignee works it: comment with a mention, draft, send refused before approval, approval request', async () => {
      const context = await paneContext(browser);
      aldo = await openPane(context, companion);
      await signIn(aldo, 'assegnatario@demo.test');
      await aldo.locator(`button[data-activity="${activityId}"]`).waitFor();
      await rendered(aldo, () => aldo.locator(`button[data-activity="${activityId}"]`).click(), 'activity');
      await rendered(aldo, () => aldo.locator('button[data-action="to-in_progress"]').click(), 'activity');
      assert.match(await aldo.locator('section[data-view="activity"]').innerText(), /in lavorazione/);

      // Comment with an @mention picked from the suggestions.
      const comment = aldo.getByLabel(/Nuovo commento/);
      await comment.pressSequentially('Bozza pronta, @Pao');
      await aldo.locator('.mentions button', { hasText: '@Paolo Approvatore' }).click();
      await comment.pressSequentially('puoi darle un occhio?');
      await rendered(aldo, () => aldo.locator('button[data-action="add-comment"]').click(), 'activity');
      await aldo.locator('.comments mark.mention', { hasText: '@Paolo Approvatore' }).waitFor();
      // Edit it: history kept.
      await aldo.locator('button[data-action="edit-comment"]').click();
      await aldo.locator('.comments textarea').fill('Bozza pronta, @Paolo Approvatore puoi darle un occhio? Grazie');
      await rendered(aldo, () => aldo.locator('button[data-action="save-comment"]').click(), 'activity');
      await aldo.locator('.comments details summary', { hasText: 'Versioni precedenti' }).waitFor();

      // The draft.
      await aldo.getByLabel(/^A \(indirizzi/).fill('protocollo@pec.comune-esempio.test');
      await aldo.getByLabel('Oggetto', { exact: true }).fill('Re: Richiesta documentazione pratica edilizia n. 42/2026');
      await aldo.getByLabel('Testo').fill('Gentili signori,\nin allegato la documentazione richiesta.\nCordiali saluti');
      await rendered(aldo, () => aldo.locator('button[data-action="save-draft"]').click(), 'activity');

      // Send before approval: the pane offers no send and says why; the companion refuses too.
      assert.equal(await aldo.locator('button[data-action="send"]').count(), 0);
      const blocked = aldo.locator('[data-send-blocked]');
      await blocked.waitFor();
      assert.match(await blocked.innerText(), /solo dopo l'approvazione.*Paolo Approvatore/);
      const refused = await companion.api(tokens.aldo, 'POST', `/api/v1/activities/${activityId}/send`);
      assert.ok([403, 409].includes(refused.status), `send before approval refused (${refused.status})`);

      await aldo.getByLabel(/Nota per l'approvatore/).fill('Controlla i riferimenti normativi, grazie.');
      await rendered(aldo, () => aldo.locator('button[data-action="request-approval"]').click(), 'activity');
      assert.match(await aldo.locator('section[data-view="activity"]').innerText(), /in attesa di approvazione/);
      if (shots) await screenshot(aldo, 'pane-activity', { fullPage: true });
      assert.deepEqual(aldo.errors ?? [], []);
    });

    test('another user approves in another browser context', async () => {
      const context = await paneContext(browser);
      paolo = await openPane(context, companion);
      await signIn(paolo, 'approvatore@demo.test');
      await rendered(paolo, () => paolo.locator('#tabs .tab[data-tab="search"]').click(), 'search');
      await paolo.getByLabel('Cerca in messaggi e attività').fill('pratica 42');
      await paolo.locator('form[role=search] button[type=submit]').click();
      await paolo.locator(`button[data-activity="${activityId}"]`).waitFor();
      await rendered(paolo, () => paolo.locator(`button[data-activity="${activityId}"]`).click(), 'activity');
      await paolo.locator('button[data-action="approve"]').waitFor();
      await paolo.getByLabel('Nota (facoltativa)').fill('Va bene così.');
      if (shots) await screenshot(paolo, 'pane-approval', { fullPage: true });
      await rendered(paolo, () => paolo.locator('button[data-action="approve"]').click(), 'activity');
      assert.match(await paolo.locator('section[data-view="activity"]').innerText(), /approvata/);
      assert.deepEqual(paolo.errors ?? [], []);
    });

    test('the assignee opens the reply in the client, then sends through the companion; the activity closes', async () => {
      // The PEC is on screen in Aldo's Outlook too; he opens the activity from his list.
      await showItem(aldo, pecBytes, { internetMessageId: `<${message.message_id}>`, conversationId: 'conv-pratica-42' });
      await rendered(aldo, () => aldo.locator('#tabs .tab[data-tab="mine"]').click(), 'mine');
      await rendered(aldo, () => aldo.locator(`button[data-activity="${activityId}"]`).click(), 'activity');
      // The reply form of the client, with the approved draft; the send-time check
      // (OnMessageSend) finds the activity through roamingSettings.
      await aldo.locator('button[data-action="reply-in-client"]').click();
      await aldo.locator('#status', { hasText: 'Modulo di risposta aperto' }).waitFor();
      const replies = await aldo.evaluate(() => window.__officeDouble.replies);
      assert.equal(replies.length, 1);
      assert.equal(replies[0].conversationId, 'conv-pratica-42');
      assert.match(replies[0].form.htmlBody, /documentazione richiesta/);
      const roaming = await aldo.evaluate(() => window.__officeDouble.roaming['pecdesk.replies']);
      assert.equal(roaming['conv-pratica-42'], activityId);

      await rendered(aldo, () => aldo.locator('button[data-action="send"]').click(), 'activity');
      const closed = await companion.api(tokens.aldo, 'GET', `/api/v1/activities/${activityId}`);
      assert.equal(closed.body.status, 'done');
      assert.equal(closed.body.outgoing.length, 1);
      // The demo's simulator takes it: sent, then accepted by the (simulated) provider.
      await until('the reply sent by the simulator', async () => {
        const a = await companion.api(tokens.aldo, 'GET', `/api/v1/activities/${activityId}`);
        return ['sent'].includes(a.body.outgoing[0].state) && a.body.outgoing[0];
      });
      assert.deepEqual(aldo.errors ?? [], []);
    });

    test('collision warning: the other user appears, starts replying, then leaves', async () => {
      // A fresh activity both can open (Rita manages, Aldo is assigned).
      const created = await companion.api(tokens.rita, 'POST', '/api/v1/activities', {
        mailbox_id: message.mailbox_id, title: 'Verifica collisione', message_ids: [message.id],
        assignee_id: (await companion.api(tokens.aldo, 'GET', '/api/v1/me')).body.user.id,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      const open = async (page) => {
        await rendered(page, () => page.locator('#tabs .tab[data-tab="search"]').click(), 'search');
        await page.getByLabel('Cerca in messaggi e attività').fill('collisione');
        await page.locator('form[role=search] button[type=submit]').click();
        await rendered(page, () => page.locator(`button[data-activity="${id}"]`).click(), 'activity');
      };
      await open(rita);
      await open(aldo);
      const banner = rita.locator('#presence');
      await banner.locator('[data-presence="viewing"]', { hasText: 'Aldo Assegnatario' }).waitFor({ timeout: 10_000 });
      await aldo.getByLabel('Testo').click();
      await aldo.getByLabel('Testo').pressSequentially('Rispondo io');
      await banner.locator('[data-presence="replying"]', { hasText: 'Aldo Assegnatario sta scrivendo una risposta' }).waitFor({ timeout: 10_000 });
      if (shots) await screenshot(rita, 'pane-collision');
      await aldo.locator('#tabs .tab[data-tab="mine"]').click();
      await banner.waitFor({ state: 'hidden', timeout: 10_000 });

      // The team queue (Rita is in Ufficio Legale): the team's open activities.
      await rendered(rita, () => rita.locator('#tabs .tab[data-tab="team"]').click(), 'team');
      const teamItems = await rita.locator('main [data-activity]').allTextContents();
      assert.ok(teamItems.some((x) => x.includes('Archiviare la documentazione')), 'the activity given to the team is in its queue');
      if (shots) await screenshot(rita, 'pane-queue-team', { fullPage: true });
    });

    test('no message open: queues, the dispatcher queue with the receipts filter, stato del messaggio', async () => {
      const context = await paneContext(browser);
      const sara = await openPane(context, companion);
      await signIn(sara, 'smistatore@demo.test');
      await rendered(sara, () => sara.locator('#tabs .tab[data-tab="dispatch"]').click(), 'dispatch');
      const queue = await sara.locator('main [data-message]').count();
      const api = await companion.api(await companion.devLogin('smistatore@demo.test'), 'GET', '/api/v1/messages?queue=dispatch&limit=50');
      assert.equal(queue, api.body.items.length);
      if (shots) await screenshot(sara, 'pane-queue-dispatch', { fullPage: true });

      await rendered(sara, () => sara.locator('#tabs .tab[data-tab="search"]').click(), 'search');
      await sara.getByLabel('Cerca in messaggi e attività').fill('Trasmissione atti');
      await sara.getByLabel('Ricevute').selectOption('only');
      await sara.locator('form[role=search] button[type=submit]').click();
      await sara.locator('main [data-message]').first().waitFor();
      const onlyReceipts = await sara.locator('main [data-message] .chip', { hasText: /Ricevuta|Avviso/ }).count();
      assert.ok(onlyReceipts >= 2, 'receipts listed');

      await sara.getByLabel('Ricevute').selectOption('hide');
      await sara.locator('form[role=search] button[type=submit]').click();
      await sara.locator('main [data-message] .chip', { hasText: 'PEC inviata' }).first().waitFor();
      await rendered(sara, () => sara.locator('main [data-message]').first().click(), 'message');
      // Esporta ZIP: the message with its receipts and daticert.xml, as the companion packs it.
      const [zip] = await Promise.all([sara.waitForEvent('download'), sara.locator('button[data-action="export"]').click()]);
      assert.match(zip.suggestedFilename(), /^pec-.*\.zip$/);
      const bytes = readFileSync(await zip.path());
      assert.equal(bytes.subarray(0, 2).toString('latin1'), 'PK');
      assert.ok(bytes.includes(Buffer.from('riepilogo.json')), 'the ZIP carries riepilogo.json');
      await rendered(sara, () => sara.locator('button[data-action="delivery"]').click(), 'delivery');
      const rows = sara.locator('table.delivery tbody tr');
      assert.ok(await rows.count() >= 1);
      assert.match(await rows.first().innerText(), /consegnata|non consegnata|in attesa/);
      if (shots) await screenshot(sara, 'pane-delivery', { fullPage: true });

      // The PEC as Outlook stores a copy with a header added by Exchange: not the companion's
      // bytes, so the pane checks the copy on screen itself, against the providers the
      // companion trusts (/addin/trust/providers.json; in demo mode the demo provider): the
      // signature covers the body only, so the copy is certified.
      const withHeader = Buffer.concat([Buffer.from('X-MS-Exchange-Organization-Test: 1\r\n'), Buffer.from(pecBytes)]);
      await showItem(sara, withHeader, { internetMessageId: `<${message.message_id}>` });
      const panel = sara.locator('section[data-view="certification"]');
      await panel.locator('[data-cert="certified"]').waitFor();
      assert.match(await panel.innerText(), /Verifica eseguita in questo client/);

      // A copy whose body a mail client re-encoded (one byte of the signed text changed): it
      // never verifies, and the pane points to the companion's certified copy instead.
      const reencoded = Buffer.from(pecBytes);
      const text = reencoded.toString('latin1');
      // The first byte of the text part's body (the demo PECs are stored with LF endings).
      const blank = /\r?\n\r?\n/g;
      blank.lastIndex = text.indexOf('text/plain');
      assert.ok(blank.exec(text), 'the text part has a body');
      let at = blank.lastIndex;
      while (!/[A-Za-z0-9]/.test(text[at])) at += 1;
      reencoded[at] = text[at] === 'A' ? 0x42 : 0x41;
      await showItem(sara, reencoded, { internetMessageId: `<${message.message_id}>` });
      await panel.locator('[data-cert="unverified"]').waitFor();
      await panel.locator('[data-companion-copy="certified"]').waitFor();
      if (shots) await screenshot(sara, 'pane-outlook-copy');
      // Sara created none of them here: the linked activities come from the companion.
      const listed = (await sara.locator('main [data-activity] .title').allTextContents()).sort();
      assert.deepEqual(listed, await linkedTitles(companion, tokens.rita, message.id));
      assert.ok(listed.includes('Verifica collisione'));
      await rendered(sara, () => panel.locator('button[data-action="open-companion-copy"]').click(), 'message');
      await sara.locator('section[data-view="certification"] [data-cert="certified"]').waitFor();
      assert.deepEqual(sara.errors ?? [], []);
      await context.close();
    });
  });
}
