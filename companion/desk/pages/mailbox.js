// Casella: a mailbox's messages, receipts hidden or grouped under the message they certify;
// filtered by folder, category or tag (with counts); a manager files a message, an
// administrator sets the retention and purges the trash outside it (dry run first).
import { ctx, h, t, chip, say, button, pageHead, table, certChip, certifiedTime, download, mayExport, holds } from '../ui.js';
import { field, section } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

const FILTERS = ['folder', 'category', 'tag'];

const MODE_KEY = 'pecdesk.desk.receipts';
const BOX_KEY = 'pecdesk.desk.mailbox';

export async function render([mailboxId, kind, value], { reload }) {
  const boxes = (ctx.me.grants ?? []).filter((g) => g.policies.includes('MAIL_ACCOUNT_READER'));
  if (!boxes.length) return h('div', {}, pageHead(t('page_mailbox')), h('p', { class: 'muted', text: t('mailbox_none') }));
  const mode = localStorage.getItem(MODE_KEY) === 'hide' ? 'hide' : 'group';
  // `#/mailbox/<id>/<folder|category|tag>/<value>`: the list filtered.
  const filter = FILTERS.includes(kind) && value ? { kind, value } : null;
  const list = (b) => ctx.api.get(`/api/v1/messages?mailbox=${encodeURIComponent(b.id)}&receipts=hide&limit=50${
    filter && b.id === mailboxId ? `&${filter.kind}=${encodeURIComponent(filter.value)}` : ''}`);
  // The mailbox asked for, else the last one looked at, else the first that has messages.
  let current = boxes.find((b) => b.id === (mailboxId ?? localStorage.getItem(BOX_KEY)));
  let page = current ? await list(current) : null;
  for (const b of current ? [] : boxes) {
    current = b;
    page = await list(b);
    if (page.items.length) break;
  }
  localStorage.setItem(BOX_KEY, current.id);
  const labels = await ctx.api.get(`/api/v1/mailboxes/${encodeURIComponent(current.id)}/folders`).catch(() => null);
  const manager = holds(current.id, 'MAIL_ACCOUNT_MANAGER');
  // Grouped: a sent message's receipts (acceptance, delivery per recipient) under it.
  const details = mode === 'group'
    ? new Map(await Promise.all(page.items.filter((m) => m.direction === 'out').map(async (m) =>
      [m.id, await ctx.api.get(`/api/v1/messages/${encodeURIComponent(m.id)}`).catch(() => null)])))
    : new Map();

  const boxSel = h('select', { name: 'mailbox', onchange: () => { location.hash = `#/mailbox/${encodeURIComponent(boxSel.value)}`; } },
    boxes.map((b) => h('option', { value: b.id, selected: b.id === current.id }, `${b.name} · ${b.address}`)));
  const modeSel = h('select', { name: 'receipts', onchange: () => { localStorage.setItem(MODE_KEY, modeSel.value); reload(); } },
    h('option', { value: 'group', selected: mode === 'group' }, t('mailbox_grouped')),
    h('option', { value: 'hide', selected: mode === 'hide' }, t('receipts_hide')));

  const rows = [];
  for (const m of page.items) {
    rows.push({ m });
    for (const r of details.get(m.id)?.receipts ?? []) rows.push({ r, of: m });
  }
  return h('div', {},
    pageHead(t('page_mailbox'), t('mailbox_intro')),
    h('div', { class: 'row card' }, field(t('mailbox'), boxSel), field(t('filter_receipts'), modeSel),
      mayExport(current.id) ? button(t('evidence_mailbox'), async () => {
        // The last 30 days (UTC dates; the companion refuses a range too large, saying so).
        const to = new Date();
        const from = new Date(to.getTime() - 29 * 86_400_000);
        const q = `from=${from.toISOString().slice(0, 10)}&to=${to.toISOString().slice(0, 10)}`;
        say(t('evidence_saved', { name: await download(`/api/v1/mailboxes/${encodeURIComponent(current.id)}/evidence.zip?${q}`, 'evidenze.zip') }));
      }, { class: 'secondary', action: 'evidence' }) : null),
    labels ? filterRow(current.id, labels, filter && current.id === mailboxId ? filter : null) : null,
    h('p', { class: 'muted small', text: page.next_cursor ? t('mailbox_latest', { n: page.items.length }) : '' }),
    table(t('page_mailbox'), [t('subject'), t('desk_party'), t('issued_at'), t('status')], rows, ({ m, r }) => (m
      ? h('tr', { 'data-message': m.id },
        h('td', {}, h('strong', { text: m.subject || t('desk_no_subject') }), h('span', { class: 'sub' }, certChip(m)),
          filed(m), manager ? classifyForm(m, reload) : null),
        h('td', { text: m.direction === 'out' ? recipients(m, details.get(m.id)) : (m.sender ?? '—') }),
        h('td', { text: certifiedTime(m) }),
        h('td', {}, m.direction === 'out' ? outcome(details.get(m.id)) : chip(t(`msg_state_${m.state}`), m.state === 'new' ? 'warn' : 'ok'),
          m.taken_by_name ? h('span', { class: 'sub', text: t('taken_by', { name: m.taken_by_name }) }) : null))
      : h('tr', { class: 'receipt', 'data-receipt': r.id },
        h('td', {}, '↳ ', t(`kind_${r.kind}`)),
        h('td', { text: r.recipient ?? '—' }),
        h('td', { text: when(r.issued_at) }),
        h('td', {}, r.error && r.error !== 'nessuno'
          ? [chip(t('desk_receipt_error', { code: r.error }), 'bad'), r.error_detail ? h('span', { class: 'sub', text: r.error_detail }) : null]
          : chip(t('desk_receipt_ok'), 'ok')))),
    { empty: t('list_empty'), label: 'mailbox' }),
    ctx.me?.user.is_admin ? await retentionCard(current.id, reload) : null);
}

/** Folders, categories and tags of the mailbox with their counts: links filtering the list. */
function filterRow(boxId, labels, filter) {
  const base = `#/mailbox/${encodeURIComponent(boxId)}`;
  const link = (k, name, count) => {
    const on = filter?.kind === k && filter.value === name;
    return h('a', { href: `${base}/${k}/${encodeURIComponent(name)}`, class: `chip ${on ? 'ok' : 'neutral'}`,
      'aria-current': on ? 'true' : null, 'data-filter': `${k}:${name}` }, `${name} (${count})`);
  };
  const group = (k, items) => (items.length
    ? h('li', {}, h('span', { class: 'muted', text: `${t(`mailbox_filter_${k}`)}: ` }), items.map((x) => [link(k, x.name, x.count), ' ']))
    : null);
  const all = [...labels.folders, ...labels.categories, ...labels.tags];
  return h('nav', { class: 'card filters', 'aria-label': t('mailbox_filters') },
    h('ul', { class: 'plain' },
      h('li', {}, h('a', { href: base, 'aria-current': filter ? null : 'true', 'data-filter': 'all' }, t('mailbox_filter_all')),
        filter ? h('span', { class: 'muted', text: ` · ${t('mailbox_filtered', { value: filter.value })}` }) : null),
      all.length ? null : h('li', { class: 'muted', text: t('mailbox_no_folders') }),
      group('folder', labels.folders), group('category', labels.categories), group('tag', labels.tags)));
}

/** A message's folder, category and tags, under its subject. */
function filed(m) {
  const bits = [m.folder ? `${t('mailbox_folder')}: ${m.folder}` : null, m.category, ...(m.tags ?? []).map((x) => `#${x}`)].filter(Boolean);
  return bits.length ? h('span', { class: 'sub', 'data-filed': m.id, text: bits.join(' · ') }) : null;
}

/** A manager files the message: folder, category, tags (comma-separated). */
function classifyForm(m, reload) {
  const folder = h('input', { name: 'folder', value: m.folder ?? '', maxlength: 200, placeholder: 'Contratti/2026' });
  const category = h('input', { name: 'category', value: m.category ?? '', maxlength: 100 });
  const tags = h('input', { name: 'tags', value: (m.tags ?? []).join(', ') });
  return h('details', { class: 'classify', 'data-classify': m.id },
    h('summary', { text: t('mailbox_classify') }),
    field(t('mailbox_folder'), folder, t('mailbox_folder_help')),
    field(t('mailbox_category'), category),
    field(t('mailbox_tags'), tags, t('mailbox_tags_help')),
    button(t('mailbox_save'), async () => {
      await ctx.api.patch(`/api/v1/messages/${encodeURIComponent(m.id)}`, {
        folder: folder.value.trim() || null,
        category: category.value.trim() || null,
        tags: tags.value.split(',').map((x) => x.trim()).filter(Boolean),
      });
      say(t('mailbox_classified'));
      reload();
    }, { class: 'primary', action: 'classify-save' }));
}

/** Administrators: the mailbox's retention and the purge of its trash (dry run first). */
async function retentionCard(boxId, reload) {
  const box = await ctx.api.get(`/api/v1/mailboxes/${encodeURIComponent(boxId)}`).catch(() => null);
  if (!box) return null;
  const days = h('input', { name: 'retention_days', type: 'number', min: 1, max: 36500, value: box.retention?.days ?? '' });
  const before = h('input', { name: 'purge_before', type: 'date', value: new Date().toISOString().slice(0, 10) });
  const reason = h('input', { name: 'purge_reason', maxlength: 500 });
  const outcome = h('div', { 'aria-live': 'polite', 'data-purge': 'outcome' });
  // Up to the chosen day included (UTC): `before` is the next midnight.
  const body = (dry) => ({ before: Date.parse(`${before.value}T00:00:00Z`) + 86_400_000, dry_run: dry, reason: reason.value });
  const run = async (dry) => ctx.api.post(`/api/v1/mailboxes/${encodeURIComponent(boxId)}/purge`, body(dry));
  const report = (r) => [
    h('p', { text: t(r.dry_run ? 'purge_would' : 'purge_done', { n: r.purged.length }) }),
    r.skipped.length ? h('ul', {}, r.skipped.map((s) => h('li', { 'data-skipped': s.reason, text: `${when(s.received_at)}: ${t(`purge_skipped_${s.reason}`)}` }))) : null,
    r.not_trashed ? h('p', { class: 'muted small', text: t('purge_not_trashed', { n: r.not_trashed }) }) : null,
  ];
  return section(t('retention_title'),
    h('p', { class: 'muted small', text: t('retention_intro') }),
    h('div', { class: 'row' }, field(t('retention_days'), days, t('retention_days_help')),
      button(t('mailbox_save'), async () => {
        const n = days.value.trim();
        await ctx.api.patch(`/api/v1/mailboxes/${encodeURIComponent(boxId)}`, { retention: { days: n ? Number(n) : null } });
        say(t('retention_saved'));
        reload();
      }, { action: 'retention-save' })),
    h('h3', { text: t('purge_title') }),
    h('div', { class: 'row' }, field(t('purge_before'), before), field(t('purge_reason'), reason, t('purge_reason_help')),
      button(t('purge_dry_run'), async () => {
        const r = await run(true);
        const confirm = h('input', { type: 'checkbox', name: 'purge_confirm' });
        const go = button(t('purge_go'), async () => {
          if (!confirm.checked) throw new Error(t('purge_confirm_first'));
          const done = await run(false);
          say(t('purge_done', { n: done.purged.length }));
          outcome.replaceChildren(...report(done).filter(Boolean));
        }, { class: 'danger', action: 'purge' });
        outcome.replaceChildren(...report(r).filter(Boolean), ...(r.purged.length
          ? [h('label', {}, confirm, ' ', t('purge_confirm', { n: r.purged.length })), ' ', go] : []));
      }, { action: 'purge-dry-run' })),
    outcome);
}

function recipients(m, d) {
  const list = (d?.delivery ?? []).map((x) => x.recipient);
  return list.length ? list.join(', ') : (m.summary?.recipients ?? []).map((x) => x.address).join(', ') || '—';
}

/** A sent message in one chip: delivered to all, some failed, or still waiting. */
function outcome(d) {
  const list = d?.delivery ?? [];
  if (!list.length) return chip(d?.accepted ? t('accepted_yes') : t('accepted_wait'), d?.accepted ? 'ok' : 'wait');
  const ok = list.filter((x) => x.state === 'delivered').length;
  const bad = list.filter((x) => ['failed', 'virus'].includes(x.state)).length;
  if (bad) return chip(t('mailbox_failed', { n: bad, of: list.length }), 'bad');
  if (ok === list.length) return chip(t('mailbox_delivered_all'), 'ok');
  return chip(t(ok ? 'mailbox_delivered_some' : 'mailbox_waiting', { n: ok, of: list.length }), 'wait');
}
