// Amministrazione: mailboxes with connection health and quota, teams, users and grants.
// Read views; the edits the API offers to organisation admins: a new team, revoking a grant.
import { ctx, h, t, chip, say, button, pageHead, table, all } from '../ui.js';
import { field, size } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

export async function render(_args, { reload }) {
  const [mailboxes, teams, users, grants] = await Promise.all([
    ctx.api.get('/api/v1/mailboxes'),
    all('/api/v1/teams?limit=200'),
    all('/api/v1/users?limit=200', 5000),
    ctx.api.get('/api/v1/grants'),
  ]);
  // Health and quota are in each mailbox's detail.
  const details = new Map(await Promise.all(mailboxes.map(async (m) =>
    [m.id, await ctx.api.get(`/api/v1/mailboxes/${encodeURIComponent(m.id)}`).catch(() => null)])));
  const name = h('input', { name: 'team', maxlength: 200 });
  return h('div', { class: 'stack' },
    pageHead(t('page_admin'), t('admin_intro')),
    h('section', { class: 'card', 'aria-labelledby': 'mb-title' },
      h('h2', { id: 'mb-title', text: t('admin_mailboxes') }),
      table(t('admin_mailboxes'), [t('mailbox'), t('admin_ingest'), t('admin_health'), t('admin_quota'), t('admin_archive'), t('admin_password')], mailboxes, (m) => {
        const d = details.get(m.id);
        return h('tr', { 'data-mailbox': m.address },
          h('td', {}, h('strong', { text: m.name }), h('span', { class: 'sub', text: m.address })),
          h('td', {}, m.admin?.ingest_enabled ? chip(t('admin_on'), 'ok') : chip(t('admin_off'), 'neutral'),
            h('span', { class: 'sub', text: m.admin?.imap_configured ? t('admin_imap_set') : t('admin_imap_unset') })),
          h('td', {}, health(m, d)),
          h('td', {}, quota(d?.quota)),
          h('td', { 'data-col': 'archive' }, archive(d)),
          h('td', {}, m.admin?.app_password_warning ? chip(m.admin.app_password_message ?? t('admin_password_soon'), 'warn') : d?.app_password?.expires_at ? when(d.app_password.expires_at) : '—'));
      }, { label: 'mailboxes' })),
    h('div', { class: 'cols' },
      h('section', { class: 'card', 'aria-labelledby': 'teams-title' },
        h('h2', { id: 'teams-title', text: t('admin_teams') }),
        table(t('admin_teams'), [t('team'), { label: t('admin_members'), num: true }], teams, (x) => [
          h('td', {}, x.name, x.external ? [' ', chip(t('admin_external'), 'neutral')] : null),
          h('td', { class: 'num', text: String(x.members ?? '—') }),
        ], { label: 'teams' }),
        h('form', { class: 'row', onsubmit: (e) => e.preventDefault() },
          field(t('admin_team_new'), name),
          button(t('admin_team_create'), async () => {
            if (!name.value.trim()) { name.focus(); return; }
            const team = await ctx.api.post('/api/v1/teams', { name: name.value.trim() });
            ctx.cache.clear();
            say(t('admin_team_created', { name: team.name }));
            await reload();
          }, { class: 'secondary', action: 'team-create' }))),
      h('section', { class: 'card', 'aria-labelledby': 'users-title' },
        h('h2', { id: 'users-title', text: t('admin_users') }),
        table(t('admin_users'), [t('admin_user'), t('signin_email'), t('status')], users, (u) => [
          u.name, h('td', { class: 'addr', text: u.email }), h('td', {}, u.enabled ? chip(t('admin_enabled'), 'ok') : chip(t('admin_disabled'), 'bad')),
        ], { label: 'users' }))),
    h('section', { class: 'card', 'aria-labelledby': 'grants-title' },
      h('h2', { id: 'grants-title', text: t('admin_grants') }),
      h('p', { class: 'help', text: t('admin_grants_help') }),
      table(t('admin_grants'), [t('mailbox'), t('admin_holder'), t('admin_policy'), ''], grants, (g) => [
        g.mailbox_address,
        g.user_name ?? (g.team_name ? `${t('team')}: ${g.team_name}` : '—'),
        h('td', {}, h('code', { text: g.policy })),
        h('td', {}, button(t('admin_revoke'), async () => {
          if (!window.confirm(t('admin_revoke_confirm', { policy: g.policy, who: g.user_name ?? g.team_name ?? '' }))) return;
          await ctx.api.del(`/api/v1/grants/${encodeURIComponent(g.id)}`);
          say(t('admin_revoked'));
          await reload();
        }, { class: 'link small', action: 'grant-revoke' })),
      ], { label: 'grants' })));
}

function health(m, d) {
  const a = m.admin ?? {};
  if (a.failing || (a.consecutive_failures ?? 0) > 0) {
    return [chip(t('admin_failing', { n: a.consecutive_failures ?? 1 }), 'bad'), h('span', { class: 'sub', text: d?.health?.last_error ?? '' })];
  }
  if (a.last_success_at || d?.health?.last_success_at) return [chip(t('admin_healthy'), 'ok'), h('span', { class: 'sub', text: when(a.last_success_at ?? d.health.last_success_at) })];
  return chip(t('admin_never'), 'neutral');
}

function quota(q) {
  if (!q) return h('span', { class: 'muted', text: t('admin_quota_unknown') });
  if (q.used_bytes === null || q.used_bytes === undefined) return `${size(q.total_bytes)} (${t('admin_quota_configured')})`;
  const pct = q.total_bytes ? Math.round((q.used_bytes / q.total_bytes) * 100) : null;
  return h('span', {}, h('meter', { min: 0, max: 100, value: pct ?? 0, 'aria-label': t('admin_quota') }), ` ${size(q.used_bytes)} / ${size(q.total_bytes)}${pct !== null ? ` (${pct}%)` : ''}`);
}

// The archive policy (messages stored here leave the provider's box after N days), what
// it removed so far and when it last ran.
function archive(d) {
  const days = d?.archive?.expunge_after_days;
  const run = d?.health?.archive;
  const policy = days ? h('span', { text: t('admin_archive_after', { n: days }) }) : h('span', { class: 'muted', text: t('admin_archive_off') });
  if (run?.unavailable) return [policy, ' ', chip(t('admin_archive_unavailable'), 'warn'), h('span', { class: 'sub', text: run.unavailable })];
  if (!days || !run?.last_run_at) return policy;
  return [policy, h('span', { class: 'sub', text: t('admin_archive_last', { n: run.total_expunged, size: size(run.total_bytes_freed), when: when(run.last_run_at) }) })];
}
