// Allarmi: SLA alarms (before the due date, overdue, escalated to the supervisors) and the
// mailboxes' (unconfirmed sent PEC, quota, app password, failing ingestion), each fired once;
// who it went to and whether the e-mail left; acknowledging one (`/api/v1/alarms`).
import { ctx, h, t, chip, say, button, pageHead, table, mailboxName, all } from '../ui.js';
import { when } from '/addin/i18n.js';

const STAGE_KIND = { before: 'warn', overdue: 'bad', escalation: 'bad', warning: 'warn' };
const filter = { state: 'open' };

export async function render(_args, { reload }) {
  const [alarms, users] = await Promise.all([
    ctx.api.get(`/api/v1/alarms?state=${filter.state}&limit=200`),
    all('/api/v1/users?limit=200', 2000).catch(() => []),
  ]);
  const names = new Map(users.map((u) => [u.id, u.name]));
  // The activities' titles (what is late), read through the API like any detail.
  const ids = [...new Set(alarms.items.filter((a) => a.object_type === 'activity').map((a) => a.object_id))].slice(0, 50);
  const titles = new Map(await Promise.all(ids.map(async (id) =>
    [id, (await ctx.api.get(`/api/v1/activities/${encodeURIComponent(id)}`).catch(() => null))?.title])));
  const tabs = h('div', { class: 'row', role: 'group', 'aria-label': t('alarms_filter') },
    ['open', 'acked'].map((s) => h('button', { type: 'button', class: `small ${filter.state === s ? 'primary' : 'secondary'}`, 'aria-pressed': String(filter.state === s), onclick: () => { filter.state = s; reload(); } }, t(`alarms_${s}`))));
  return h('div', { class: 'stack' },
    pageHead(t('page_alarms'), t('alarms_intro')),
    tabs,
    table(t('page_alarms'), [t('alarms_what'), t('alarms_object'), t('alarms_fired'), t('alarms_to'), ''], alarms.items, (a) => h('tr', { 'data-alarm': a.kind, 'data-stage': a.stage },
      h('td', {}, chip(t(`alarms_stage_${a.stage}`), STAGE_KIND[a.stage] ?? 'neutral'), ' ', t(`alarms_kind_${a.kind}`)),
      h('td', {}, object(a, titles)),
      h('td', {}, when(a.fired_at)),
      h('td', {}, a.deliveries.length ? a.deliveries.map((d) => h('div', { class: 'small' },
        names.get(d.user_id) ?? t('alarms_someone'), ' ', chip(t(`alarms_mail_${d.state}`), d.state === 'sent' ? 'ok' : d.state === 'failed' ? 'bad' : 'neutral'))) : '—'),
      h('td', {}, a.state === 'open' ? button(t('alarms_ack'), async () => {
        await ctx.api.post(`/api/v1/alarms/${encodeURIComponent(a.id)}/ack`, {});
        say(t('alarms_acked_now'));
        await reload();
      }, { class: 'secondary small', action: 'alarm-ack' }) : h('span', { class: 'small muted' }, t('alarms_acked_by', { who: names.get(a.acked_by) ?? '' }), ' ', when(a.acked_at)))),
    { empty: filter.state === 'open' ? t('alarms_none') : t('alarms_none_acked'), label: 'alarms' }));
}

function object(a, titles) {
  if (a.object_type === 'activity') return h('a', { href: `#/activity/${encodeURIComponent(a.object_id)}`, text: titles.get(a.object_id) ?? t('alarms_open_activity') });
  if (a.mailbox_id) return mailboxName(a.mailbox_id);
  return a.object_id;
}
