// Smistamento: messages nobody routed or took yet, each routed in one click to a team
// (POST /api/v1/messages/{id}/route, which also opens the team's activity) or to a person.
import { ctx, h, t, say, button, pageHead, table, certChip, certifiedTime, mailboxName, all, cached } from '../ui.js';
import { ApiError } from '/addin/api.js';

export async function render(_args, { reload }) {
  const [items, teams] = await Promise.all([
    all('/api/v1/messages?queue=dispatch&limit=200', 1000),
    cached('/api/v1/teams?limit=200').then((p) => p.items),
  ]);
  const mailboxes = [...new Set(items.map((m) => m.mailbox_id))];
  const people = new Map(await Promise.all(mailboxes.map(async (mb) => [mb,
    (await cached(`/api/v1/users?mailbox=${encodeURIComponent(mb)}&policy=MAIL_ACTIVITY_WRITER&limit=200`)).items])));

  const routeTo = async (m, body, name) => {
    try {
      await ctx.api.post(`/api/v1/messages/${encodeURIComponent(m.id)}/route`, {
        ...body,
        create_activity: { title: (m.subject || t('desk_no_subject')).slice(0, 200) },
      });
    } catch (e) {
      // A colleague was quicker: show the queue as it is now, and say why.
      if (e instanceof ApiError && [404, 409].includes(e.status)) await reload();
      throw e;
    }
    say(t('dispatch_routed', { subject: m.subject || t('desk_no_subject'), to: name }));
    await reload();
  };

  return h('div', {},
    pageHead(t('page_dispatch'), t('dispatch_intro')),
    table(t('page_dispatch'), [t('subject'), t('mailbox'), t('issued_at'), t('dispatch_route')], items, (m) => {
      const who = h('select', { 'aria-label': t('dispatch_person_for', { subject: m.subject ?? '' }) },
        h('option', { value: '' }, t('dispatch_person')),
        (people.get(m.mailbox_id) ?? []).filter((u) => u.enabled !== false).map((u) => h('option', { value: u.id }, u.name)));
      return h('tr', { 'data-message': m.id },
        h('td', {}, h('strong', { text: m.subject || t('desk_no_subject') }), h('span', { class: 'sub' }, certChip(m), ' ', m.sender ?? '')),
        h('td', { text: mailboxName(m.mailbox_id) }),
        h('td', { text: certifiedTime(m) }),
        h('td', {}, h('div', { class: 'route-to', role: 'group', 'aria-label': t('dispatch_route_for', { subject: m.subject ?? '' }) },
          teams.map((team) => button(`→ ${team.name}`, () => routeTo(m, { team_id: team.id }, team.name),
            { class: 'primary small', action: `route-team-${team.name}` })),
          who,
          button(t('dispatch_assign'), async () => {
            if (!who.value) { who.focus(); throw new Error(t('dispatch_pick_person')); }
            await routeTo(m, { user_id: who.value }, who.selectedOptions[0].textContent);
          }, { class: 'secondary small', action: 'route-person' }))));
    }, { empty: t('dispatch_empty'), label: 'dispatch' }));
}
