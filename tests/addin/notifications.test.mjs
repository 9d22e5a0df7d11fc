// @mentions notify (issue 15), in real Chromium against a real companion: Aldo mentions
// Paolo in a comment from his pane; Paolo's pane, open meanwhile, shows the unread count on
// its bell at the next 60 s refresh (the page's clock is moved on, not waited for), lists
// the notification, and opening it shows the activity and marks it read.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { launch, screenshot } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';
import { openPane, paneContext, rendered, signIn } from './support/pane.mjs';

describe('notifications of @mentions in the pane', () => {
  let companion;
  let browser;
  let tokens;
  let activityId;
  const title = 'Verificare la ricevuta di consegna al Comune';

  before(async () => {
    companion = await startCompanion();
    browser = await launch();
    tokens = {
      rita: await companion.devLogin('responsabile@demo.test'),
      paolo: await companion.devLogin('approvatore@demo.test'),
    };
    const protocollo = (await companion.api(tokens.rita, 'GET', '/api/v1/mailboxes')).body
      .find((m) => m.address === 'protocollo@pec.demo.test');
    assert.ok(protocollo, 'the demo has Protocollo');
    const aldo = (await companion.api(tokens.rita, 'GET', '/api/v1/users?q=Aldo')).body.items[0];
    const msgs = await companion.api(tokens.rita, 'GET', `/api/v1/messages?mailbox=${protocollo.id}&limit=1`);
    const created = await companion.api(tokens.rita, 'POST', '/api/v1/activities', {
      mailbox_id: protocollo.id,
      title,
      assignee_id: aldo.id,
      message_ids: [msgs.body.items[0].id],
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    activityId = created.body.id;
  });
  after(async () => {
    await browser?.close();
    await companion?.stop();
  });

  test('Aldo mentions Paolo; Paolo sees the count, the notification, and opens the activity', async () => {
    // Paolo's pane is open first, its clock under the test's control.
    const paoloContext = await paneContext(browser);
    await paoloContext.clock.install();
    const paolo = await openPane(paoloContext, companion);
    await signIn(paolo, 'approvatore@demo.test');
    const bell = paolo.locator('#bell');
    await bell.waitFor();
    assert.equal(await bell.getAttribute('aria-label'), 'Notifiche: nessuna da leggere');
    assert.equal(await paolo.locator('#bell .count').isVisible(), false);

    // Aldo comments with a mention picked from the suggestions.
    const aldo = await openPane(await paneContext(browser), companion);
    await signIn(aldo, 'assegnatario@demo.test');
    await aldo.locator(`button[data-activity="${activityId}"]`).waitFor();
    await rendered(aldo, () => aldo.locator(`button[data-activity="${activityId}"]`).click(), 'activity');
    const comment = aldo.getByLabel(/Nuovo commento/);
    await comment.pressSequentially('Ricevuta arrivata, @Pao');
    await aldo.locator('.mentions button', { hasText: '@Paolo Approvatore' }).click();
    await comment.pressSequentially('puoi controllare la firma?');
    await rendered(aldo, () => aldo.locator('button[data-action="add-comment"]').click(), 'activity');
    await aldo.locator('.comments mark.mention', { hasText: '@Paolo Approvatore' }).waitFor();
    // Aldo, the author, is not told about his own comment.
    assert.equal(await aldo.locator('#bell .count').isVisible(), false);

    // Within a minute Paolo's bell shows it.
    await paolo.clock.fastForward('01:01');
    await paolo.locator('#bell .count', { hasText: '1' }).waitFor();
    assert.equal(await bell.getAttribute('aria-label'), 'Notifiche: 1 da leggere');

    // From the keyboard: the bell opens the list.
    await bell.focus();
    await rendered(paolo, () => paolo.keyboard.press('Enter'), 'notifications');
    const item = paolo.locator('main button.notification');
    assert.equal(await item.count(), 1);
    const text = await item.innerText();
    assert.match(text, /Aldo Assegnatario ti ha menzionato/);
    assert.match(text, new RegExp(title));
    // The bell is marked as where the user is; no tab is.
    assert.equal(await bell.getAttribute('aria-current'), 'page');
    assert.equal(await paolo.locator('#tabs [aria-current="page"]').count(), 0);
    assert.match(text, /Ricevuta arrivata, @Paolo Approvatore puoi controllare la firma\?/);
    assert.match(text, /nuova/);
    await paolo.locator('main mark.mention', { hasText: '@Paolo Approvatore' }).waitFor();
    await screenshot(paolo, 'pane-notifications', { fullPage: true });

    // Opening it shows the activity and marks it read.
    await rendered(paolo, () => item.click(), 'activity');
    assert.match(await paolo.locator('main h1, main h2').first().innerText(), new RegExp(title));
    await paolo.locator('.comments mark.mention', { hasText: '@Paolo Approvatore' }).waitFor();
    await paolo.locator('#bell .count').waitFor({ state: 'hidden' });
    assert.equal(await bell.getAttribute('aria-label'), 'Notifiche: nessuna da leggere');
    const list = await companion.api(tokens.paolo, 'GET', '/api/v1/notifications');
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].activity_id, activityId);
    assert.ok(list.body.items[0].read_at, 'marked read');
    const unread = await companion.api(tokens.paolo, 'GET', '/api/v1/notifications?unread=true');
    assert.deepEqual(unread.body.items, []);

    // In English the bell says so too.
    await paolo.locator('.bar button[lang="en"]').click();
    assert.equal(await paolo.locator('#bell').getAttribute('aria-label'), 'Notifications: none unread');
    assert.deepEqual(paolo.errors ?? [], []);
    assert.deepEqual(aldo.errors ?? [], []);
  });
});
