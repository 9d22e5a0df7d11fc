// DOM helpers shared by the task pane (./app.js) and the web desk (companion/desk/, which
// imports this file from /addin/dom.js): elements without innerHTML, labelled fields,
// sections named by their heading, and error texts in the user's language.
import { ApiError } from './api.js';
import { t, pick } from './i18n.js';

/** `h('button', {class, text, onclick, 'aria-label': ...}, ...children)`; never parses HTML. */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked' || k === 'selected' || k === 'disabled') el[k] = Boolean(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of kids.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export const $ = (id) => document.getElementById(id);

/** replaceChildren without the null/false of conditional children (it would print "null"). */
export function fill(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

let uid = 0;
export const nextId = (p) => `${p}-${(uid += 1)}`;

/** A control with its `<label>` and optional help text (aria-describedby). */
export function field(label, control, help) {
  const id = control.id || nextId('f');
  control.id = id;
  const helpId = help ? nextId('h') : null;
  if (helpId) control.setAttribute('aria-describedby', helpId);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control, help ? h('p', { class: 'help', id: helpId, text: help }) : null);
}

/** A card named by its `<h2>`. */
export function section(title, ...kids) {
  const id = nextId('s');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id, text: title }), ...kids);
}

export function dl(rows) {
  return h('dl', { class: 'facts' }, rows.filter(Boolean).map(([k, v]) => [h('dt', { text: k }), h('dd', {}, v ?? '—')]));
}

export function chip(text, kind) {
  return h('span', { class: `chip ${kind ?? ''}` }, text);
}

/** The chip colour of an activity status. */
export function statusClass(s) {
  return { done: 'ok', approved: 'ok', cancelled: 'neutral', awaiting_approval: 'warn', changes_requested: 'bad' }[s] ?? 'wait';
}

/**
 * A message of the companion's lists in one chip: "Certificata" only when the companion's
 * check at import says `valid`, "Non verificata" for any other PEC, else sent / ordinary mail.
 */
export function certChip(m) {
  if (m.kind === 'not-pec') return chip(m.direction === 'out' ? t('badge_sent') : t('badge_not_pec'), 'neutral');
  const ok = m.summary?.signature?.status === 'valid';
  return chip(ok ? t('badge_certified') : t('badge_unverified'), ok ? 'ok' : 'bad');
}

/** What to tell the user about an error (the companion's message in their language). */
export function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) return t('err_network');
    if (err.status === 401) return t('err_401');
    const head = t(`err_${err.status}`);
    const detail = pick(err.message);
    if ([403, 404, 409, 422].includes(err.status)) return detail ? `${head}: ${detail}` : head;
    return t('err_generic', { status: err.status });
  }
  return String(err?.message ?? err);
}

export function size(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return t('bytes', { n });
  if (n < 1024 * 1024) return t('kb', { n: Math.round(n / 102.4) / 10 });
  return t('mb', { n: Math.round(n / 104857.6) / 10 });
}

/**
 * `guardWith(onError, after)(fn)`: an event handler running `fn`; the button that fired it
 * is disabled meanwhile, an error goes to `onError` (the page's alert region), `after` runs
 * in any case.
 */
export function guardWith(onError, after = () => {}) {
  return (fn) => async (event) => {
    const target = event?.currentTarget;
    if (target && target.tagName === 'BUTTON') target.disabled = true;
    try {
      await fn(event);
    } catch (e) {
      onError(e);
    } finally {
      if (target && target.isConnected && target.tagName === 'BUTTON') target.disabled = false;
      after();
    }
  };
}

/** `buttonWith(guard)(label, onclick, {class, action, describedby})`: a guarded button. */
export function buttonWith(guard) {
  return (label, onclick, opts = {}) => h('button', {
    type: 'button', class: opts.class ?? 'secondary', onclick: guard(onclick),
    'data-action': opts.action, 'aria-describedby': opts.describedby,
  }, label);
}
