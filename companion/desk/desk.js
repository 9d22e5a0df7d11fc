// The web desk at `/` (docs/desk.md): sign-in, navigation, hash routing, and the refresh
// of live pages. Each page is a module in ./pages/ exporting `render(params)`; the shared
// parts come from the task pane (/addin/: API client, strings, DOM helpers, styles).
import { Api, ApiError } from '/addin/api.js';
import { setLang, lang, t } from '/addin/i18n.js';
import { createHost } from '/addin/hosts/browser.js';
import { h, $, fill, field } from '/addin/dom.js';
import './strings.js';
import { ctx, say, fail, guard, button, policiesAnywhere, leadMailboxes } from './ui.js';
import * as live from './live.js';

const LANG_KEY = 'pecdesk.lang';
const ORG_KEY = 'pecdesk.org';

// The demo users a team leader would try (`serve --demo`, loopback only), with their role.
const DEMO = [
  { email: 'responsabile@demo.test', name: 'Rita', role: 'role_responsabile' },
  { email: 'smistatore@demo.test', name: 'Sara', role: 'role_smistatore' },
  { email: 'admin@demo.test', name: 'Andrea', role: 'role_admin' },
  { email: 'assegnatario@demo.test', name: 'Aldo', role: 'role_assegnatario' },
  { email: 'approvatore@demo.test', name: 'Paolo', role: 'role_approvatore' },
];

/**
 * The pages, in the navigation's order. `live`: refreshed on focus, every 30 s and (once
 * wired) at each event of the stream (./live.js). `show(me)`: whether the user may use it.
 * Pages for APIs still to come (stats, alarms, webhooks) have their module and place.
 */
const manager = () => policiesAnywhere().has('MAIL_ACTIVITY_MANAGER');
const reader = () => policiesAnywhere().has('MAIL_ACCOUNT_READER');
const admin = () => Boolean(ctx.me?.user.is_admin);
// Responsabile of a mailbox: manages the routing rules confined to the mailboxes they lead.
const leader = () => leadMailboxes().length > 0;
const PAGES = [
  { id: 'mine', group: 'nav_work', key: 'page_mine', live: true, module: './pages/mine.js' },
  { id: 'teams', group: 'nav_work', key: 'page_teams', live: true, module: './pages/teams.js', show: () => manager() || (ctx.me?.teams ?? []).length > 0 },
  { id: 'dispatch', group: 'nav_work', key: 'page_dispatch', live: true, module: './pages/dispatch.js', show: manager },
  { id: 'mailbox', group: 'nav_mail', key: 'page_mailbox', live: true, module: './pages/mailbox.js', show: reader },
  { id: 'campaigns', group: 'nav_mail', key: 'page_campaigns', live: true, module: './pages/campaigns.js', show: reader },
  { id: 'stats', group: 'nav_supervise', key: 'page_stats', module: './pages/stats.js', show: () => manager() || admin() },
  { id: 'alarms', group: 'nav_supervise', key: 'page_alarms', module: './pages/alarms.js', live: true, show: () => manager() || admin() },
  { id: 'rules', group: 'nav_admin', key: 'page_rules', module: './pages/rules.js', show: () => admin() || leader() },
  { id: 'audit', group: 'nav_admin', key: 'page_audit', module: './pages/audit.js', show: () => admin() || Boolean(ctx.me?.user.is_auditor) },
  { id: 'admin', group: 'nav_admin', key: 'page_admin', module: './pages/admin.js', show: admin },
  { id: 'webhooks', group: 'nav_admin', key: 'page_webhooks', module: './pages/webhooks.js', show: admin },
  // Reached from the lists, not from the navigation.
  { id: 'activity', key: 'page_activity', live: true, module: './pages/activity.js', hidden: true },
];

const visible = (p) => !p.show || p.show();

/** `#/page/arg` → {page, args}. */
function route() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const page = PAGES.find((p) => p.id === parts[0] && visible(p)) ?? PAGES.find(visible);
  return { page, args: parts.slice(1) };
}

// ---------------------------------------------------------------- chrome

function renderBar() {
  const langSel = h('select', { class: 'lang', 'aria-label': t('desk_language'), onchange: () => { localStorage.setItem(LANG_KEY, langSel.value); setLang(langSel.value); renderAll(); } },
    h('option', { value: 'it', selected: lang() === 'it' }, 'Italiano'),
    h('option', { value: 'en', selected: lang() === 'en' }, 'English'));
  fill($('bar'),
    h('a', { class: 'brand', href: '#/mine' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '✉'), t('desk_brand')),
    h('span', { class: 'spacer' }),
    ctx.me ? h('span', { class: 'who', text: t('signed_in_as', { name: ctx.me.user.name }) }) : null,
    langSel,
    ctx.me ? button(t('sign_out'), async () => { live.stop(); await ctx.api.signOut(); ctx.me = null; renderAll(); }, { class: 'link' }) : null);
}

function renderNav(current) {
  const nav = $('nav');
  if (!ctx.me) { nav.hidden = true; return; }
  nav.hidden = false;
  nav.setAttribute('aria-label', t('nav_label'));
  const groups = [];
  for (const p of PAGES.filter((x) => !x.hidden && visible(x))) {
    let g = groups.find((x) => x.key === p.group);
    if (!g) groups.push((g = { key: p.group, pages: [] }));
    g.pages.push(p);
  }
  fill(nav, groups.map((g) => [
    h('h2', { text: t(g.key) }),
    h('ul', {}, g.pages.map((p) => h('li', {}, h('a', {
      href: `#/${p.id}`, 'data-page': p.id, 'aria-current': p.id === current ? 'page' : null,
    }, t(p.key), p.soon ? h('span', { class: 'soon', text: t('desk_soon') }) : null)))),
  ]));
}

// ---------------------------------------------------------------- pages

let rendering = 0;
let shown = null; // {id, args}

/** Renders the page of the hash. `refresh`: the same page again (keep focus, no heading focus). */
async function renderPage({ refresh = false } = {}) {
  const { page, args } = route();
  const n = (rendering += 1);
  renderNav(page.id);
  const main = $('main');
  const focusKey = refresh ? document.activeElement?.getAttribute?.('data-focus') : null;
  if (!refresh) {
    say('');
    $('error').textContent = '';
    main.setAttribute('aria-busy', 'true');
  }
  try {
    const mod = await import(page.module);
    const el = await mod.render(args, { reload: () => renderPage({ refresh: true }) });
    if (n !== rendering) return; // the user went elsewhere meanwhile
    el.dataset.page = page.id;
    fill(main, el);
    document.title = `${t(page.key)} · PecDesk`;
    if (focusKey) main.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
    else if (!refresh) (main.querySelector('#page-title') ?? main).focus();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // signed out: the sign-in shows
    if (!refresh) fill(main, h('p', { class: 'muted', text: t('desk_page_failed') }));
    fail(e);
  } finally {
    main.removeAttribute('aria-busy');
  }
  shown = { id: page.id, live: Boolean(page.live) };
}

/**
 * A live page in front of the user is refreshed, unless they are working in it: typing in a
 * field, or anywhere inside a form or an opened panel (a message's filing form, say) — a
 * refresh would close it and drop what they entered.
 */
function refreshLive() {
  if (!ctx.me || !shown?.live || document.hidden) return;
  const a = document.activeElement;
  if (a && $('main').contains(a) && (['INPUT', 'TEXTAREA', 'SELECT'].includes(a.tagName) || a.closest('form, details[open]'))) return;
  renderPage({ refresh: true });
}

// ---------------------------------------------------------------- sign-in

function renderSignIn(message) {
  renderBar();
  renderNav(null);
  const org = h('input', { name: 'org', autocomplete: 'organization', value: localStorage.getItem(ORG_KEY) ?? '' });
  const hint = h('input', { name: 'login_hint', type: 'email', autocomplete: 'email' });
  const corporate = h('form', { class: 'card', 'aria-labelledby': 'signin-corp', onsubmit: guard(async (e) => {
    e.preventDefault();
    const name = org.value.trim();
    if (!name) { fail(new Error(t('signin_org_missing'))); org.focus(); return; }
    localStorage.setItem(ORG_KEY, name);
    const host = await createHost();
    await host.signIn({ companion: ctx.api.base, org: name, loginHint: hint.value.trim() || undefined });
  }) },
  h('h2', { id: 'signin-corp', text: t('signin_corporate') }),
  field(t('signin_org'), org, t('signin_org_help')),
  field(t('signin_hint'), hint),
  h('button', { type: 'submit', class: 'primary' }, t('desk_signin_go')));
  const demo = ctx.config?.dev_login ? h('section', { class: 'card', 'aria-labelledby': 'signin-demo' },
    h('h2', { id: 'signin-demo', text: t('signin_demo_title') }),
    h('p', { text: t('desk_demo_intro') }),
    h('div', { class: 'users' }, DEMO.map((u) => button([h('span', {}, h('strong', { text: u.name }), ` · ${u.email}`), h('span', { class: 'role', text: t(u.role) })], async () => {
      await ctx.api.devLogin(u.email);
      await afterSignIn();
    }, { action: `dev-login-${u.email}` })))) : null;
  fill($('main'), h('div', { class: 'signin-box stack', 'data-page': 'signin' },
    h('h1', { id: 'page-title', tabindex: '-1', text: t('desk_signin_title') }),
    h('p', { class: 'intro', text: t('desk_signin_intro') }),
    demo, corporate));
  document.title = `${t('desk_signin_title')} · PecDesk`;
  if (message) fail(new Error(message));
  $('page-title').focus();
}

async function afterSignIn() {
  try {
    ctx.me = await ctx.api.get('/api/v1/me');
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) { renderSignIn(); fail(e); }
    return;
  }
  ctx.cache.clear();
  if (!/^#\//.test(location.hash)) history.replaceState(null, '', '#/mine');
  renderAll();
  live.start(refreshLive, ctx.api);
}

function renderAll() {
  renderBar();
  if (!ctx.me) return renderSignIn();
  return renderPage();
}

/** `#signed-in&access_token=..&refresh_token=..` (the companion's callback) or `#signin-failed=STATUS`. */
function takeFragment() {
  const raw = location.hash.replace(/^#/, '');
  if (raw.startsWith('signed-in')) {
    const p = new URLSearchParams(raw.slice('signed-in'.length));
    // Out of the address bar and the history at once.
    history.replaceState(null, '', `${location.pathname}#/mine`);
    if (p.get('access_token')) ctx.api.setTokens({ access_token: p.get('access_token'), refresh_token: p.get('refresh_token') });
    return null;
  }
  if (raw.startsWith('signin-failed')) {
    history.replaceState(null, '', location.pathname);
    return t('desk_signin_failed');
  }
  return null;
}

async function start() {
  try {
    const r = await fetch('/addin/config.json', { cache: 'no-store' });
    ctx.config = r.ok ? await r.json() : { companion: location.origin, dev_login: false, lang: 'it' };
  } catch {
    ctx.config = { companion: location.origin, dev_login: false, lang: 'it' };
  }
  setLang(localStorage.getItem(LANG_KEY) ?? ctx.config.lang ?? 'it');
  // The desk talks to the companion that served it (same origin, CSP connect-src 'self').
  ctx.api = new Api(location.origin);
  ctx.api.onSignedOut = () => { live.stop(); ctx.me = null; renderSignIn(t('signed_out')); };
  const failed = takeFragment();
  // Routes are `#/page`; any other fragment (the skip link's `#main`) is not a navigation.
  window.addEventListener('hashchange', () => { if (ctx.me && /^#\//.test(location.hash)) renderPage(); });
  document.querySelector('.skip')?.addEventListener('click', (e) => {
    e.preventDefault();
    $('main').focus();
  });
  window.addEventListener('desk:refresh', () => { if (ctx.me) renderPage({ refresh: true }); });
  if (failed || !ctx.api.signedIn) return renderSignIn(failed);
  await afterSignIn();
}

start().catch((e) => { $('error').textContent = String(e?.message ?? e); });
