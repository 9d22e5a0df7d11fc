// Registro: the organisation's audit chain, newest entries first, and its verification
// (GET /api/v1/audit/verify names the first broken entry).
import { ctx, h, t, button, pageHead, table, all, clock } from '../ui.js';
import { fill } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

const PAGE = 100;

export async function render([from]) {
  // verify also says how many entries the chain holds: the last page starts there.
  const [check, users] = await Promise.all([
    ctx.api.get('/api/v1/audit/verify'),
    all('/api/v1/users?limit=200', 2000).catch(() => []),
  ]);
  const names = new Map(users.map((u) => [u.id, u.name]));
  const total = check.entries ?? 0;
  const after = from !== undefined ? Math.max(0, Number(from) || 0) : Math.max(0, total - PAGE);
  const entries = await ctx.api.get(`/api/v1/audit?after=${after}&limit=${PAGE}`);
  const list = (Array.isArray(entries) ? entries : entries.items ?? []).slice().reverse();
  const verdict = h('div', { class: 'verify', 'aria-live': 'polite', 'data-verify': '' });
  const show = (v) => fill(verdict, v.ok
    ? h('span', { class: 'badge ok', 'data-ok': 'true' }, '✓ ', t('audit_intact', { n: v.entries }))
    : h('span', { class: 'badge bad', 'data-ok': 'false' }, '✗ ', t('audit_broken', { seq: v.first_broken ?? '?', why: v.reason ?? '' })),
  h('span', { class: 'muted small', text: t('audit_checked', { time: clock() }) }));
  show(check);
  return h('div', { class: 'stack' },
    pageHead(t('page_audit'), t('audit_intro')),
    h('section', { class: 'card', 'aria-labelledby': 'verify-title' },
      h('h2', { id: 'verify-title', text: t('audit_verify_title') }),
      verdict,
      h('div', { class: 'actions' }, button(t('audit_verify'), async () => show(await ctx.api.get('/api/v1/audit/verify')), { class: 'primary', action: 'audit-verify' }))),
    h('nav', { class: 'actions', 'aria-label': t('audit_pages') },
      after > 0 ? h('a', { class: 'button secondary small', href: `#/audit/${Math.max(0, after - PAGE)}` }, t('audit_older')) : null,
      after + PAGE < total ? h('a', { class: 'button secondary small', href: '#/audit' }, t('audit_newest')) : null,
      h('span', { class: 'muted small', text: t('audit_range', { from: after + 1, to: Math.min(total, after + PAGE), total }) })),
    table(t('page_audit'), [{ label: '#', num: true }, t('desk_when'), t('audit_action'), t('audit_actor'), t('audit_object'), t('audit_details')], list, (e) => [
      h('td', { class: 'num', text: String(e.seq) }),
      when(e.at),
      h('td', {}, h('code', { text: e.action })),
      e.actor_id ? names.get(e.actor_id) ?? e.actor_id : h('span', { class: 'muted', text: t('audit_system') }),
      h('td', { class: 'small' }, e.object_type, ' ', h('code', { class: 'id', text: e.object_id })),
      h('td', {}, details(e.details)),
    ], { label: 'audit' }));
}

function details(d) {
  if (!d || d === '{}' || d === 'null') return '—';
  let text = d;
  try { text = JSON.stringify(typeof d === 'string' ? JSON.parse(d) : d, null, 1); } catch { /* as it is */ }
  return h('details', {}, h('summary', { text: t('audit_show') }), h('pre', { class: 'json', text }));
}

