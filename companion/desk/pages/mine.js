// La mia scrivania: the caller's open activities by due date, overdue first.
import { ctx, h, t, fill, button, pageHead, table, OPEN, isOverdue, statusChip, priorityChip, dueCell, activityLink, mailboxName } from '../ui.js';

const PAGE = 100;

export async function render() {
  // One page at first (due date order: the overdue ones are in it); more on request.
  const path = `/api/v1/activities?assignee=me&status=${OPEN}&sort=due_at&limit=${PAGE}`;
  const first = await ctx.api.get(path);
  const items = first.items;
  const now = Date.now();
  const plus = first.next_cursor ? '+' : '';
  // The API sorts by due date (none last); overdue ones are the earliest, so they lead.
  const overdue = items.filter((a) => isOverdue(a, now));
  const endOfDay = new Date(); endOfDay.setHours(23, 59, 59, 999);
  const today = items.filter((a) => !isOverdue(a, now) && a.due_at && new Date(a.due_at) <= endOfDay);
  const waiting = items.filter((a) => a.status === 'awaiting_approval');
  return h('div', {},
    pageHead(t('page_mine'), t('mine_intro', { name: ctx.me.user.name })),
    h('div', { class: 'cards', role: 'list', 'aria-label': t('mine_summary') },
      tile(t('mine_open'), `${items.length}${plus}`),
      tile(t('mine_overdue'), `${overdue.length}${plus && overdue.length === items.length ? plus : ''}`, overdue.length ? 'bad' : ''),
      tile(t('mine_today'), today.length),
      tile(t('mine_waiting'), waiting.length)),
    table(t('page_mine'), [t('due_at'), t('activity'), t('status'), t('priority'), t('mailbox')], items, (a) => row(a, now),
      { empty: t('mine_empty'), label: 'mine' }),
    more(path, first.next_cursor, now));
}

function row(a, now) {
  return h('tr', { class: isOverdue(a, now) ? 'is-overdue' : null },
    h('td', {}, dueCell(a)),
    h('td', {}, activityLink(a), a.team_name ? h('span', { class: 'sub', text: `${t('team')}: ${a.team_name}` }) : null),
    h('td', {}, statusChip(a.status)),
    h('td', {}, priorityChip(a.priority)),
    h('td', { text: mailboxName(a.mailbox_id) }));
}

/** "Mostra altre": the next page appended to the table. */
function more(path, cursor, now) {
  const box = h('div', { class: 'actions' });
  const show = (c) => fill(box, c ? button(t('more'), async () => {
    const page = await ctx.api.get(`${path}&cursor=${encodeURIComponent(c)}`);
    document.querySelector('[data-table="mine"] tbody')?.append(...page.items.map((a) => row(a, now)));
    show(page.next_cursor);
  }, { class: 'secondary', action: 'more' }) : null);
  show(cursor);
  return box;
}

function tile(label, n, kind = '') {
  return h('div', { class: `tile ${kind}`, role: 'listitem' }, h('div', { class: 'n', text: String(n) }), h('div', { class: 'muted', text: label }));
}
