// Amministrazione: mailboxes with connection health and quota (and their settings form,
// ./mailbox-settings.js), teams, users and grants, with the edits of organisation admins:
// a new team; a new user, disabling and enabling one (never deleting); adding and revoking
// a grant (a policy or a role bundle, to a user or a team).
import { ctx, h, t, chip, say, button, pageHead, table, all } from '../ui.js';
import { field, size } from '/addin/dom.js';
import { when } from '/addin/i18n.js';
import { mailboxSettings } from './mailbox-settings.js';

const POLICIES = ['MAIL_ACCOUNT_READER', 'MAIL_ACCOUNT_MANAGER', 'MAIL_ACTIVITY_READER', 'MAIL_ACTIVITY_WRITER', 'MAIL_ACTIVITY_MANAGER'];
const ROLES = ['Responsabile', 'Assegnatario', 'Smistatore'];

let settingsOf = null; // the id of the mailbox whose settings are open

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
  const open = settingsOf && details.get(settingsOf);
  return h('div', { class: 'stack' },
    pageHead(t('page_admin'), t('admin_intro')),
    h('section', { class: 'card', 'aria-labelledby': 'mb-title' },
      h('h2', { id: 'mb-title', text: t('admin_mailboxes') }),
      table(t('admin_mailboxes'), [t('mailbox'), t('admin_ingest'), t('admin_health'), t('admin_quota'), t('admin_archive'), t('admin_password'), ''], mailboxes, (m) => {
        const d = details.get(m.id);
        return h('tr', { 'data-mailbox': m.address },
          h('td', {}, h('strong', { text: m.name }), h('span', { class: 'sub', text: m.address })),
          h('td', {}, m.admin?.ingest_enabled ? chip(t('admin_on'), 'ok') : chip(t('admin_off'), 'neutral'),
            h('span', { class: 'sub', text: m.admin?.imap_configured ? t('admin_imap_set') : t('admin_imap_unset') })),
          h('td', {}, health(m, d)),
          h('td', {}, quota(d?.quota)),
          h('td', { 'data-col': 'archive' }, archive(d)),
          h('td', {}, m.admin?.app_password_warning ? chip(m.admin.app_password_message ?? t('admin_password_soon'), 'warn') : d?.app_password?.expires_at ? when(d.app_password.expires_at) : '—'),
          h('td', {}, d ? button(t('admin_settings'), async () => { settingsOf = settingsOf === m.id ? null : m.id; await reload(); document.getElementById('mbset-title')?.focus(); }, { class: 'secondary small', action: `settings-${m.address}` }) : null));
      }, { label: 'mailboxes' })),
    open ? h('section', { class: 'card', 'aria-labelledby': 'mbset-title' },
      h('h2', { id: 'mbset-title', tabindex: '-1', text: t('admin_settings_of', { name: open.name }) }),
      mailboxSettings(open, { onSaved: async () => { ctx.me = await ctx.api.get('/api/v1/me'); ctx.cache.clear(); await reload(); } })) : null,
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
        table(t('admin_users'), [t('admin_user'), t('signin_email'), t('status'), ''], users, (u) => h('tr', { 'data-user': u.email },
          h('td', { text: u.name }), h('td', { class: 'addr', text: u.email }), h('td', {}, u.enabled ? chip(t('admin_enabled'), 'ok') : chip(t('admin_disabled'), 'bad')),
          h('td', {}, u.id === ctx.me?.user.id ? null : button(u.enabled ? t('admin_disable') : t('admin_enable'), async () => {
            if (u.enabled && !window.confirm(t('admin_disable_confirm', { name: u.name }))) return;
            await ctx.api.patch(`/api/v1/users/${encodeURIComponent(u.id)}`, { enabled: !u.enabled });
            ctx.cache.clear();
            say(t(u.enabled ? 'admin_disabled_done' : 'admin_enabled_done', { name: u.name }));
            await reload();
          }, { class: 'link small', action: `user-${u.enabled ? 'disable' : 'enable'}` }))), { label: 'users' }),
        newUser(reload))),
    h('section', { class: 'card', 'aria-labelledby': 'grants-title' },
      h('h2', { id: 'grants-title', text: t('admin_grants') }),
      h('p', { class: 'help', text: t('admin_grants_help') }),
      newGrant(mailboxes, users, teams, reload),
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

/** The form of a new user: name, e-mail, administrator. */
function newUser(reload) {
  const name = h('input', { name: 'user_name', maxlength: 200, autocomplete: 'off' });
  const email = h('input', { name: 'user_email', type: 'email', autocomplete: 'off' });
  const admin = h('input', { type: 'checkbox', name: 'user_admin' });
  return h('form', { class: 'stack', 'aria-labelledby': 'user-new-title', onsubmit: (e) => e.preventDefault() },
    h('h3', { id: 'user-new-title', text: t('admin_user_new') }),
    h('div', { class: 'row' }, field(t('admin_user_name'), name), field(t('signin_email'), email)),
    h('label', { class: 'check' }, admin, ' ', t('admin_user_admin')),
    h('div', { class: 'actions' }, button(t('admin_user_create'), async () => {
      if (!name.value.trim()) { name.focus(); throw new Error(t('admin_user_name_missing')); }
      if (!email.value.trim()) { email.focus(); throw new Error(t('admin_user_email_missing')); }
      const u = await ctx.api.post('/api/v1/users', { name: name.value.trim(), email: email.value.trim(), is_admin: admin.checked });
      ctx.cache.clear();
      say(t('admin_user_created', { name: u.name }));
      await reload();
    }, { class: 'secondary', action: 'user-create' })));
}

/** The form of a new grant: a mailbox, a user or a team, a role bundle or one policy. */
function newGrant(mailboxes, users, teams, reload) {
  const mailbox = h('select', { name: 'grant_mailbox' }, mailboxes.map((m) => h('option', { value: m.id }, `${m.name} · ${m.address}`)));
  const holder = h('select', { name: 'grant_holder' },
    h('optgroup', { label: t('admin_users') }, users.filter((u) => u.enabled).map((u) => h('option', { value: `user:${u.id}` }, u.name))),
    h('optgroup', { label: t('admin_teams') }, teams.map((x) => h('option', { value: `team:${x.id}` }, x.name))));
  const what = h('select', { name: 'grant_what' },
    h('optgroup', { label: t('admin_roles') }, ROLES.map((r) => h('option', { value: `role:${r}` }, t(`admin_role_${r.toLowerCase()}`)))),
    h('optgroup', { label: t('admin_policies') }, POLICIES.map((p) => h('option', { value: `policy:${p}` }, p))));
  return h('form', { class: 'stack', 'aria-labelledby': 'grant-new-title', onsubmit: (e) => e.preventDefault() },
    h('h3', { id: 'grant-new-title', text: t('admin_grant_new') }),
    h('div', { class: 'row' }, field(t('mailbox'), mailbox), field(t('admin_holder'), holder), field(t('admin_policy'), what)),
    h('div', { class: 'actions' }, button(t('admin_grant_add'), async () => {
      const [kind, id] = holder.value.split(/:(.*)/s);
      const [sort, value] = what.value.split(/:(.*)/s);
      const body = { mailbox_id: mailbox.value, [`${kind}_id`]: id, [sort]: value };
      const added = await ctx.api.post('/api/v1/grants', body);
      const n = added.created;
      ctx.cache.clear();
      say(t('admin_grant_added', { n, who: holder.selectedOptions[0].textContent }));
      await reload();
    }, { class: 'secondary', action: 'grant-add' })));
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
