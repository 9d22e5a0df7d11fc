// Invii massivi: the campaigns, each one's count per status and recipients, and pause,
// resume, cancel (the companion refuses what the campaign's state does not allow).
import { ctx, h, t, chip, say, button, pageHead, table, mailboxName, activityLink } from '../ui.js';
import { when } from '/addin/i18n.js';

const STATE_KIND = { running: 'wait', paused: 'warn', cancelled: 'neutral', done: 'ok', finished: 'ok' };

export async function render([id], { reload }) {
  if (id) return detail(id, reload);
  const page = await ctx.api.get('/api/v1/campaigns?limit=100');
  return h('div', {},
    pageHead(t('page_campaigns'), t('campaigns_intro')),
    table(t('page_campaigns'), [t('campaigns_name'), t('mailbox'), t('status'), { label: t('recipients'), num: true }, t('desk_created')], page.items, (c) => [
      h('td', {}, h('a', { href: `#/campaigns/${encodeURIComponent(c.id)}`, 'data-focus': `c-${c.id}`, text: c.name }), h('span', { class: 'sub', text: c.subject })),
      mailboxName(c.mailbox_id),
      h('td', {}, chip(t(`campaign_${c.state}`), STATE_KIND[c.state] ?? 'neutral')),
      h('td', { class: 'num', text: String(c.recipients_total) }),
      when(c.created_at),
    ], { empty: t('campaigns_none'), label: 'campaigns' }));
}

async function detail(id, reload) {
  const path = `/api/v1/campaigns/${encodeURIComponent(id)}`;
  const [c, recipients] = await Promise.all([ctx.api.get(path), ctx.api.get(`${path}/recipients?limit=200`)]);
  const act = (verb, confirmKey) => async () => {
    if (confirmKey && !window.confirm(t(confirmKey, { name: c.name }))) return;
    const r = await ctx.api.post(`${path}/${verb}`, {});
    say(t('campaign_now', { name: c.name, state: t(`campaign_${r.state ?? c.state}`) }));
    await reload();
  };
  const counts = Object.entries(c.counts ?? {}).filter(([, n]) => n > 0);
  return h('div', { class: 'stack' },
    pageHead(c.name, c.subject, h('a', { class: 'button secondary small', href: '#/campaigns' }, t('campaigns_all'))),
    h('section', { class: 'card', 'aria-labelledby': 'camp-state' },
      h('h2', { id: 'camp-state' }, t('status'), ': ', chip(t(`campaign_${c.state}`), STATE_KIND[c.state] ?? 'neutral')),
      h('div', { class: 'cards', role: 'list', 'aria-label': t('campaigns_counts') }, counts.map(([k, n]) =>
        h('div', { class: `tile ${['failed', 'refused', 'not_delivered'].includes(k) ? 'bad' : ''}`, role: 'listitem' }, h('div', { class: 'n', text: String(n) }), h('div', { class: 'muted', text: t(`state_${k}`) })))),
      // What the campaign's state allows (the companion refuses the rest with a 409 anyway).
      h('div', { class: 'actions' },
        c.state === 'running' ? button(t('campaign_pause'), act('pause'), { action: 'campaign-pause' }) : null,
        c.state === 'paused' ? button(t('campaign_resume'), act('resume'), { class: 'primary', action: 'campaign-resume' }) : null,
        ['running', 'paused'].includes(c.state) ? button(t('campaign_cancel'), act('cancel', 'campaign_cancel_confirm'), { class: 'link', action: 'campaign-cancel' })
          : h('p', { class: 'muted', text: t('campaign_over') }))),
    table(t('campaigns_recipients'), [{ label: '#', num: true }, t('campaigns_address'), t('status'), t('desk_when'), t('activity')], recipients.items, (r) => [
      h('td', { class: 'num', text: String(r.row) }),
      r.address,
      h('td', {}, chip(t(`state_${r.status}`), { delivered: 'ok', failed: 'bad', not_delivered: 'bad', cancelled: 'neutral', held: 'warn' }[r.status] ?? 'wait'), r.reason ? h('span', { class: 'sub', text: r.reason }) : null),
      when(r.outcome_at ?? r.accepted_at ?? r.sent_at ?? r.queued_at),
      r.activity_id ? activityLink({ id: r.activity_id, title: t('campaigns_open_activity') }) : '—',
    ], { label: 'recipients', showCaption: true }));
}
