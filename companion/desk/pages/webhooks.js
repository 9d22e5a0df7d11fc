// Webhook: the organisation's event subscriptions (for protocol systems, ERPs, Teams and
// Slack) and each one's delivery log (issue 16, item 6). Organisation admins only: the API
// answers 403 to anyone else. The secret is shown once, right after creation.
import { ctx, h, t, chip, say, button, pageHead, table } from '../ui.js';
import { field } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

/** The public event types (docs/API.md "Webhooks"). */
const EVENTS = ['message.received', 'message.routed', 'activity.created', 'activity.assigned', 'activity.closed',
  'approval.requested', 'approval.decided', 'receipt.failed', 'alarm.fired'];
const FORMATS = ['generic', 'teams', 'slack'];
const DELIVERY_KIND = { delivered: 'ok', failed: 'bad', pending: 'wait', delivering: 'wait' };

export async function render([id], { reload }) {
  if (id) return detail(id, reload);
  const hooks = await ctx.api.get('/api/v1/webhooks');
  return h('div', { class: 'stack' },
    pageHead(t('page_webhooks'), t('webhooks_intro')),
    table(t('page_webhooks'), [t('webhooks_target'), t('webhooks_format'), t('webhooks_events'), t('status')], hooks, (w) => [
      h('td', {}, h('a', { href: `#/webhooks/${encodeURIComponent(w.id)}`, 'data-focus': `w-${w.id}`, text: w.description || w.url }),
        h('span', { class: 'sub addr', text: w.url })),
      t(`webhooks_format_${w.format}`),
      h('td', { class: 'small', text: w.events.join(', ') }),
      h('td', {}, w.enabled ? chip(t('webhooks_enabled'), 'ok') : chip(t('webhooks_disabled'), 'neutral')),
    ], { empty: t('webhooks_none'), label: 'webhooks' }),
    createForm(reload));
}

function createForm(reload) {
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://protocollo.example.it/pecdesk' });
  const description = h('input', { name: 'description', maxlength: 200 });
  const format = h('select', { name: 'format' }, FORMATS.map((f) => h('option', { value: f, text: t(`webhooks_format_${f}`) })));
  const boxes = EVENTS.map((e) => h('input', { type: 'checkbox', name: 'events', value: e, checked: true }));
  const secret = h('div', { 'aria-live': 'polite' });
  return h('section', { class: 'card', 'aria-labelledby': 'wh-new' },
    h('h2', { id: 'wh-new', text: t('webhooks_new') }),
    h('form', { class: 'stack', onsubmit: (e) => e.preventDefault() },
      field(t('webhooks_target'), url, t('webhooks_target_help')),
      field(t('webhooks_description'), description),
      field(t('webhooks_format'), format),
      h('fieldset', {}, h('legend', { text: t('webhooks_events') }),
        boxes.map((b) => h('label', { class: 'check' }, b, ' ', h('code', { text: b.value })))),
      button(t('webhooks_create'), async () => {
        if (!url.value.trim()) { url.focus(); return; }
        const created = await ctx.api.post('/api/v1/webhooks', {
          url: url.value.trim(),
          description: description.value.trim() || undefined,
          format: format.value,
          events: boxes.filter((b) => b.checked).map((b) => b.value),
        });
        say(t('webhooks_created'));
        // Shown once: the companion keeps it sealed and never shows it again.
        secret.replaceChildren(h('div', { class: 'card warn', 'data-secret': '' },
          h('p', { text: t('webhooks_secret_once') }), h('code', { class: 'secret', text: created.secret }),
          h('p', {}, h('a', { href: `#/webhooks/${encodeURIComponent(created.id)}`, text: t('webhooks_open') }))));
      }, { class: 'primary', action: 'webhook-create' })),
    secret);
}

async function detail(id, reload) {
  const path = `/api/v1/webhooks/${encodeURIComponent(id)}`;
  const [w, deliveries] = await Promise.all([ctx.api.get(path), ctx.api.get(`${path}/deliveries?limit=100`)]);
  const toggle = button(w.enabled ? t('webhooks_disable') : t('webhooks_enable'), async () => {
    await ctx.api.patch(path, { enabled: !w.enabled });
    say(w.enabled ? t('webhooks_disabled') : t('webhooks_enabled'));
    await reload();
  }, { class: 'secondary', action: 'webhook-toggle' });
  const test = button(t('webhooks_test'), async () => {
    const r = await ctx.api.post(`${path}/test`, {});
    say(r.delivered ? t('webhooks_test_ok', { status: r.status }) : t('webhooks_test_failed', { reason: r.error ?? r.status ?? '' }));
    await reload();
  }, { class: 'secondary', action: 'webhook-test' });
  const shown = h('div', { 'aria-live': 'polite' });
  const rotate = button(t('webhooks_rotate'), async () => {
    if (!window.confirm(t('webhooks_rotate_confirm'))) return;
    const r = await ctx.api.post(`${path}/secret`, {});
    shown.replaceChildren(h('div', { class: 'card warn', 'data-secret': '' },
      h('p', { text: t('webhooks_secret_once') }), h('code', { class: 'secret', text: r.secret })));
    say(t('webhooks_rotated'));
  }, { class: 'secondary', action: 'webhook-rotate' });
  const remove = button(t('webhooks_delete'), async () => {
    if (!window.confirm(t('webhooks_delete_confirm', { url: w.url }))) return;
    await ctx.api.del(path);
    say(t('webhooks_deleted'));
    location.hash = '#/webhooks';
  }, { class: 'link', action: 'webhook-delete' });
  return h('div', { class: 'stack' },
    pageHead(w.description || t('page_webhooks'), w.url, h('a', { class: 'button secondary small', href: '#/webhooks' }, t('webhooks_all'))),
    h('section', { class: 'card', 'aria-labelledby': 'wh-state' },
      h('h2', { id: 'wh-state' }, t('status'), ': ', w.enabled ? chip(t('webhooks_enabled'), 'ok') : chip(t('webhooks_disabled'), 'neutral')),
      h('p', {}, t('webhooks_format'), ': ', t(`webhooks_format_${w.format}`), ' · ', t('webhooks_events'), ': ', w.events.join(', ')),
      h('div', { class: 'actions' }, toggle, test, rotate, remove), shown),
    table(t('webhooks_deliveries'), [t('webhooks_event'), t('status'), { label: t('webhooks_attempts'), num: true }, t('webhooks_answer'), t('desk_when'), ''], deliveries.items, (d) => [
      h('td', {}, h('code', { text: d.event_type }), h('span', { class: 'sub', text: d.event_id })),
      h('td', {}, chip(t(`webhooks_delivery_${d.status}`), DELIVERY_KIND[d.status] ?? 'neutral'),
        d.next_attempt_at && d.status === 'pending' ? h('span', { class: 'sub' }, t('webhooks_next'), ' ', when(d.next_attempt_at)) : null),
      h('td', { class: 'num', text: String(d.attempts) }),
      h('td', { class: 'small', text: d.last_status ? `HTTP ${d.last_status}` : d.last_error ?? '—' }),
      when(d.delivered_at ?? d.updated_at),
      h('td', {}, d.status === 'failed' ? button(t('webhooks_retry'), async () => {
        await ctx.api.post(`${path}/deliveries/${encodeURIComponent(d.id)}/retry`, {});
        say(t('webhooks_retried'));
        await reload();
      }, { class: 'link small', action: 'delivery-retry' }) : null),
    ], { empty: t('webhooks_no_deliveries'), label: 'deliveries', showCaption: true }));
}
