// Attività: fields, conversation (comments), linked messages with their receipts per
// recipient, draft and approval state, and the moves the companion allows now (asked of
// the API, which asks the core: never computed here).
import { ctx, h, t, chip, say, button, pageHead, table, statusChip, priorityChip, dueCell, certChip, certifiedTime, mailboxName, holds, workers, download, mayExport } from '../ui.js';
import { dl, field } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

// Moves with their own controls in the task pane (draft, approval, send): shown as state here.
const PANE_ONLY = new Set(['awaiting_approval', 'approved', 'changes_requested', 'send']);

export async function render([id], { reload }) {
  const path = `/api/v1/activities/${encodeURIComponent(id)}`;
  const a = await ctx.api.get(path);
  const [comments, messages] = await Promise.all([
    ctx.api.get(`${path}/comments`),
    Promise.all((a.message_ids ?? []).slice(0, 30).map((m) => ctx.api.get(`/api/v1/messages/${encodeURIComponent(m)}`).catch(() => null))),
  ]);
  // A linked receipt shows the sent message it certifies, with its delivery per recipient.
  const linked = messages.filter(Boolean);
  const sent = new Map((await Promise.all(linked
    .filter((m) => m.certifies?.message_id && !linked.some((x) => x.id === m.certifies.message_id))
    .map((m) => ctx.api.get(`/api/v1/messages/${encodeURIComponent(m.certifies.message_id)}`).catch(() => null))))
    .filter(Boolean).map((m) => [m.id, m]));
  const moves = (a.allowed_actions ?? []).filter((x) => !PANE_ONLY.has(x));
  return h('div', { class: 'stack' },
    pageHead(a.title, null,
      mayExport(a.mailbox_id) ? button(t('evidence_activity'), async () => {
        say(t('evidence_saved', { name: await download(`${path}/evidence.zip`, 'evidenze.zip') }));
      }, { class: 'secondary small', action: 'evidence' }) : null,
      h('a', { class: 'button secondary small', href: '#/mine' }, t('desk_back_mine'))),
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'facts-title' },
        h('h2', { id: 'facts-title', text: t('activity_facts') }),
        h('p', {}, statusChip(a.status), ' ', priorityChip(a.priority), a.category ? [' ', chip(a.category, 'neutral')] : null),
        dl([
          [t('assignee'), a.assignee_name ?? t('teams_nobody')],
          [t('team'), a.team_name ?? '—'],
          [t('due_at'), dueCell(a)],
          [t('flow'), t(`flow_${a.flow}`)],
          a.flow === 'approval' && [t('approver'), a.approver_name ?? '—'],
          [t('mailbox'), mailboxName(a.mailbox_id)],
          [t('created_by'), `${a.created_by_name ?? '—'} · ${when(a.created_at)}`],
          a.tags?.length && [t('desk_tags'), a.tags.join(', ')],
        ]),
        a.description ? h('p', { class: 'description', text: a.description }) : null,
        h('h3', { text: t('actions_now') }),
        moves.length ? h('div', { class: 'actions' }, moves.map((to) => button(t(`to_${to}`), async () => {
          const r = await ctx.api.post(`${path}/transitions`, { to, version: a.version });
          say(t('moved_ok', { status: t(`status_${r.status}`) }));
          await reload();
        }, { class: to === 'done' ? 'primary' : 'secondary', action: `to-${to}` }))) : h('p', { class: 'muted', text: t('no_actions') }),
        holds(a.mailbox_id, 'MAIL_ACTIVITY_MANAGER') && !['done', 'cancelled'].includes(a.status) ? await manage(a, path, reload) : null),
      draftCard(a)),
    h('section', { class: 'card', 'aria-labelledby': 'msgs-title' },
      h('h2', { id: 'msgs-title', text: t('linked_messages') }),
      linked.length ? linked.map((m) => messageBlock(m, sent)) : h('p', { class: 'muted', text: t('no_linked') })),
    conversation(a, comments, reload));
}

/** A manager's edits: assignee, due date, priority (PATCH with the version read). */
async function manage(a, path, reload) {
  const people = await workers(a.mailbox_id).catch(() => []);
  const who = h('select', { name: 'assignee' }, h('option', { value: '' }, t('teams_nobody')),
    people.map((u) => h('option', { value: u.id, selected: u.id === a.assignee_id }, u.name)));
  const shown = localDay(a.due_at);
  const due = h('input', { type: 'date', name: 'due', value: shown });
  const prio = h('select', { name: 'priority' }, ['low', 'normal', 'high', 'urgent'].map((p) => h('option', { value: p, selected: p === a.priority }, t(`priority_${p}`))));
  return h('details', { class: 'manage' }, h('summary', { text: t('activity_manage') }),
    h('div', { class: 'row' }, field(t('assignee'), who), field(t('due_at'), due), field(t('priority'), prio)),
    button(t('activity_save'), async () => {
      const body = { version: a.version };
      if ((who.value || null) !== (a.assignee_id ?? null)) body.assignee_id = who.value || null;
      // A day picked here means the end of the working day (18:00) in the user's time zone.
      if (due.value !== shown) body.due_at = due.value ? new Date(`${due.value}T18:00:00`).toISOString() : null;
      if (prio.value !== a.priority) body.priority = prio.value;
      await ctx.api.patch(path, body);
      say(t('activity_saved'));
      await reload();
    }, { class: 'primary', action: 'activity-save' }));
}

/** `YYYY-MM-DD` of an instant in the browser's time zone ('' for none). */
function localDay(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

function draftCard(a) {
  const d = a.draft;
  const approved = d && a.approved_draft_version === d.version;
  return h('section', { class: 'card', 'aria-labelledby': 'draft-title' },
    h('h2', { id: 'draft-title', text: t('draft_title') }),
    !d ? h('p', { class: 'muted', text: t('desk_no_draft') }) : [
      h('p', {},
        d.sent_at ? chip(t('draft_sent'), 'ok') : approved ? chip(t('draft_approved'), 'ok')
          : a.status === 'awaiting_approval' ? chip(t('approval_waiting'), 'warn') : chip(t('desk_draft_open'), 'wait'),
        ' ', h('span', { class: 'muted', text: t('draft_version', { n: d.version }) })),
      dl([
        [t('draft_to'), (d.to ?? []).join(', ') || '—'],
        d.cc?.length && [t('draft_cc'), d.cc.join(', ')],
        [t('draft_subject'), d.subject || '—'],
        d.attachments?.length && [t('attachments'), d.attachments.join(', ')],
        [t('desk_updated_by'), `${d.updated_by_name ?? '—'} · ${when(d.updated_at)}`],
      ]),
      h('details', {}, h('summary', { text: t('draft_body') }), h('pre', { class: 'json', text: d.body ?? '' })),
    ],
    (a.approvals ?? []).length ? [
      h('h3', { text: t('approval_title') }),
      h('ol', { class: 'plain conversation' }, a.approvals.map((s) => h('li', { class: s.kind },
        h('strong', { text: t(`desk_approval_${s.kind}`) }), ` · ${s.by?.name ?? '—'} · ${when(s.at)} · `, t('draft_version', { n: s.draft_version }),
        s.note ? h('p', { class: 'note', text: s.note }) : null))),
    ] : null,
    h('p', { class: 'help', text: t('desk_draft_in_pane') }));
}

function messageBlock(m, sent) {
  const of = m.certifies?.message_id ? sent.get(m.certifies.message_id) : null;
  const error = m.summary?.error && m.summary.error !== 'nessuno' ? m.summary.error : null;
  return h('div', { class: 'linked', 'data-message': m.id },
    h('h3', {}, m.subject || t('desk_no_subject'), ' ', certChip(m), m.kind !== 'posta-certificata' && m.kind !== 'not-pec' ? [' ', chip(t(`kind_${m.kind}`), error ? 'bad' : 'neutral')] : null),
    h('p', { class: 'muted small' }, `${m.direction === 'out' ? t('desk_sent') : (m.sender ?? '')} · ${certifiedTime(m)}`,
      m.certifies?.recipient ? ` · ${t('recipient_of_receipt')}: ${m.certifies.recipient}` : '', error ? ` · ${t('desk_receipt_error', { code: error })}` : ''),
    m.direction === 'out' ? delivery(m) : null,
    of ? h('div', { class: 'certified-sent' }, h('p', { class: 'small' }, h('strong', { text: t('desk_certifies') }), ` ${of.subject || t('desk_no_subject')}`), delivery(of)) : null);
}

/** Per recipient: delivered, failed or still waiting (the companion reconciles receipts). */
export function delivery(m) {
  const rows = m.delivery ?? [];
  return h('div', {},
    m.acceptance ? h('p', {}, t('acceptance'), ': ', m.accepted ? chip(t('accepted_yes'), 'ok') : m.acceptance.accepted === false ? chip(t('accepted_no'), 'bad') : chip(t('accepted_wait'), 'wait')) : null,
    table(t('delivery_title'), [t('recipients'), t('status'), t('desk_when')], rows, (d) => [
      d.recipient,
      h('td', {}, chip(t(`state_${d.state}`), { delivered: 'ok', failed: 'bad', virus: 'bad', warned: 'warn' }[d.state] ?? 'wait'), d.reason ? h('span', { class: 'sub', text: d.reason }) : null),
      d.at ? when(d.at) : '—',
    ], { empty: t('delivery_none'), label: 'delivery' }));
}

function conversation(a, comments, reload) {
  const text = h('textarea', { name: 'comment', rows: 3, maxlength: 10000 });
  return h('section', { class: 'card', 'aria-labelledby': 'conv-title' },
    h('h2', { id: 'conv-title', text: t('comments') }),
    comments.length ? h('ol', { class: 'plain comments' }, comments.map((c) => h('li', { class: 'comment' },
      h('p', { class: 'meta' }, h('strong', { text: c.author_name ?? '—' }), ` · ${when(c.created_at)}`, c.edited_at ? ` · ${t('comment_edited')}` : ''),
      h('p', { class: 'text', text: c.body })))) : h('p', { class: 'muted', text: t('no_comments') }),
    h('form', { onsubmit: (e) => e.preventDefault() },
      field(t('comment_label'), text),
      button(t('comment_add'), async () => {
        if (!text.value.trim()) { text.focus(); return; }
        await ctx.api.post(`/api/v1/activities/${encodeURIComponent(a.id)}/comments`, { body: text.value });
        say(t('comment_added'));
        await reload();
      }, { class: 'primary', action: 'comment' })));
}
