// Code dei team: the open activities of each team, nobody's first, and who has what. The
// counts come from the companion (GET /api/v1/activities/workload, only what the caller
// may read); each queue reads its first activities only (?team=…, free work first).
import { ctx, h, t, chip, say, button, pageHead, table, OPEN, isOverdue, statusChip, priorityChip, dueCell, activityLink, cached, holds, workers, assign } from '../ui.js';

const SHOWN = 25;

/** The first SHOWN open activities of a team: nobody's first, then by due date. */
async function queue(q) {
  const base = `/api/v1/activities?status=${OPEN}&sort=due_at&team=${encodeURIComponent(q.team_id)}&limit=${SHOWN}`;
  const free = q.free ? (await ctx.api.get(`${base}&assignee=none`)).items : [];
  const taken = free.length < SHOWN && q.open > q.free ? (await ctx.api.get(base)).items.filter((a) => a.assignee_id) : [];
  return [...free, ...taken].slice(0, SHOWN);
}

export async function render(_args, { reload }) {
  const [workload, teams] = await Promise.all([
    ctx.api.get('/api/v1/activities/workload'),
    cached('/api/v1/teams?limit=200').then((p) => p.items).catch(() => ctx.me.teams ?? []),
  ]);
  const now = Date.now();
  const mine = new Set((ctx.me.teams ?? []).map((x) => x.id));
  const named = new Map(teams.map((x) => [x.id, x.name]));
  // The caller's teams first, then the others they can see activities of.
  const queues = workload.teams.filter((q) => q.team_id);
  queues.sort((a, b) => Number(mine.has(b.team_id)) - Number(mine.has(a.team_id)) || String(named.get(a.team_id) ?? a.team_name).localeCompare(String(named.get(b.team_id) ?? b.team_name)));
  const lists = await Promise.all(queues.map(queue));
  const items = lists.flat();
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
  const sections = queues.map((q, i) => {
    const list = lists[i];
    const id = q.team_id;
    const name = named.get(id) ?? q.team_name;
    return h('section', { class: 'card', 'aria-labelledby': `team-${id}`, 'data-team': name },
      h('h2', { id: `team-${id}` }, name, ' ', chip(t('teams_free', { n: q.free }), q.free ? 'warn' : 'ok'), ' ', chip(t('teams_open', { n: q.open }), 'neutral'),
        q.overdue ? ' ' : null, q.overdue ? chip(t('teams_overdue', { n: q.overdue }), 'bad') : null),
      table(t('teams_caption', { team: name }), [t('activity'), t('teams_who'), t('status'), t('due_at'), t('priority')], list, (a) =>
        h('tr', { class: isOverdue(a, now) ? 'is-overdue' : null, 'data-activity': a.id },
          h('td', {}, activityLink(a)),
          whoCell(a),
          h('td', {}, statusChip(a.status)),
          h('td', {}, dueCell(a)),
          h('td', {}, priorityChip(a.priority)))),
      q.open > list.length ? h('p', { class: 'muted small', text: t('teams_more', { shown: list.length, n: q.open }) }) : null);
  });
  return h('div', {},
    pageHead(t('page_teams'), t('teams_intro')),
    sections.length ? h('div', { class: 'stack' }, sections) : h('p', { class: 'muted', text: t('team_none') }),
    h('section', { class: 'card', 'aria-labelledby': 'load-title' },
      h('h2', { id: 'load-title', text: t('teams_load') }),
      load(workload.people)));
}

/** Who has what: open and overdue activities per person (nobody's included), as counted by the companion. */
function load(people) {
  const rows = people.map((p) => ({ name: p.assignee_name ?? t('teams_nobody'), open: p.open, overdue: p.overdue, waiting: p.awaiting_approval }));
  return table(t('teams_load'), [t('teams_who'), { label: t('mine_open'), num: true }, { label: t('mine_overdue'), num: true }, { label: t('mine_waiting'), num: true }], rows, (p) => [
    p.name, h('td', { class: 'num', text: String(p.open) }),
    h('td', { class: `num ${p.overdue ? 'overdue' : ''}`, text: String(p.overdue) }),
    h('td', { class: 'num', text: String(p.waiting) }),
  ], { label: 'load' });
}
