// Benchmark (not a test): the web desk's first load and its activity lists with 100,000
// activities, time to interactive in Chromium (the page's content rendered and focusable),
// against `pecdesk serve --demo` on SQLite (debug build unless PECDESK_BIN says otherwise).
//
//   cargo build -p pecdesk-companion          (or --release and PECDESK_BIN=target/release/pecdesk)
//   cd tests/addin && node bench-desk.mjs [N]  (N activities, default 100000)
//
// The activities are seeded with SQL straight into the demo's SQLite database (a recursive
// CTE: a third assigned to Rita Responsabile, the rest to the Ufficio Legale team, a third of
// those nobody's, due dates over a year with some overdue). Figures go to docs/BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { launch } from './support/browser.mjs';
import { startCompanion } from './support/companion.mjs';

const N = Number(process.argv[2] ?? 100_000);
const RUNS = 5;

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

const companion = await startCompanion();
try {
  const rita = await companion.devLogin('responsabile@demo.test');
  const me = (await companion.api(rita, 'GET', '/api/v1/me')).body;
  const protocollo = me.grants.find((g) => g.address.startsWith('protocollo@')).id;
  const team = me.teams[0].id;
  const db = readdirSync(companion.dataDir).find((f) => /\.sqlite3?$/.test(f));
  if (!db) throw new Error(`no SQLite file in ${companion.dataDir}: ${readdirSync(companion.dataDir)}`);
  const now = Date.now();
  const sql = `
    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${N})
    INSERT INTO activities (id, org_id, mailbox_id, title, description, priority, due_at, status, flow,
                            assignee_id, team_id, created_by, created_at, updated_at, search_text)
    SELECT printf('bench-%08d', i), '${me.user.org_id}', '${protocollo}', printf('Pratica di prova n. %d', i), '',
           CASE i % 4 WHEN 0 THEN 'high' WHEN 1 THEN 'normal' WHEN 2 THEN 'low' ELSE 'urgent' END,
           ${now} + ((i % 365) - 30) * 86400000,
           CASE i % 5 WHEN 0 THEN 'in_progress' WHEN 1 THEN 'done' ELSE 'open' END, 'standard',
           CASE WHEN i % 3 = 0 THEN '${me.user.id}' WHEN i % 3 = 1 THEN NULL ELSE '${me.user.id}' END,
           CASE WHEN i % 3 = 0 THEN NULL ELSE '${team}' END,
           '${me.user.id}', ${now}, ${now}, printf('pratica di prova n. %d', i)
    FROM n;`;
  const t0 = Date.now();
  execFileSync('sqlite3', [join(companion.dataDir, db)], { input: `PRAGMA busy_timeout = 30000;\n${sql}\nANALYZE;\n` });
  console.log(`seeded ${N} activities in ${Date.now() - t0} ms`);
  // The demo's workers (simulator, outbox, alarms) waited for the seeding's write lock;
  // a request in that moment may be dropped: wait until the companion answers again.
  for (let i = 0; ; i += 1) {
    try {
      if ((await companion.api(rita, 'GET', '/api/v1/me')).status === 200) break;
    } catch (e) {
      if (i === 30) throw e;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }

  // The API alone: the first page of "my activities", of every open activity, the team
  // queues' counts and one queue's first page.
  for (const [label, path] of [
    ['API my activities (200, due date order)', '/api/v1/activities?assignee=me&status=open,in_progress,awaiting_approval,approved,changes_requested&sort=due_at&limit=200'],
    ['API open activities (200)', '/api/v1/activities?status=open,in_progress,awaiting_approval,approved,changes_requested&sort=due_at&limit=200'],
    ['API team workload (counts per team and person)', '/api/v1/activities/workload'],
    ['API one team queue, nobody\'s first (25)', `/api/v1/activities?status=open,in_progress,awaiting_approval,approved,changes_requested&sort=due_at&team=${team}&assignee=none&limit=25`],
  ]) {
    const times = [];
    for (let r = 0; r < RUNS; r += 1) {
      const s = performance.now();
      const a = await companion.api(rita, 'GET', path);
      if (a.status !== 200) throw new Error(`${path}: ${a.status}`);
      times.push(performance.now() - s);
    }
    console.log(`${label}: median ${median(times).toFixed(1)} ms`);
  }

  const browser = await launch();
  const tokens = JSON.stringify({ access_token: rita, refresh_token: null, companion: companion.url });
  for (const [label, hash, selector] of [
    ['desk first load, my desk', '#/mine', 'main > [data-page="mine"]'],
    ['desk first load, team queues', '#/teams', 'main > [data-page="teams"]'],
  ]) {
    const times = [];
    const rows = [];
    for (let r = 0; r < RUNS; r += 1) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      await context.addInitScript((t) => localStorage.setItem('pecdesk.tokens', t), tokens);
      const page = await context.newPage();
      await page.goto(`${companion.url}/${hash}`);
      // From navigation start to the page's content in the DOM (its heading focused next).
      const ms = await (await page.waitForFunction((sel) => document.querySelector(sel) && performance.now(), selector, { timeout: 120_000, polling: 'raf' })).jsonValue();
      times.push(ms);
      rows.push(await page.locator('main tbody tr').count());
      await context.close();
    }
    console.log(`${label}: median ${median(times).toFixed(0)} ms (${rows[0]} rows shown)`);
  }
  await browser.close();
} finally {
  await companion.stop();
}
