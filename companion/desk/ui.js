// What every page of the desk shares: the session (`ctx`), the alert and status regions,
// guarded buttons, page headings, tables and the chips of activities and messages. The
// DOM helpers, the API client and the strings are the task pane's (/addin/), not copies.
import { h, $, fill, chip, errorText, guardWith, buttonWith, statusClass, certChip } from '/addin/dom.js';
import { t, day, when, lang } from '/addin/i18n.js';
import { ApiError } from '/addin/api.js';

/** The session: config, API client, `me`, and the pages' shared look-ups. */
export const ctx = {
  config: null,
  api: null,
  me: null,
  cache: new Map(),
};

export function say(text) {
  $('status').textContent = text ?? '';
  if (text) $('error').textContent = '';
}

export function fail(err) {
  $('status').textContent = '';
  $('error').textContent = errorText(err);
}

export const guard = guardWith(fail);
export const button = buttonWith(guard);

/** A GET remembered for the session (teams, users, mailboxes: they change rarely). */
export async function cached(path) {
  if (!ctx.cache.has(path)) {
    const p = ctx.api.get(path);
    ctx.cache.set(path, p);
    p.catch(() => ctx.cache.delete(path));
  }
  return ctx.cache.get(path);
}

/** Every page of a paged list (`next_cursor`), at most `max` items. */
export async function all(path, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const page = await ctx.api.get(path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** The page's `<h1>` (focused after navigation, so screen readers announce the page). */
export function pageHead(title, intro, ...tools) {
  return [
    h('div', { class: 'page-head' },
      h('h1', { id: 'page-title', tabindex: '-1', text: title }),
      h('span', { class: 'spacer' }),
      h('span', { class: 'updated', 'aria-live': 'off', text: t('desk_updated', { time: clock() }) }),
      // desk.js refetches the page on screen.
      h('button', { type: 'button', class: 'secondary small', 'data-focus': 'refresh', 'data-action': 'refresh', onclick: () => window.dispatchEvent(new Event('desk:refresh')) }, t('refresh')),
      ...tools),
    intro ? h('p', { class: 'intro', text: intro }) : null,
  ];
}

/**
 * A table with a caption (read by screen readers; visible when `showCaption`), column
 * headings, and one `<tr>` per row from `row(item)` (an array of cells or a `<tr>`).
 */
export function table(caption, columns, items, row, { empty = t('list_empty'), showCaption = false, label } = {}) {
  if (!items.length) return h('p', { class: 'muted', 'data-empty': label ?? '', text: empty });
  return h('table', { class: 'grid', 'data-table': label },
    h('caption', { class: showCaption ? null : 'visually-hidden', text: caption }),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.num ? 'num' : null, text: c.label ?? c })))),
    h('tbody', {}, items.map((it) => {
      const r = row(it);
      return r instanceof Node ? r : h('tr', {}, r.map((c) => (c instanceof Node && c.tagName === 'TD' ? c : h('td', {}, c))));
    })));
}

/** The time now, in the user's language (`14:05`). */
export function clock() {
  return new Date().toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'it-IT', { timeStyle: 'short' });
}

export const OPEN = 'open,in_progress,awaiting_approval,approved,changes_requested';

export function isOverdue(a, now = Date.now()) {
  return Boolean(a.due_at) && new Date(a.due_at).getTime() < now && !['done', 'cancelled'].includes(a.status);
}

export function statusChip(status) {
  return chip(t(`status_${status}`), statusClass(status));
}

export function priorityChip(p) {
  return chip(t(`priority_${p}`), p === 'urgent' ? 'bad' : p === 'high' ? 'warn' : 'neutral');
}

/** The due date of an activity, in words and colour (and not by colour alone). */
export function dueCell(a) {
  if (!a.due_at) return h('span', { class: 'muted', text: t('desk_no_due') });
  if (isOverdue(a)) return h('span', { class: 'overdue' }, '⚠ ', t('overdue', { date: day(a.due_at) }));
  return h('span', {}, day(a.due_at));
}

export function activityLink(a) {
  return h('a', { href: `#/activity/${encodeURIComponent(a.id)}`, 'data-focus': `a-${a.id}`, text: a.title });
}

/** The certified time of a message when it has one, else when the companion received it. */
export function certifiedTime(m) {
  return when(m.summary?.issued_at ?? m.received_at);
}

export function mailboxName(id) {
  const g = (ctx.me?.grants ?? []).find((x) => x.id === id);
  return g ? g.name || g.address : '—';
}

/**
 * Downloads what the API answers at `path` (a ZIP, a CSV) as a file, with the bearer token
 * like any call: the name the companion gives (`Content-Disposition`), else `name`.
 */
export async function download(path, name, accept) {
  const r = await ctx.api.get(path, { as: 'response', headers: accept ? { accept } : undefined });
  const given = /filename="([^"]+)"/.exec(r.headers.get('content-disposition') ?? '')?.[1];
  const url = URL.createObjectURL(await r.blob());
  const a = h('a', { href: url, download: given ?? name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return given ?? name;
}

/** Whether the caller may export evidence packs of mailbox `id` (auditors, its managers). */
export function mayExport(id) {
  return Boolean(ctx.me?.user.is_auditor) || holds(id, 'MAIL_ACCOUNT_MANAGER') || holds(id, 'MAIL_ACTIVITY_MANAGER');
}

/** Whether the caller holds `policy` on the mailbox `id`. */
export function holds(id, policy) {
  return Boolean((ctx.me?.grants ?? []).find((g) => g.id === id)?.policies.includes(policy));
}

/** The people who may work activities of a mailbox (assignees), remembered for the session. */
export async function workers(mailboxId) {
  const page = await cached(`/api/v1/users?mailbox=${encodeURIComponent(mailboxId)}&policy=MAIL_ACTIVITY_WRITER&limit=200`);
  return page.items.filter((u) => u.enabled !== false);
}

/** A manager's assignment: PATCH with the version read (a stale one is a 409 that says so). */
export async function assign(a, userId) {
  return ctx.api.patch(`/api/v1/activities/${encodeURIComponent(a.id)}`, { version: a.version, assignee_id: userId || null })
    .catch((e) => {
      // Changed meanwhile (409: another version): the page refetches, the error says why.
      if (e instanceof ApiError && e.status === 409) window.dispatchEvent(new Event('desk:refresh'));
      throw e;
    });
}

export function policiesAnywhere() {
  return new Set((ctx.me?.grants ?? []).flatMap((g) => g.policies));
}

export { h, fill, chip, t, certChip };

/**
 * The mailboxes the caller leads (Responsabile: MAIL_ACTIVITY_MANAGER and
 * MAIL_ACCOUNT_MANAGER), whose confined routing rules they manage.
 */
export function leadMailboxes() {
  return (ctx.me?.grants ?? []).filter((g) => g.policies.includes('MAIL_ACTIVITY_MANAGER') && g.policies.includes('MAIL_ACCOUNT_MANAGER'));
}
