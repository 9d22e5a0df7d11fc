// Code dei team: the open activities of each team, nobody's first, and who has what.
import { ctx, h, t, chip, say, button, pageHead, table, OPEN, isOverdue, statusChip, priorityChip, dueCell, activityLink, all, cached, holds, workers, assign } from '../ui.js';

const MAX = 400;
const SHOWN = 25;

export async function render(_args, { reload }) {
  const [items, teams] = await Promise.all([
    // Every open activity the caller may read, by due date, up to MAX (the API has no team
    // filter yet: beyond MAX the queues show the earliest due).
    all(`/api/v1/activities?status=${OPEN}&sort=due_at&limit=200`, MAX),
    cached('/api/v1/teams?limit=200').then((p) => p.items).catch(() => ctx.me.teams ?? []),
  ]);
  const now = Date.now();
  const mine = new Set((ctx.me.teams ?? []).map((x) => x.id));
  // The caller's teams first, then the others they can see activities of.
  const ids = [...new Set(items.filter((a) => a.team_id).map((a) => a.team_id))];
  const named = new Map(teams.map((x) => [x.id, x.name]));
  // Who can take what: the assignees of each mailbox with free work the caller manages.
  const managed = [...new Set(items.filter((a) => !a.assignee_id && holds(a.mailbox_id, 'MAIL_ACTIVITY_MANAGER')).map((a) => a.mailbox_id))];
  const people = new Map(await Promise.all(managed.map(async (mb) => [mb, await workers(mb).catch(() => [])])));
  const whoCell = (a) => {
    if (a.assignee_id) return h('td', {}, h('span', { 'data-who': a.assignee_name, text: a.assignee_name }));
    const list = people.get(a.mailbox_id);
    if (!list?.length) return h('td', {}, chip(t('teams_nobody'), 'warn'));
    const sel = h('select', { 'aria-label': t('teams_assign_for', { title: a.title }) },
      h('option', { value: '' }, t('teams_assign_pick')), list.map((u) => h('option', { value: u.id }, u.name)));
    return h('td', {}, h('div', { class: 'route-to' }, chip(t('teams_nobody'), 'warn'), sel,
      button(t('dispatch_assign'), async () => {
        if (!sel.value) { sel.focus(); throw new Error(t('dispatch_pick_person')); }
        await assign(a, sel.value);
        say(t('teams_assigned', { title: a.title, name: sel.selectedOptions[0].textContent }));
        await reload();
      }, { class: 'secondary small', action: 'assign' })));
  };
  ids.sort((a, b) => Number(mine.has(b)) - Number(mine.has(a)) || String(named.get(a)).localeCompare(String(named.get(b))));
  const sections = ids.map((id) => {
    const list = items.filter((a) => a.team_id === id);
    // Unassigned first (free work), then by due date (the API's order).
    list.sort((a, b) => Number(Boolean(a.assignee_id)) - Number(Boolean(b.assignee_id)));
    const free = list.filter((a) => !a.assignee_id).length;
    const name = named.get(id) ?? list[0].team_name;
    return h('section', { class: 'card', 'aria-labelledby': `team-${id}`, 'data-team': name },
      h('h2', { id: `team-${id}` }, name, ' ', chip(t('teams_free', { n: free }), free ? 'warn' : 'ok'), ' ', chip(t('teams_open', { n: list.length }), 'neutral')),
      table(t('teams_caption', { team: name }), [t('activity'), t('teams_who'), t('status'), t('due_at'), t('priority')], list.slice(0, SHOWN), (a) =>
        h('tr', { class: isOverdue(a, now) ? 'is-overdue' : null, 'data-activity': a.id },
          h('td', {}, activityLink(a)),
          whoCell(a),
          h('td', {}, statusChip(a.status)),
          h('td', {}, dueCell(a)),
          h('td', {}, priorityChip(a.priority)))),
      list.length > SHOWN ? h('p', { class: 'muted small', text: t('teams_more', { shown: SHOWN, n: list.length }) }) : null);
  });
  return h('div', {},
    pageHead(t('page_teams'), t('teams_intro')),
    sections.length ? h('div', { class: 'stack' }, sections) : h('p', { class: 'muted', text: t('team_none') }),
    h('section', { class: 'card', 'aria-labelledby': 'load-title' },
      h('h2', { id: 'load-title', text: t('teams_load') }),
      load(items, now)));
}

/** Who has what: open and overdue activities per person (nobody's per team included). */
function load(items, now) {
  const people = new Map();
  for (const a of items) {
    const key = a.assignee_id ?? '';
    const p = people.get(key) ?? { name: a.assignee_name ?? t('teams_nobody'), open: 0, overdue: 0, waiting: 0 };
    p.open += 1;
    if (isOverdue(a, now)) p.overdue += 1;
    if (a.status === 'awaiting_approval') p.waiting += 1;
    people.set(key, p);
  }
  const rows = [...people.values()].sort((a, b) => b.overdue - a.overdue || b.open - a.open);
  return table(t('teams_load'), [t('teams_who'), { label: t('mine_open'), num: true }, { label: t('mine_overdue'), num: true }, { label: t('mine_waiting'), num: true }], rows, (p) => [
    p.name, h('td', { class: 'num', text: String(p.open) }),
    h('td', { class: `num ${p.overdue ? 'overdue' : ''}`, text: String(p.overdue) }),
    h('td', { class: 'num', text: String(p.waiting) }),
  ], { label: 'load' });
}
