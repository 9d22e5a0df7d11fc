// The web desk at `/` (companion/desk/, docs/desk.md) in real Chromium against a real
// `pecdesk serve --demo`, on SQLite and on PostgreSQL: every page with the demo's data and a
// screenshot (docs/screenshots/desk-*.png), keyboard navigation, the dispatcher routing a
// message in one click while a team leader in another browser context sees it arrive in
// the team queue (and leave the dispatcher queue), a rule's preview and reorder, and the
// audit chain verified intact. Also the HTTP side: CSP and headers, and the 503 that says
// what to do when the desk's folder is missing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { launch, screenshot } from './support/browser.mjs';
import { repo, startCompanion } from './support/companion.mjs';
import { startIdp } from './support/idp.mjs';

const PG = process.env.PECDESK_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function psql(sql) {
  execFileSync('psql', [PG, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql], { stdio: 'pipe' });
}

/** A desk in a browser context of its own, signed in as `email` with the demo picker. */
async function openDesk(browser, companion, email) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'it-IT' });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  await page.goto(`${companion.url}/`);
  await page.getByRole('button', { name: new RegExp(email.replace('.', '\\.')) }).click();
  await page.waitForSelector('main [data-page="mine"]');
  return page;
}

/** Goes to `#/id` and waits until the page rendered (no request pending). */
async function go(page, id) {
  await page.evaluate((h) => { location.hash = h; }, `#/${id}`);
  await page.waitForSelector(`main > [data-page="${id.split('/')[0]}"]`);
  await page.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy'));
}

for (const engine of ['sqlite', 'postgres']) {
  describe(`web desk on ${engine}`, () => {
    let companion;
    let browser;
    let database = null;
    let tokens;
    const shots = engine === 'sqlite'; // screenshots once
    const shot = async (page, name) => { if (shots) await screenshot(page, `desk-${name}`); };

    before(async () => {
      if (engine === 'postgres') {
        database = `pecdesk_desk_${process.pid}_${Date.now()}`;
        psql(`CREATE DATABASE ${database}`);
        companion = await startCompanion({ postgres: PG.replace(/\/[^/]*$/, `/${database}`) });
      } else {
        companion = await startCompanion();
      }
      browser = await launch();
      tokens = {
        admin: await companion.devLogin('admin@demo.test'),
        rita: await companion.devLogin('responsabile@demo.test'),
      };
      // The rule preview reads only messages the caller may read: the demo's administrator
      // holds MAIL_ACCOUNT_READER on Protocollo for it.
      const admin = await companion.api(tokens.admin, 'GET', '/api/v1/me');
      assert.ok(admin.body.grants.some((g) => g.address.startsWith('protocollo@') && g.policies.includes('MAIL_ACCOUNT_READER')));
    });
    after(async () => {
      await browser?.close();
      await companion?.stop();
      if (database) psql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    });

    test('served at / with a strict CSP, its files under /desk/, nothing outside its folder', async () => {
      const index = await fetch(`${companion.url}/`);
      assert.equal(index.status, 200);
      assert.match(index.headers.get('content-type'), /^text\/html; charset=utf-8/);
      const csp = index.headers.get('content-security-policy');
      assert.match(csp, /script-src 'self';/);
      assert.match(csp, /frame-ancestors 'none'/);
      assert.doesNotMatch(csp, /unsafe-inline/);
      assert.equal(index.headers.get('x-frame-options'), 'DENY');
      const html = await index.text();
      assert.match(html, /src="\/desk\/desk\.js"/);
      assert.doesNotMatch(html, /<script>|style="/, 'no inline script or style');
      const js = await fetch(`${companion.url}/desk/desk.js`);
      assert.equal(js.status, 200);
      assert.match(js.headers.get('content-type'), /javascript/);
      // The shared modules are the pane's.
      assert.equal((await fetch(`${companion.url}/addin/dom.js`)).status, 200);
      for (const bad of ['/desk/..%2f..%2fCargo.toml', '/desk/%2e%2e/%2e%2e/Cargo.toml', '/desk/nope.js']) {
        const r = await fetch(`${companion.url}${bad}`);
        assert.equal(r.status, 404, bad);
        assert.equal((await r.json()).error.code, 'not_found');
      }
    });

    test('the sign-in offers the demo users with their role in words, and signs in', async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      await page.goto(`${companion.url}/`);
      await page.waitForSelector('[data-page="signin"]');
      const users = page.locator('.users button');
      assert.equal(await users.count(), 5);
      assert.match(await users.first().innerText(), /Rita · responsabile@demo\.test\s+responsabile/);
      assert.match(await page.locator('#signin-corp').innerText(), /account aziendale/);
      await shot(page, 'signin');
      await context.close();
    });

    test('every page renders with real data (responsabile, smistatore, admin)', async () => {
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      // La mia scrivania: the PA's protocol routed to Rita by the demo rule.
      const mine = rita.locator('[data-table="mine"] tbody tr');
      assert.ok(await mine.count() >= 1);
      assert.match(await rita.locator('[data-table="mine"]').innerText(), /Protocollo in arrivo da una PA/);
      // Aldo's desk has more on it: the reply waiting for approval among his activities, and
      // one overdue since yesterday (given by Rita now), which comes first, marked in words.
      const meRita = (await companion.api(tokens.rita, 'GET', '/api/v1/me')).body;
      const protocollo = meRita.grants.find((g) => g.address.startsWith('protocollo@')).id;
      const aldoId = (await companion.api(tokens.rita, 'GET', `/api/v1/users?mailbox=${protocollo}&q=Aldo`)).body.items[0].id;
      const late = await companion.api(tokens.rita, 'POST', '/api/v1/activities', {
        mailbox_id: protocollo, title: 'Sollecitare il fornitore per il DURC', message_ids: [],
        assignee_id: aldoId, priority: 'urgent', due_at: new Date(Date.now() - 26 * 3600_000).toISOString(),
      });
      assert.equal(late.status, 201, JSON.stringify(late.body));
      const aldo = await openDesk(browser, companion, 'assegnatario@demo.test');
      // Overdue first (the demo's routed PECs may be overdue too: their due dates count from
      // the certified delivery), each marked in words, and the tile counts them.
      const rows = aldo.locator('[data-table="mine"] tbody tr');
      const classes = await rows.evaluateAll((trs) => trs.map((tr) => tr.className));
      const overdue = classes.filter((c) => c === 'is-overdue').length;
      assert.ok(overdue >= 1);
      assert.deepEqual(classes.slice(0, overdue), Array(overdue).fill('is-overdue'), 'overdue rows lead the list');
      assert.ok(!classes.slice(overdue).includes('is-overdue'));
      const lateRow = aldo.locator('[data-table="mine"] tbody tr', { hasText: 'Sollecitare il fornitore per il DURC' });
      assert.equal(await lateRow.getAttribute('class'), 'is-overdue');
      assert.match(await lateRow.innerText(), /scaduta il/);
      assert.equal(await aldo.locator('.tile', { hasText: 'Scadute' }).locator('.n').innerText(), String(overdue));
      const aldoRows = await rows.allInnerTexts();
      assert.ok(aldoRows.length >= 3);
      assert.ok(aldoRows.some((r) => /Rispondere alla richiesta di documenti del Comune/.test(r) && /in attesa di approvazione/.test(r)));
      assert.equal(await aldo.locator('.tile', { hasText: 'In attesa di approvazione' }).locator('.n').innerText(), '1');
      await shot(aldo, 'mine');
      await aldo.context().close();

      await go(rita, 'teams');
      const team = rita.locator('[data-team="Ufficio Legale"]');
      assert.match(await team.innerText(), /Verificare la fattura del fornitore/);
      // Unassigned first.
      assert.match(await team.locator('tbody tr').first().innerText(), /nessuno/);
      assert.match(await rita.locator('[data-table="load"]').innerText(), /Aldo Assegnatario/);
      // The counts are the companion's (GET /api/v1/activities/workload), not the browser's.
      const workload = (await companion.api(tokens.rita, 'GET', '/api/v1/activities/workload')).body;
      const legal = workload.teams.find((x) => x.team_name === 'Ufficio Legale');
      assert.match(await team.locator('h2').innerText(), new RegExp(`${legal.free} da prendere.*${legal.open} aperte`, 's'));
      assert.equal(await team.locator('tbody tr').count(), Math.min(legal.open, 25));
      await shot(rita, 'teams');

      await go(rita, 'dispatch');
      assert.match(await rita.locator('[data-table="dispatch"]').innerText(), /Richiesta appuntamento per la pratica 12\/2026/);
      await shot(rita, 'dispatch');

      await go(rita, 'mailbox');
      // Receipts grouped under the sent message they certify, none listed on its own.
      const sent = rita.locator('tr[data-message]', { hasText: 'Trasmissione atti richiesti' });
      assert.equal(await sent.count(), 1);
      const next = sent.locator('xpath=following-sibling::tr[1]');
      assert.equal(await next.getAttribute('class'), 'receipt');
      assert.match(await next.innerText(), /accettazione/i);
      await shot(rita, 'mailbox');
      await rita.getByLabel('Ricevute').selectOption('hide');
      await rita.waitForFunction(() => !document.querySelector('tr.receipt'));

      await go(rita, 'campaigns');
      await rita.getByRole('link', { name: 'Convocazione conferenza dei servizi' }).click();
      await rita.waitForSelector('[data-table="recipients"]');
      assert.equal(await rita.locator('[data-table="recipients"] tbody tr').count(), 6);
      await shot(rita, 'campaigns');
      // Only what the state allows: running → pause (then resume), cancel.
      const state = (await companion.api(tokens.rita, 'GET', '/api/v1/campaigns')).body.items[0].state;
      if (state === 'running') {
        assert.equal(await rita.getByRole('button', { name: 'Riprendi' }).count(), 0);
        await rita.getByRole('button', { name: 'Metti in pausa' }).click();
        await rita.getByRole('button', { name: 'Riprendi' }).waitFor();
        assert.match(await rita.locator('#camp-state').innerText(), /in pausa/);
        await rita.getByRole('button', { name: 'Riprendi' }).click();
        await rita.getByRole('button', { name: 'Metti in pausa' }).waitFor();
        assert.equal(await rita.getByRole('button', { name: 'Annulla l’invio' }).count(), 1);
      } else {
        assert.equal(state, 'done');
        assert.equal(await rita.getByRole('button', { name: 'Metti in pausa' }).count(), 0);
      }

      // Attività: the approval story of the demo (draft v2 awaiting Paolo).
      await go(rita, 'mine');
      await go(rita, 'teams');
      await rita.getByRole('link', { name: 'Verificare la fattura del fornitore' }).click();
      await rita.waitForSelector('main > [data-page="activity"]');
      assert.match(await rita.locator('main').innerText(), /Controllare il DURC/);
      // The moves are the companion's answer (allowed_actions), as buttons.
      assert.ok(await rita.locator('[data-action^="to-"]').count() >= 1);
      await shot(rita, 'activity');

      // An activity on a sent PEC: its delivery per recipient (the demo campaign's
      // undelivered recipient, once the simulator's receipts are in).
      let failed;
      const deadline = Date.now() + 60_000;
      while (!failed && Date.now() < deadline) {
        const r = await companion.api(tokens.rita, 'GET', '/api/v1/activities?q=inesistente&limit=5');
        failed = r.body.items[0];
        if (!failed) await new Promise((ok) => setTimeout(ok, 250));
      }
      assert.ok(failed, 'the demo campaign opened an activity for the undelivered recipient');
      await go(rita, `activity/${failed.id}`);
      const delivery = rita.locator('[data-table="delivery"]');
      assert.match(await delivery.innerText(), /inesistente@pec\.esempio\.test/);
      assert.match(await delivery.innerText(), /non consegnat/i);
      await shot(rita, 'activity-delivery');

      // Statistiche: the demo's PECs counted, charts drawn, the same numbers in a table, CSV.
      await go(rita, 'stats');
      const received = Number(await rita.locator('.tile', { hasText: 'Ricevuti' }).locator('.n').innerText());
      assert.ok(received >= 1, 'the demo received PECs in the last 30 days');
      assert.equal(await rita.locator('svg.chart').count(), 2);
      assert.ok(await rita.locator('svg.chart rect.s-received').count() >= 1);
      assert.match(await rita.locator('.legend').innerText(), /tratteggio/);
      const download = rita.waitForEvent('download');
      await rita.getByRole('button', { name: 'Esporta CSV' }).click();
      const csv = await (await download).path().then((f) => import('node:fs').then((fs) => fs.readFileSync(f, 'utf8')));
      assert.match(csv.split('\n')[0], /received/);
      await shot(rita, 'stats');
      await rita.getByLabel('Raggruppa per').selectOption('operator');
      await rita.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy') && /operatore/.test(document.querySelector('#chart-flow')?.textContent ?? ''));
      await shot(rita, 'stats-operator');
      assert.deepEqual(rita.errors, []);

      const admin = await openDesk(browser, companion, 'admin@demo.test');
      await go(admin, 'admin');
      assert.match(await admin.locator('[data-table="mailboxes"]').innerText(), /protocollo@pec\.demo\.test/);
      // The demo's archive policy on Protocollo (nothing polled, so no run yet).
      assert.match(await admin.locator('[data-mailbox="protocollo@pec.demo.test"] [data-col="archive"]').innerText(), /dopo 90 giorni/);
      assert.match(await admin.locator('[data-table="teams"]').innerText(), /Studio Esterno/);
      assert.equal(await admin.locator('[data-table="users"] tbody tr').count(), 6);
      assert.match(await admin.locator('[data-table="grants"]').innerText(), /MAIL_ACTIVITY_MANAGER/);
      await shot(admin, 'admin');
      await go(admin, 'webhooks');
      // The demo's example subscription, disabled until an administrator points it somewhere.
      assert.match(await admin.locator('[data-table="webhooks"]').innerText(), /disattivato/);
      await shot(admin, 'webhooks');
      assert.deepEqual(admin.errors, []);
      await admin.context().close();
      await rita.context().close();
    });

    test('keyboard: skip link, navigation by Tab and Enter, the page heading takes focus', async () => {
      const page = await openDesk(browser, companion, 'responsabile@demo.test');
      // After sign-in the page heading has focus; the first stop before it is the skip link.
      assert.equal(await page.evaluate(() => document.activeElement.id), 'page-title');
      await page.locator('.skip').focus();
      await page.keyboard.press('Enter');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'main');
      assert.equal(await page.evaluate(() => location.hash), '#/mine', 'the skip link is no navigation');
      // From the top again: Tab walks the bar, then the navigation.
      await page.locator('.skip').focus();
      let reached = false;
      for (let i = 0; i < 15 && !reached; i += 1) {
        await page.keyboard.press('Tab');
        reached = await page.evaluate(() => document.activeElement.dataset.page === 'teams');
      }
      assert.ok(reached, 'the team queues link is reachable by Tab');
      await page.keyboard.press('Enter');
      await page.waitForSelector('main > [data-page="teams"]');
      assert.equal(await page.evaluate(() => document.activeElement.id), 'page-title');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Code dei team');
      assert.equal(await page.locator('nav a[aria-current="page"]').innerText(), 'Code dei team');
      // Every table has a caption, every button and link a name, every control a label.
      const unnamed = await page.evaluate(() => [
        ...[...document.querySelectorAll('table')].filter((t) => !t.caption?.textContent.trim()).map(() => 'table'),
        ...[...document.querySelectorAll('button, a')].filter((b) => !(b.getAttribute('aria-label') || b.textContent.trim())).map((b) => b.outerHTML),
        ...[...document.querySelectorAll('select, input, textarea')].filter((c) => !c.labels?.length && !c.getAttribute('aria-label')).map((c) => c.outerHTML),
      ]);
      assert.deepEqual(unnamed, []);
      // An activity opens with Enter on its link.
      await page.getByRole('link', { name: 'Verificare la fattura del fornitore' }).focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('main > [data-page="activity"]');
      assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Verificare la fattura del fornitore');
      // The English switch: the same page, every label in English, remembered.
      await page.getByLabel('Lingua').selectOption('en');
      await page.waitForFunction(() => document.getElementById('page-title')?.textContent === 'Activity' || document.querySelector('nav a[data-page="mine"]')?.textContent === 'My desk');
      assert.equal(await page.locator('nav a[data-page="teams"]').innerText(), 'Team queues');
      assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
      await page.reload();
      await page.waitForSelector('main > [data-page="activity"]');
      assert.equal(await page.locator('nav a[data-page="dispatch"]').innerText(), 'Dispatching');
      await page.context().close();
    });

    test('the dispatcher routes a message in one click; the team leader sees it in the team queue', async () => {
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      await go(rita, 'dispatch');
      const subject = 'Richiesta appuntamento per la pratica 12/2026';
      assert.match(await rita.locator('main').innerText(), new RegExp(subject));
      const sara = await openDesk(browser, companion, 'smistatore@demo.test');
      await go(sara, 'dispatch');
      const row = sara.locator('tr[data-message]', { hasText: subject });
      await row.getByRole('button', { name: '→ Ufficio Legale' }).click();
      await sara.waitForFunction(() => /instradato a Ufficio Legale/.test(document.getElementById('status').textContent));
      await sara.waitForSelector('[data-empty="dispatch"]');
      await shot(sara, 'dispatch-routed');

      // Rita's dispatcher queue, on screen all along, empties by itself: the event stream
      // told her desk of the routing (no focus, no reload; the 30 s fallback is too slow
      // for this wait).
      assert.equal(await rita.evaluate(() => document.body.dataset.live), 'on');
      await rita.waitForSelector('[data-empty="dispatch"]', { timeout: 10_000 });
      await go(rita, 'teams');
      const queued = rita.locator('[data-team="Ufficio Legale"] tbody tr', { hasText: subject });
      assert.equal(await queued.count(), 1);
      assert.match(await queued.innerText(), /nessuno/);
      // The companion agrees: routed by Sara to the team, with the team's activity.
      const list = await companion.api(tokens.rita, 'GET', `/api/v1/activities?q=${encodeURIComponent('appuntamento')}&limit=10`);
      const act = list.body.items.find((a) => a.title === subject);
      assert.equal(act?.team_name, 'Ufficio Legale');
      assert.equal(act.assignee_id, null);

      // The team leader gives it to Aldo from the queue; the row then says who has it.
      await queued.getByLabel(`Persona a cui assegnare «${subject}»`).selectOption({ label: 'Aldo Assegnatario' });
      await queued.getByRole('button', { name: 'Assegna' }).click();
      await rita.waitForFunction(() => /assegnata a Aldo Assegnatario/.test(document.getElementById('status').textContent));
      await rita.waitForSelector(`[data-team="Ufficio Legale"] tr[data-activity="${act.id}"] [data-who="Aldo Assegnatario"]`);
      const now = await companion.api(tokens.rita, 'GET', `/api/v1/activities/${act.id}`);
      assert.equal(now.body.assignee_name, 'Aldo Assegnatario');
      await shot(rita, 'teams-assigned');
      await sara.context().close();
      await rita.context().close();
    });

    test('webhooks: an administrator subscribes a receiver, sees the secret once, sends a test that arrives signed', async () => {
      const got = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => { got.push({ headers: req.headers, body }); res.writeHead(204).end(); });
      });
      await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
      const target = `http://127.0.0.1:${receiver.address().port}/hook`;
      const admin = await openDesk(browser, companion, 'admin@demo.test');
      try {
        await go(admin, 'webhooks');
        await admin.getByLabel('Indirizzo di destinazione').fill(target);
        await admin.getByLabel('Descrizione').fill('Protocollo informatico');
        await admin.getByRole('button', { name: 'Crea iscrizione' }).click();
        const secret = (await admin.locator('[data-secret] code.secret').innerText()).trim();
        assert.ok(secret.length >= 32, 'the secret is shown once, right after creation');
        await admin.getByRole('link', { name: "Apri l'iscrizione" }).click();
        await admin.waitForSelector('main > [data-page="webhooks"] [data-action="webhook-test"]');
        assert.doesNotMatch(await admin.locator('main').innerText(), new RegExp(secret), 'never shown again');
        await admin.getByRole('button', { name: 'Invia una prova' }).click();
        await admin.waitForFunction(() => /Prova consegnata/.test(document.getElementById('status').textContent));
        // The test deliveries (the demo's own events — an alarm's pass, another test's
        // activity — may reach the new subscription too, as they should).
        const probes = () => got.filter((g) => g.headers['x-pecdesk-event'] === 'webhook.test');
        assert.equal(probes().length, 1);
        const h = probes()[0].headers;
        const expected = createHmac('sha256', secret).update(`${h['x-pecdesk-timestamp']}.${probes()[0].body}`).digest('hex');
        assert.equal(h['x-pecdesk-signature'], `sha256=${expected}`);
        await admin.waitForSelector('[data-table="deliveries"]');
        assert.match(await admin.locator('[data-table="deliveries"]').innerText(), /consegnato/);
        await shot(admin, 'webhook-detail');
        // Rotation: confirmed, the new secret shown once, the next test signed with it only.
        admin.once('dialog', (d) => d.accept());
        await admin.getByRole('button', { name: 'Nuovo segreto' }).click();
        const fresh = (await admin.locator('[data-secret] code.secret').innerText()).trim();
        assert.ok(fresh.length >= 32 && fresh !== secret, 'a new secret, shown');
        await admin.getByRole('button', { name: 'Invia una prova' }).click();
        // The status line already says "Prova consegnata" from the first test: wait on the receiver.
        await new Promise((ok) => { const t0 = Date.now(); const w = () => (probes().length >= 2 || Date.now() - t0 > 10000 ? ok() : setTimeout(w, 50)); w(); });
        assert.equal(probes().length, 2);
        const second = probes()[1];
        const h2 = second.headers;
        const mac = (k) => `sha256=${createHmac('sha256', k).update(`${h2['x-pecdesk-timestamp']}.${second.body}`).digest('hex')}`;
        assert.equal(h2['x-pecdesk-signature'], mac(fresh));
        assert.notEqual(h2['x-pecdesk-signature'], mac(secret));
        assert.deepEqual(admin.errors, []);
      } finally {
        await admin.context().close();
        receiver.close();
      }
    });

    test("alarms: the demo's overdue activity fires its escalation once, to the team leader, who marks it seen", async () => {
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      // The demo's scheduler passes every 10 s; the escalation of the activity two days
      // overdue fires at its first pass.
      const late = 'Riscontrare il sollecito dell\'INPS';
      const row = rita.locator('[data-table="alarms"] tr[data-stage="escalation"]', { hasText: late });
      // Until it has fired and its e-mails are recorded (on a loaded machine the first pass
      // and the recording of the e-mails may take a few seconds).
      const ready = async () => (await row.count()) === 1 && /Rita Responsabile[\s\S]*senza SMTP/.test(await row.innerText());
      for (let i = 0; i < 60 && !(await ready()); i += 1) {
        await rita.waitForTimeout(1000);
        await go(rita, 'alarms');
      }
      assert.equal(await row.count(), 1, 'one escalation, however many passes ran');
      const text = await row.innerText();
      assert.match(text, /segnalata ai responsabili/, text);
      assert.match(text, /Rita Responsabile/, text);
      assert.match(text, /senza SMTP/, text);
      await shot(rita, 'alarms');
      await row.getByRole('button', { name: 'Segna come visto' }).click();
      await rita.waitForFunction(() => /segnato come visto/.test(document.getElementById('status').textContent));
      await rita.getByRole('button', { name: 'Già visti' }).click();
      // The list of seen alarms replaces the open ones (on a loaded machine the old rows
      // may still be there right after the click).
      await rita.waitForSelector('[aria-pressed="true"] >> text=Già visti');
      await rita.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy'));
      const seen = rita.locator('[data-table="alarms"] tr[data-stage="escalation"]', { hasText: late }).filter({ hasNotText: 'Segna come visto' });
      // The acknowledged list, read again until it shows who saw it (a live update or the
      // reload after the click may redraw the page meanwhile on a loaded machine).
      const seenText = async () => ((await seen.count()) === 1 ? seen.innerText() : '');
      for (let i = 0; i < 30 && !/visto da Rita Responsabile/.test(await seenText()); i += 1) {
        await rita.waitForTimeout(1000);
        await go(rita, 'alarms');
        if (await rita.getByRole('button', { name: 'Già visti' }).getAttribute('aria-pressed') !== 'true') {
          await rita.getByRole('button', { name: 'Già visti' }).click();
          await rita.waitForFunction(() => !document.getElementById('main').hasAttribute('aria-busy'));
        }
      }
      assert.equal(await seen.count(), 1, await rita.locator('main').innerText());
      assert.match(await seen.innerText(), /visto da Rita Responsabile/);
      // The companion agrees: one alarm of that stage for the activity, acknowledged.
      const list = await companion.api(tokens.rita, 'GET', '/api/v1/alarms?kind=activity_due&limit=200');
      const esc = list.body.items.filter((a) => a.stage === 'escalation');
      assert.equal(new Set(esc.map((a) => a.object_id)).size, esc.length, 'never two alarms of one stage for one activity');
      assert.deepEqual(rita.errors, []);
      await rita.context().close();
    });

    test('mailbox: folders with counts filter the list, the team leader files a message, the administrator tries a purge first', async () => {
      const protocollo = (await companion.api(tokens.rita, 'GET', '/api/v1/me')).body.grants.find((g) => g.address.startsWith('protocollo@')).id;
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      const admin = await openDesk(browser, companion, 'admin@demo.test');
      try {
        // The demo filed its supplier's PEC in Fornitori/2026: the link's count is the list's length.
        await go(rita, `mailbox/${protocollo}`);
        const demoFolder = rita.locator('[data-filter="folder:Fornitori/2026"]');
        const n = Number((await demoFolder.innerText()).match(/\((\d+)\)/)[1]);
        assert.ok(n >= 1);
        await demoFolder.click();
        await rita.waitForFunction(() => /\/folder\//.test(location.hash) && !document.getElementById('main').hasAttribute('aria-busy'));
        await rita.locator('nav.filters [aria-current="true"][data-filter="folder:Fornitori/2026"]').waitFor();
        assert.equal(await rita.locator('tr[data-message]').count(), n);

        // Filing a message: folder and tags through PATCH, then it is found under its folder.
        await go(rita, `mailbox/${protocollo}`);
        const row = rita.locator('tr[data-message]', { hasText: 'Richiesta documentazione pratica edilizia n. 42/2026' }).first();
        await row.locator('details.classify summary').click();
        await row.getByLabel('Cartella').fill('Contratti/2026');
        await row.getByLabel('Etichette').fill('urbanistica, prova');
        await row.getByRole('button', { name: 'Salva' }).click();
        await rita.waitForFunction(() => /archiviato/.test(document.getElementById('status').textContent));
        const filed = rita.locator('[data-filter="folder:Contratti/2026"]');
        await filed.waitFor();
        assert.match(await filed.innerText(), /\(1\)/);
        await filed.click();
        await rita.locator('nav.filters [aria-current="true"][data-filter="folder:Contratti/2026"]').waitFor();
        assert.equal(await rita.locator('tr[data-message]').count(), 1);
        assert.match(await rita.locator('tr[data-message] [data-filed]').innerText(), /Cartella: Contratti\/2026 · Enti pubblici · #urbanistica · #prova/);
        await shot(rita, 'mailbox-folders');
        const id = await rita.locator('tr[data-message]').getAttribute('data-message');
        assert.deepEqual((await companion.api(tokens.rita, 'GET', `/api/v1/messages/${id}`)).body.tags, ['urbanistica', 'prova']);

        // The administrator: the demo's ten-year retention, and a dry run that purges nothing
        // and says why the trashed message stays.
        const trashed = await companion.api(tokens.rita, 'POST', `/api/v1/messages/${id}/trash`, {});
        assert.equal(trashed.status, 200);
        await go(admin, `mailbox/${protocollo}`);
        assert.equal(await admin.getByLabel('Conservazione (giorni)').inputValue(), '3650');
        await admin.getByLabel('Motivo').fill('scarto di prova');
        await admin.getByRole('button', { name: 'Prova (nessuna eliminazione)' }).click();
        await admin.locator('[data-purge="outcome"] [data-skipped="retention"]').first().waitFor();
        assert.match(await admin.locator('[data-purge="outcome"]').innerText(), /Sarebbero eliminati 0 messaggi/);
        assert.equal(await admin.getByRole('button', { name: 'Elimina definitivamente' }).count(), 0, 'nothing to confirm');
        await admin.locator('[data-purge="outcome"]').scrollIntoViewIfNeeded();
        await shot(admin, 'mailbox-purge');
        assert.equal((await companion.api(tokens.rita, 'GET', `/api/v1/messages/${id}/raw`)).status, 200);
        assert.equal((await companion.api(tokens.rita, 'POST', `/api/v1/messages/${id}/restore`, {})).status, 200);
        assert.deepEqual(rita.errors, []);
        assert.deepEqual(admin.errors, []);
      } finally {
        await rita.context().close();
        await admin.context().close();
      }
    });

    test("evidence: the team leader downloads an activity's and the mailbox's packs, and pecdesk archive verify accepts both", async () => {
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      const list = await companion.api(tokens.rita, 'GET', `/api/v1/activities?q=${encodeURIComponent('fattura del fornitore')}&limit=5`);
      const act = list.body.items[0];
      assert.ok(act, 'the demo has the supplier invoice activity');
      const verify = (file) => execFileSync(process.env.PECDESK_BIN ?? join(repo, 'target', 'debug', 'pecdesk'), ['archive', 'verify', file], { encoding: 'utf8' });
      try {
        await go(rita, `activity/${act.id}`);
        const one = rita.waitForEvent('download');
        await rita.getByRole('button', { name: 'Pacchetto di prova (ZIP)' }).click();
        const pack = await one;
        assert.match(pack.suggestedFilename(), /\.zip$/);
        await rita.waitForFunction(() => /Pacchetto di prova scaricato/.test(document.getElementById('status').textContent));
        assert.match(verify(await pack.path()), /integro|intact|ok/i);
        await shot(rita, 'activity-evidence');

        await go(rita, 'mailbox');
        const range = rita.waitForEvent('download');
        await rita.getByRole('button', { name: 'Pacchetto di prova degli ultimi 30 giorni' }).click();
        assert.match(verify(await (await range).path()), /integro|intact|ok/i);
        assert.deepEqual(rita.errors, []);
      } finally {
        await rita.context().close();
      }
    });

    test('rules: the preview shows the matches, a rule moves up by keyboard', async () => {
      const page = await openDesk(browser, companion, 'admin@demo.test');
      await go(page, 'rules');
      await page.getByRole('button', { name: 'Nuova regola' }).click();
      await page.waitForFunction(() => document.getElementById('editor-title')?.textContent === 'Nuova regola');
      const rule = {
        name: 'Pratiche edilizie', enabled: false, stop: true,
        conditions: [{ field: 'subject', match: 'contains', value: 'pratica edilizia' }],
        actions: { category: 'Edilizia' },
      };
      await page.getByLabel('La regola (JSON)').fill(JSON.stringify(rule, null, 2));
      await page.getByLabel('Giorni dell’anteprima').fill('365');
      await page.getByRole('button', { name: 'Anteprima' }).click();
      await page.waitForSelector('[data-matches]');
      const n = Number(await page.locator('[data-matches]').getAttribute('data-matches'));
      // What the page shows is the companion's answer (the demo's mail may still be
      // arriving in the background, so the API asked now may know more), and not empty.
      const api = await companion.api(tokens.admin, 'POST', '/api/v1/rules/preview', { rule, days: 365, limit: 100 });
      const known = api.body.items.map((m) => m.subject);
      assert.ok(n >= 1, `matches: ${n}`);
      const subjects = await page.locator('[data-table="preview"] tbody tr td:first-child').allInnerTexts();
      assert.equal(subjects.length, n);
      for (const subject of subjects) {
        assert.match(subject, /pratica edilizia/i);
        assert.ok(known.includes(subject), `${subject} is in the companion's preview`);
      }
      assert.match(subjects.join('\n'), /Richiesta documentazione pratica edilizia/);
      assert.doesNotMatch(await page.locator('[data-table="preview"]').innerText(), /Richiesta appuntamento/);
      await page.locator('[data-table="preview"]').scrollIntoViewIfNeeded();
      await shot(page, 'rules');

      const before = (await companion.api(tokens.admin, 'GET', '/api/v1/rules')).body.map((r) => r.name);
      const second = before[1];
      await page.getByRole('button', { name: `Sposta «${second}» più in alto` }).focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => /posizione 1/.test(document.getElementById('status').textContent));
      const after = (await companion.api(tokens.admin, 'GET', '/api/v1/rules')).body.map((r) => r.name);
      assert.deepEqual(after, [second, before[0], ...before.slice(2)]);
      await page.waitForFunction((name) => document.querySelector('[data-table="rules"] tbody tr')?.dataset.rule === name, second);
      // Focus stays on the moved rule's button.
      assert.match(await page.evaluate(() => document.activeElement.getAttribute('aria-label') ?? ''), /Sposta/);
      await page.context().close();
    });

    test('rules: a team leader fixes the rule of her mailbox with the preview; the others are read-only', async () => {
      const rita = await openDesk(browser, companion, 'responsabile@demo.test');
      try {
        await go(rita, 'rules');
        const name = 'Solleciti di pagamento al Protocollo';
        const rules = (await companion.api(tokens.rita, 'GET', '/api/v1/rules')).body;
        const mine = rules.find((r) => r.name === name);
        assert.equal(mine.editable, true);
        assert.ok(rules.some((r) => !r.editable), 'the rules for every mailbox are read-only for her');
        // No reordering for her.
        assert.equal(await rita.getByRole('button', { name: /più in alto/ }).count(), 0);
        // A rule for every mailbox: shown read-only, no save.
        const other = rules.find((r) => !r.editable);
        await rita.locator('[data-table="rules"]').getByRole('link', { name: other.name }).click();
        await rita.waitForSelector('[data-read-only]');
        assert.equal(await rita.getByLabel('La regola (JSON)').getAttribute('readonly'), '');
        assert.equal(await rita.getByRole('button', { name: 'Salva' }).count(), 0);

        // Hers: the typo matches nothing; fixed, the preview finds the reminder; saved.
        await rita.locator('[data-table="rules"]').getByRole('link', { name }).click();
        await rita.waitForFunction((n) => document.getElementById('editor-title')?.textContent === `Modifica: ${n}`, name);
        const json = await rita.getByLabel('La regola (JSON)').inputValue();
        assert.match(json, /"solecito"/);
        await rita.getByLabel('La regola (JSON)').fill(json.replace('"solecito"', '"sollecito"'));
        await rita.getByLabel('Giorni dell’anteprima').fill('365');
        await rita.getByRole('button', { name: 'Anteprima' }).click();
        await rita.waitForSelector('[data-matches]');
        assert.ok(Number(await rita.locator('[data-matches]').getAttribute('data-matches')) >= 1);
        assert.match(await rita.locator('[data-table="preview"]').innerText(), /Sollecito pagamento fattura/);
        await rita.locator('[data-table="preview"]').scrollIntoViewIfNeeded();
        await shot(rita, 'rules-leader');
        await rita.getByRole('button', { name: 'Salva' }).click();
        await rita.waitForFunction((n) => document.getElementById('status').textContent.includes(`Regola «${n}» salvata`), name);
        const saved = (await companion.api(tokens.rita, 'GET', `/api/v1/rules/${mine.id}`)).body;
        assert.deepEqual(saved.conditions[1].value, ['sollecito']);
        const me = (await companion.api(tokens.rita, 'GET', '/api/v1/me')).body;
        assert.equal(saved.updated_by, me.user.id);

        // Widening it to every mailbox is refused, with what to do.
        const wide = JSON.parse(await rita.getByLabel('La regola (JSON)').inputValue());
        wide.conditions = wide.conditions.filter((c) => c.field !== 'mailbox');
        await rita.getByLabel('La regola (JSON)').fill(JSON.stringify(wide, null, 2));
        await rita.getByRole('button', { name: 'Salva' }).click();
        await rita.waitForFunction(() => /casella è/.test(document.getElementById('error').textContent));
        assert.deepEqual(rita.errors, []);
      } finally {
        await rita.context().close();
      }
    });

    test('administration: an admin creates a user, grants a role, edits a mailbox name, disables the user', async () => {
      const admin = await openDesk(browser, companion, 'admin@demo.test');
      try {
        await go(admin, 'admin');
        // A new user.
        await admin.getByLabel('Nome e cognome').fill('Nora Nuova');
        await admin.locator('input[name="user_email"]').fill('nora.nuova@demo.test');
        await admin.getByRole('button', { name: 'Crea l’utente' }).click();
        await admin.waitForFunction(() => /Utente Nora Nuova creato/.test(document.getElementById('status').textContent));
        const nora = (await companion.api(tokens.admin, 'GET', '/api/v1/users?q=nora.nuova')).body.items[0];
        assert.equal(nora.enabled, true);
        await admin.waitForSelector('[data-table="users"] tr[data-user="nora.nuova@demo.test"]');

        // A role on Protocollo for her: one grant row per policy of the bundle.
        const protocollo = (await companion.api(tokens.admin, 'GET', '/api/v1/mailboxes')).body.find((m) => m.address === 'protocollo@pec.demo.test');
        await admin.locator('select[name="grant_mailbox"]').selectOption(protocollo.id);
        await admin.locator('select[name="grant_holder"]').selectOption(`user:${nora.id}`);
        await admin.locator('select[name="grant_what"]').selectOption('role:Assegnatario');
        await admin.getByRole('button', { name: 'Aggiungi il permesso' }).click();
        await admin.waitForFunction(() => /2 permessi aggiunti a Nora Nuova/.test(document.getElementById('status').textContent));
        const held = (await companion.api(tokens.admin, 'GET', `/api/v1/grants?user=${nora.id}`)).body.map((g) => g.policy).sort();
        assert.deepEqual(held, ['MAIL_ACTIVITY_READER', 'MAIL_ACTIVITY_WRITER']);
        // The page reloads after the message: the new rows come with it.
        await admin.waitForFunction(() => /Nora Nuova/.test(document.querySelector('[data-table="grants"]')?.textContent ?? ''));
        await shot(admin, 'admin-edits');

        // The settings of Legale: passwords never shown, only the name changes.
        const legale = (await companion.api(tokens.admin, 'GET', '/api/v1/mailboxes')).body.find((m) => m.address === 'legale@pec.demo.test');
        const before = (await companion.api(tokens.admin, 'GET', `/api/v1/mailboxes/${legale.id}`)).body;
        await admin.locator('[data-action="settings-legale@pec.demo.test"]').click();
        await admin.waitForSelector('[data-mailbox-settings="legale@pec.demo.test"]');
        for (const pw of await admin.locator('[data-mailbox-settings] input[type="password"]').all()) assert.equal(await pw.inputValue(), '');
        await admin.getByLabel('Nome visualizzato').fill('Legale e contenzioso');
        await admin.getByLabel('Togli dalla casella dopo (giorni)').fill('120');
        await admin.getByRole('button', { name: 'Salva le impostazioni' }).click();
        await admin.waitForFunction(() => /Impostazioni di Legale e contenzioso salvate/.test(document.getElementById('status').textContent));
        const after = (await companion.api(tokens.admin, 'GET', `/api/v1/mailboxes/${legale.id}`)).body;
        assert.equal(after.name, 'Legale e contenzioso');
        assert.deepEqual(after.archive, { expunge_after_days: 120 });
        for (const k of ['imap', 'smtp', 'sla', 'app_password', 'ingest_enabled']) assert.deepEqual(after[k], before[k], k);
        await admin.waitForSelector('[data-table="mailboxes"] tr[data-mailbox="legale@pec.demo.test"] >> text=Legale e contenzioso');
        await admin.locator('[data-mailbox-settings]').scrollIntoViewIfNeeded();
        await shot(admin, 'admin-mailbox');

        // Disabled, never deleted.
        admin.once('dialog', (d) => d.accept());
        await admin.locator('[data-table="users"] tr[data-user="nora.nuova@demo.test"]').getByRole('button', { name: 'Disattiva' }).click();
        await admin.waitForSelector('[data-table="users"] tr[data-user="nora.nuova@demo.test"] >> text=Riattiva');
        const disabled = (await companion.api(tokens.admin, 'GET', '/api/v1/users?q=nora.nuova')).body.items[0];
        assert.equal(disabled.enabled, false);
        assert.deepEqual(admin.errors, []);
      } finally {
        await admin.context().close();
      }
    });

    test('audit: the chain is verified intact, newest entries first', async () => {
      // An administrator's change, to find in the log.
      const team = await companion.api(tokens.admin, 'POST', '/api/v1/teams', { name: 'Archivio e conservazione' });
      assert.ok([200, 201].includes(team.status), JSON.stringify(team.body));
      const page = await openDesk(browser, companion, 'admin@demo.test');
      await go(page, 'audit');
      await page.getByRole('button', { name: 'Verifica ora' }).click();
      const badge = page.locator('[data-verify] .badge');
      assert.equal(await badge.getAttribute('data-ok'), 'true');
      assert.match(await badge.innerText(), /Catena integra: \d+ voci verificate/);
      const seqs = await page.locator('[data-table="audit"] tbody tr td:first-child').allInnerTexts();
      assert.ok(seqs.length > 10);
      assert.ok(Number(seqs[0]) > Number(seqs[1]), 'newest first');
      // The team just created is in the log, by the admin (the demo's campaign may still be
      // adding entries of its own).
      const grantRow = page.locator('[data-table="audit"] tbody tr', { hasText: /team\.create/ });
      assert.ok(await grantRow.count() >= 1);
      assert.match(await grantRow.first().innerText(), /Andrea Admin/);
      await shot(page, 'audit');
      await page.context().close();
    });
  });
}

describe('web desk folder missing', () => {
  test('/ answers 503 saying what to run', async () => {
    const companion = await startCompanion({ env: { PECDESK_DESK__DIR: '/nonexistent/desk' } });
    try {
      const r = await fetch(`${companion.url}/`);
      assert.equal(r.status, 503);
      const body = await r.json();
      assert.match(body.error.message, /desk\.dir \(PECDESK_DESK__DIR\)/);
      assert.match(body.error.message, /i file della scrivania non ci sono/);
    } finally {
      await companion.stop();
    }
  });
});

describe('web desk work-account sign-in through a real OpenID provider', () => {
  test('organisation → IdP → callback → back to the desk signed in, no token left in the address', async () => {
    const [idp, companion] = await Promise.all([startIdp(), startCompanion()]);
    const browser = await launch();
    try {
      const admin = await companion.devLogin('admin@demo.test');
      const me = (await companion.api(admin, 'GET', '/api/v1/me')).body;
      const put = await companion.api(admin, 'PUT', '/api/v1/auth/idp', {
        issuer: idp.acme,
        client_id: 'pecdesk',
        client_secret: 'acme-secret',
        scopes: ['openid', 'email', 'profile'],
        claims: { email: 'email', name: 'name' },
        allowed_domains: ['acme.test'],
        redirect_uris: { desk: [`${companion.url}/api/v1/auth/callback`] },
      });
      assert.equal(put.status, 204, JSON.stringify(put.body));
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const urls = [];
      // Every address the tab went through, the redirects included.
      page.on('request', (r) => { if (r.isNavigationRequest()) urls.push(r.url()); });
      await page.goto(`${companion.url}/`);
      await page.getByLabel('Organizzazione').fill(me.orgs[0].name);
      await page.getByLabel('E-mail aziendale (facoltativa)').fill('alice@acme.test');
      await page.getByRole('button', { name: 'Accedi', exact: true }).click();
      await page.waitForSelector('main > [data-page="mine"]', { timeout: 30_000 });
      assert.match(await page.locator('#bar').innerText(), /Accesso come Alice Rossi/);
      // The provider was visited, and the tokens came back in the fragment only: gone from
      // the address now, never in a query string.
      assert.ok(urls.some((u) => u.startsWith(idp.acme)), urls.join('\n'));
      assert.equal(new URL(page.url()).hash, '#/mine');
      assert.doesNotMatch(page.url(), /token/);
      for (const u of urls) assert.doesNotMatch(new URL(u).search, /access_token|refresh_token/, u);
      const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('pecdesk.tokens')));
      assert.ok(stored.access_token && stored.refresh_token);
      // The tokens work and belong to Alice.
      const alice = await companion.api(stored.access_token, 'GET', '/api/v1/me');
      assert.equal(alice.body.user.email, 'alice@acme.test');
      await context.close();
    } finally {
      await browser.close();
      await companion.stop();
      idp.stop();
    }
  });
});
