// The settings form of one mailbox (Amministrazione → a mailbox → Impostazioni): display
// name, quota, app password expiry, polling, the SLA calendar, the archive policy, the
// IMAP and SMTP connections. It sends only what changed, as one PATCH /api/v1/mailboxes/{id}.
// Passwords are write-only: the field is always empty, an empty field keeps the stored
// one ("password_set" only says whether there is one).
//
// The form is made of sections; another feature adds its fields with `addSection` (a
// section renders its fieldset from the mailbox's detail and returns what it changed):
//
//   addSection({ key: 'archive', render: (detail) => ({ element, patch: () => ({ archive: … }) }) });
import { ctx, h, t, say, button } from '../ui.js';
import { field } from '/addin/dom.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const MB = 1024 * 1024;

/** The sections, in the form's order. */
const SECTIONS = [];

/** Adds a section to every mailbox form: `{ key, render(detail) → { element, patch() } }`. */
export function addSection(section) {
  if (!SECTIONS.some((s) => s.key === section.key)) SECTIONS.push(section);
}

const input = (name, value, extra = {}) => {
  const el = h('input', { name, ...extra });
  el.value = value ?? '';
  return el;
};

const fieldset = (key, legend, ...fields) => h('fieldset', { class: 'stack', 'data-section': key }, h('legend', { text: legend }), ...fields);

addSection({
  key: 'general',
  render(d) {
    const name = input('name', d.name, { maxlength: 200, required: true });
    const quota = input('quota_mb', d.quota?.source === 'configured' && d.quota.total_bytes ? String(Math.round(d.quota.total_bytes / MB)) : '', { type: 'number', min: 1 });
    const expires = input('app_password_expires_at', d.app_password?.expires_at?.slice(0, 10) ?? '', { type: 'date' });
    const ingest = h('input', { type: 'checkbox', name: 'ingest_enabled' });
    ingest.checked = Boolean(d.ingest_enabled);
    return {
      element: fieldset('general', t('mbset_general'),
        field(t('mbset_name'), name),
        field(t('mbset_quota'), quota, t('mbset_quota_help')),
        field(t('mbset_expires'), expires, t('mbset_expires_help')),
        h('label', { class: 'check' }, ingest, ' ', t('mbset_ingest'))),
      patch() {
        const p = {};
        if (name.value.trim() !== d.name) p.name = name.value.trim();
        const wasQuota = d.quota?.source === 'configured' ? d.quota.total_bytes : null;
        const q = quota.value ? Number(quota.value) * MB : null;
        if (q !== wasQuota && (quota.value || wasQuota)) p.quota_bytes = q;
        const wasExp = d.app_password?.expires_at?.slice(0, 10) ?? '';
        if (expires.value !== wasExp) p.app_password_expires_at = expires.value || null;
        if (ingest.checked !== Boolean(d.ingest_enabled)) p.ingest_enabled = ingest.checked;
        return p;
      },
    };
  },
});

addSection({
  key: 'sla',
  render(d) {
    const sla = d.sla ?? { time_zone: 'Europe/Rome', office_hours: {}, patron_day: null };
    const zone = h('select', { name: 'time_zone' }, ['Europe/Rome', 'UTC'].map((z) => h('option', { value: z }, z)));
    zone.value = sla.time_zone;
    const days = DAYS.map((day) => [day, input(`hours_${day}`, (sla.office_hours?.[day] ?? []).join(', '), { placeholder: '09:00-13:00, 14:00-18:00' })]);
    const patron = input('patron_day', sla.patron_day ? `${String(sla.patron_day.day).padStart(2, '0')}/${String(sla.patron_day.month).padStart(2, '0')}` : '', { placeholder: '07/12', pattern: '\\d{1,2}/\\d{1,2}' });
    const value = () => {
      const hours = Object.fromEntries(days.map(([day, el]) => [day, el.value.split(',').map((s) => s.trim()).filter(Boolean)]));
      const m = /^(\d{1,2})\/(\d{1,2})$/.exec(patron.value.trim());
      if (patron.value.trim() && !m) { patron.focus(); throw new Error(t('mbset_patron_bad')); }
      return { time_zone: zone.value, office_hours: hours, patron_day: m ? { month: Number(m[2]), day: Number(m[1]) } : null };
    };
    const before = JSON.stringify(d.sla ? { time_zone: sla.time_zone, office_hours: Object.fromEntries(DAYS.map((day) => [day, sla.office_hours?.[day] ?? []])), patron_day: sla.patron_day ?? null } : null);
    return {
      element: fieldset('sla', t('mbset_sla'),
        h('p', { class: 'help', text: t('mbset_sla_help') }),
        field(t('mbset_zone'), zone),
        h('div', { class: 'grid-days' }, days.map(([day, el]) => field(t(`day_${day}`), el))),
        field(t('mbset_patron'), patron, t('mbset_patron_help'))),
      patch() {
        const v = value();
        return JSON.stringify(v) === before ? {} : { sla: v };
      },
    };
  },
});

// The archive policy (Archiviazione): stored messages older than N days leave the provider's
// box, which frees its quota; empty: everything stays in the box. The copy kept by PecDesk
// is never touched (docs/operations.md).
addSection({
  key: 'archive',
  render(d) {
    const was = d.archive?.expunge_after_days ?? null;
    const days = input('expunge_after_days', was === null ? '' : String(was), { type: 'number', min: 1, max: 36500 });
    return {
      element: fieldset('archive', t('mbset_archive'),
        h('p', { class: 'help', text: t('mbset_archive_help') }),
        field(t('mbset_archive_days'), days, t('mbset_archive_days_help'))),
      patch() {
        const n = days.value.trim() ? Number(days.value) : null;
        if (n !== null && !(Number.isInteger(n) && n >= 1 && n <= 36500)) { days.focus(); throw new Error(t('mbset_archive_bad')); }
        return n === was ? {} : { archive: { expunge_after_days: n } };
      },
    };
  },
});

for (const proto of ['imap', 'smtp']) {
  addSection({
    key: proto,
    render(d) {
      const e = d[proto] ?? {};
      const host = input(`${proto}_host`, e.host);
      const port = input(`${proto}_port`, e.port ? String(e.port) : '', { type: 'number', min: 1, max: 65535, placeholder: proto === 'imap' ? '993' : '465' });
      const security = h('select', { name: `${proto}_security` }, ['tls', 'starttls', 'plain'].map((s) => h('option', { value: s }, t(`mbset_sec_${s}`))));
      security.value = e.security ?? 'tls';
      const user = input(`${proto}_user`, e.user, { autocomplete: 'off' });
      // Write-only: never filled from the companion (it never sends it back).
      const password = input(`${proto}_password`, '', { type: 'password', autocomplete: 'new-password', placeholder: e.password_set ? t('mbset_password_kept') : '' });
      const sent = proto === 'imap' ? input('imap_sent_folder', e.sent_folder ?? '', { placeholder: t('mbset_sent_auto') }) : null;
      return {
        element: fieldset(proto, t(`mbset_${proto}`),
          h('div', { class: 'row' }, field(t('mbset_host'), host), field(t('mbset_port'), port), field(t('mbset_security'), security)),
          h('div', { class: 'row' }, field(t('mbset_user'), user), field(t('mbset_password'), password, e.password_set ? t('mbset_password_set') : t('mbset_password_unset'))),
          sent ? field(t('mbset_sent'), sent) : null),
        patch() {
          const p = {};
          if (host.value.trim() !== (e.host ?? '')) p.host = host.value.trim();
          if (port.value && Number(port.value) !== e.port) p.port = Number(port.value);
          if ((host.value.trim() || d[proto]) && security.value !== e.security) p.security = security.value;
          if (user.value.trim() !== (e.user ?? '')) p.user = user.value.trim();
          if (password.value) p.password = password.value;
          if (sent && sent.value.trim() !== (e.sent_folder ?? '')) p.sent_folder = sent.value.trim() || null;
          return Object.keys(p).length ? { [proto]: p } : {};
        },
      };
    },
  });
}

/**
 * The form of mailbox `detail` (GET /api/v1/mailboxes/{id}); `onSaved(view)` after the
 * companion accepted the change.
 */
export function mailboxSettings(detail, { onSaved }) {
  const parts = SECTIONS.map((s) => s.render(detail));
  const password = () => parts.flatMap((p) => [...p.element.querySelectorAll('input[type="password"]')]);
  return h('form', { class: 'stack', 'data-mailbox-settings': detail.address, onsubmit: (e) => e.preventDefault() },
    parts.map((p) => p.element),
    h('div', { class: 'actions' },
      button(t('mbset_save'), async () => {
        const body = Object.assign({}, ...parts.map((p) => p.patch()));
        if (!Object.keys(body).length) { say(t('mbset_nothing')); return; }
        const saved = await ctx.api.patch(`/api/v1/mailboxes/${encodeURIComponent(detail.id)}`, body);
        for (const el of password()) el.value = '';
        say(t('mbset_saved', { name: saved.name }));
        await onSaved?.(saved);
      }, { class: 'primary', action: 'mailbox-save' })));
}
