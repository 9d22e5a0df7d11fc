// Casella: a mailbox's messages, receipts hidden or grouped under the message they certify.
import { ctx, h, t, chip, say, button, pageHead, table, certChip, certifiedTime, download, mayExport } from '../ui.js';
import { field } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

const MODE_KEY = 'pecdesk.desk.receipts';
const BOX_KEY = 'pecdesk.desk.mailbox';

export async function render([mailboxId], { reload }) {
  const boxes = (ctx.me.grants ?? []).filter((g) => g.policies.includes('MAIL_ACCOUNT_READER'));
  if (!boxes.length) return h('div', {}, pageHead(t('page_mailbox')), h('p', { class: 'muted', text: t('mailbox_none') }));
  const mode = localStorage.getItem(MODE_KEY) === 'hide' ? 'hide' : 'group';
  const list = (b) => ctx.api.get(`/api/v1/messages?mailbox=${encodeURIComponent(b.id)}&receipts=hide&limit=50`);
  // The mailbox asked for, else the last one looked at, else the first that has messages.
  let current = boxes.find((b) => b.id === (mailboxId ?? localStorage.getItem(BOX_KEY)));
  let page = current ? await list(current) : null;
  for (const b of current ? [] : boxes) {
    current = b;
    page = await list(b);
    if (page.items.length) break;
  }
  localStorage.setItem(BOX_KEY, current.id);
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
    h('p', { class: 'muted small', text: page.next_cursor ? t('mailbox_latest', { n: page.items.length }) : '' }),
    table(t('page_mailbox'), [t('subject'), t('desk_party'), t('issued_at'), t('status')], rows, ({ m, r }) => (m
      ? h('tr', { 'data-message': m.id },
        h('td', {}, h('strong', { text: m.subject || t('desk_no_subject') }), h('span', { class: 'sub' }, certChip(m))),
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
    { empty: t('list_empty'), label: 'mailbox' }));
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
