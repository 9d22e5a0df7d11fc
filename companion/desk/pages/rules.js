// Regole: the routing rules in their order (moved with buttons, so by keyboard too), an
// editor of one rule as JSON (the format of docs/API.md), and its preview on the messages
// of the last days (POST /api/v1/rules/preview: nothing is routed). Administrators edit
// every rule and the order; a mailbox's Responsabile edits the rules confined to the
// mailboxes they lead (`editable` from the companion) and reads the others.
import { ctx, h, t, chip, say, button, pageHead, table, mailboxName, leadMailboxes } from '../ui.js';
import { field, fill } from '/addin/dom.js';
import { when } from '/addin/i18n.js';

const NEW_RULE = {
  name: 'Nuova regola',
  enabled: false,
  stop: true,
  conditions: [{ field: 'subject', match: 'contains', value: 'fattura' }],
  actions: { category: 'Fatturazione' },
};

let editing = null; // the id of the rule in the editor, 'new', or null

/** A new rule's template: a Responsabile's is confined to the first mailbox they lead. */
function newRule() {
  if (ctx.me?.user.is_admin) return NEW_RULE;
  const mine = leadMailboxes()[0];
  return { ...NEW_RULE, conditions: [{ field: 'mailbox', match: 'is', value: mine?.address ?? '' }, ...NEW_RULE.conditions] };
}

function scope(r) {
  return r.confined_to ? r.confined_to.map(mailboxName).join(', ') : t('rules_everywhere');
}

export async function render(_args, { reload }) {
  const rules = await ctx.api.get('/api/v1/rules');
  const admin = Boolean(ctx.me?.user.is_admin);
  const rule = editing === 'new' ? null : rules.find((r) => r.id === editing) ?? rules[0] ?? null;
  if (editing !== 'new') editing = rule?.id ?? null;

  const move = async (i, by) => {
    const ids = rules.map((r) => r.id);
    const [id] = ids.splice(i, 1);
    ids.splice(i + by, 0, id);
    await ctx.api.post('/api/v1/rules/reorder', { ids });
    say(t('rules_moved', { name: rules[i].name, pos: i + by + 1 }));
    await reload();
    // Focus stays on the moved rule: the same arrow, or the other one at either end.
    const same = document.querySelector(`[data-focus="move-${by < 0 ? 'up' : 'down'}-${id}"]`);
    const other = document.querySelector(`[data-focus="move-${by < 0 ? 'down' : 'up'}-${id}"]`);
    (same && !same.disabled ? same : other)?.focus();
  };

  const columns = ['#', t('rules_name'), t('rules_state'), t('rules_when'), t('rules_scope')];
  if (admin) columns.push(t('rules_order'));
  const list = table(t('page_rules'), columns, rules, (r) => {
    const i = rules.indexOf(r);
    return h('tr', { 'data-rule': r.name, class: r.id === editing ? 'is-selected' : null },
      h('td', { class: 'num', text: String(r.position) }),
      h('td', {}, h('a', { href: '#/rules', 'data-focus': `rule-${r.id}`, onclick: (e) => { e.preventDefault(); editing = r.id; reload(); } }, r.name)),
      h('td', {}, chip(r.enabled ? t('rules_on') : t('rules_off'), r.enabled ? 'ok' : 'neutral'), r.stop ? h('span', { class: 'sub', text: t('rules_stop') }) : null),
      h('td', { class: 'small', text: r.conditions.map((c) => `${c.field} ${c.match} ${(c.value ?? []).join(' | ')}`).join(' · ') }),
      h('td', { class: 'small' }, scope(r), r.editable ? null : h('span', { class: 'sub', text: t('rules_read_only') })),
      admin ? h('td', {}, h('div', { class: 'actions' },
        moveButton('↑', t('rules_up', { name: r.name }), i === 0, () => move(i, -1), `move-up-${r.id}`),
        moveButton('↓', t('rules_down', { name: r.name }), i === rules.length - 1, () => move(i, 1), `move-down-${r.id}`))) : null);
  }, { empty: t('rules_none'), label: 'rules' });

  return h('div', { class: 'stack' },
    pageHead(t('page_rules'), admin ? t('rules_intro') : t('rules_intro_leader'), button(t('rules_new'), async () => { editing = 'new'; await reload(); }, { class: 'secondary small', action: 'rule-new' })),
    list,
    editor(rule, reload));
}

function narrow(el) {
  el.classList.add('narrow');
  return el;
}

function moveButton(label, aria, disabled, onclick, key) {
  const b = button(label, onclick, { class: 'secondary small' });
  b.setAttribute('aria-label', aria);
  b.setAttribute('data-focus', key);
  if (disabled) b.disabled = true;
  return b;
}

function editor(rule, reload) {
  const spec = rule ? { name: rule.name, enabled: rule.enabled, stop: rule.stop, conditions: rule.conditions, actions: rule.actions } : newRule();
  const editable = !rule || rule.editable;
  const text = h('textarea', { class: 'code', name: 'rule', spellcheck: 'false', rows: 12 });
  text.readOnly = !editable;
  text.value = JSON.stringify(spec, null, 2);
  const days = h('input', { type: 'number', name: 'days', min: 1, max: 365, value: 30 });
  const results = h('div', { 'aria-live': 'polite', 'data-preview': '' });
  const parse = () => {
    try {
      return JSON.parse(text.value);
    } catch (e) {
      text.focus();
      throw new Error(t('rules_bad_json', { why: e.message }));
    }
  };
  const preview = async () => {
    const r = await ctx.api.post('/api/v1/rules/preview', { rule: parse(), days: Number(days.value) || 30, limit: 100 });
    fill(results,
      h('p', { 'data-matches': String(r.items.length) }, t(r.items.length === 1 ? 'rules_preview_count_one' : 'rules_preview_count', { n: r.items.length, scanned: r.scanned }), r.truncated ? ` ${t('rules_preview_truncated')}` : ''),
      r.scanned === 0 ? h('p', { class: 'notice', text: t('rules_preview_nothing') }) : null,
      table(t('rules_preview'), [t('subject'), t('sender'), t('mailbox'), t('received_col'), t('rules_why')], r.items, (m) => [
        m.subject || t('desk_no_subject'), m.sender ?? '—', mailboxName(m.mailbox_id), when(m.received_at),
        h('td', { class: 'small' }, h('ul', { class: 'plain' }, m.why.map((w) => h('li', { text: w })))),
      ], { empty: t('rules_preview_none'), label: 'preview', showCaption: true }));
  };
  return h('section', { class: 'card', 'aria-labelledby': 'editor-title' },
    h('h2', { id: 'editor-title', text: rule ? t(editable ? 'rules_edit' : 'rules_view', { name: rule.name }) : t('rules_new') }),
    editable ? null : h('p', { class: 'notice', 'data-read-only': '', text: t('rules_read_only_why') }),
    field(t('rules_json'), text, t('rules_json_help')),
    h('div', { class: 'row' },
      narrow(field(t('rules_days'), days)),
      h('div', { class: 'actions' },
        button(t('rules_preview'), preview, { class: 'secondary', action: 'rule-preview' }),
        !editable ? null : button(rule ? t('rules_save') : t('rules_create'), async () => {
          const body = parse();
          const saved = rule
            ? await ctx.api.patch(`/api/v1/rules/${encodeURIComponent(rule.id)}`, body)
            : await ctx.api.post('/api/v1/rules', body);
          editing = saved.id;
          say(t('rules_saved', { name: saved.name }));
          await reload();
        }, { class: 'primary', action: 'rule-save' }),
        rule && editable ? button(t('rules_delete'), async () => {
          if (!window.confirm(t('rules_delete_confirm', { name: rule.name }))) return;
          await ctx.api.del(`/api/v1/rules/${encodeURIComponent(rule.id)}`);
          editing = null;
          say(t('rules_deleted', { name: rule.name }));
          await reload();
        }, { class: 'link', action: 'rule-delete' }) : null)),
    results);
}

