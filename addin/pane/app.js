// The task pane: views and actions. Plain ES modules, no framework. Every PEC decision is
// the core's (./core.js, WebAssembly) or the companion's (./api.js); this file shows them.
import { Api, ApiError } from './api.js';
import * as wasm from './core.js';
import { t, setLang, lang, pick, when, day } from './i18n.js';
import { sanitizeHtml, frameDocument } from './sanitize.js';
import { h, $, fill, nextId, field, section, dl, chip, errorText, size, guardWith, buttonWith, statusClass, certChip } from './dom.js';

// The demo users (`pecdesk serve --demo`), offered as buttons only when config.json says
// `dev_login` (the companion allows dev-login only in demo/dev mode and from loopback).
const DEMO_USERS = [
  ['assegnatario@demo.test', 'Aldo Assegnatario', 'role_assegnatario'],
  ['approvatore@demo.test', 'Paolo Approvatore', 'role_approvatore'],
  ['smistatore@demo.test', 'Sara Smistatrice', 'role_smistatore'],
  ['responsabile@demo.test', 'Rita Responsabile', 'role_responsabile'],
  ['admin@demo.test', 'Andrea Admin', 'role_admin'],
];
const LANG_KEY = 'pecdesk.lang';
const ORG_KEY = 'pecdesk.org';
const LINKS_KEY = 'pecdesk.links'; // companion message id → activity ids created here
const RECEIPT_KINDS = new Set(['accettazione', 'non-accettazione', 'presa-in-carico', 'avvenuta-consegna',
  'errore-consegna', 'preavviso-errore-consegna', 'rilevazione-virus']);

const S = {
  config: null,
  host: null,
  api: null,
  me: null,
  person: null,
  tab: 'mine',
  hostMessage: null, // the message context of the item on screen
  view: null,        // {name, ...}: what main shows
  receipts: 'hide',
  qualified: undefined,
  providers: undefined,
  blobs: [],
  unread: 0,          // unread notifications (the bell)
  unreadMore: false,  // more than one page of them
  notifTimer: null,
};

// ---------------------------------------------------------------- DOM helpers (./dom.js, shared with the desk)

function say(text) {
  $('status').textContent = text ?? '';
  if (text) $('error').textContent = '';
}

function fail(err) {
  $('error').textContent = errorText(err);
}

// Runs an async handler; its errors land in the alert region, never in the console only.
// After every action: a colleague may have mentioned us meanwhile.
const guard = guardWith(fail, () => { if (S.me) refreshNotifications(); });
const button = buttonWith(guard);

function blobUrl(bytes, type) {
  const url = URL.createObjectURL(new Blob([bytes], { type: type || 'application/octet-stream' }));
  S.blobs.push(url);
  return url;
}

// ---------------------------------------------------------------- start

async function loadConfig() {
  try {
    // The companion serves it beside the pane (/addin/config.json); the Thunderbird XPI
    // carries it at the extension's root (addin/README.md), the pane being under pane/.
    const url = location.protocol === 'moz-extension:' ? '/config.json' : './config.json';
    const r = await fetch(url, { cache: 'no-store' });
    if (r.ok) return await r.json();
  } catch { /* below */ }
  return { companion: location.origin, dev_login: false, lang: 'it' };
}

async function loadHost() {
  const params = new URLSearchParams(location.search);
  let name = params.get('host');
  if (!name) name = globalThis.messenger ? 'thunderbird' : 'browser';
  if (name === 'outlook') {
    await new Promise((ok, no) => {
      const s = document.createElement('script');
      s.src = 'https://appsforoffice.microsoft.com/lib/1/hosted/office.js';
      s.onload = ok;
      s.onerror = () => no(new Error('office.js'));
      document.head.append(s);
    });
    return (await import('./hosts/office.js')).createHost();
  }
  if (name === 'thunderbird') return (await import('./hosts/thunderbird.js')).createHost();
  return (await import('./hosts/browser.js')).createHost();
}

async function start() {
  S.config = await loadConfig();
  try {
    S.host = await loadHost();
  } catch (e) {
    S.host = await (await import('./hosts/browser.js')).createHost();
  }
  setLang(localStorage.getItem(LANG_KEY) ?? S.host.lang ?? S.config.lang ?? 'it');
  S.api = new Api(S.config.companion || location.origin);
  S.api.onSignedOut = () => { S.me = null; renderSignIn(t('signed_out')); };
  renderChrome();
  S.host.onMessageChanged(() => { if (S.me) openHostMessage(); });
  window.addEventListener('pagehide', () => presenceLeave(true));
  if (!S.api.signedIn) return renderSignIn();
  await afterSignIn();
}

async function afterSignIn() {
  try {
    S.me = await S.api.get('/api/v1/me');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // onSignedOut rendered the sign-in
    renderSignIn();
    fail(e);
    return;
  }
  const mailboxes = {};
  for (const g of S.me.grants ?? []) mailboxes[g.id] = g.policies;
  S.person = {
    user_id: S.me.user.id,
    is_admin: S.me.user.is_admin,
    is_auditor: S.me.user.is_auditor,
    mailboxes,
    teams: (S.me.teams ?? []).map((x) => x.id),
  };
  renderChrome();
  startNotifications();
  await openHostMessage();
}

// ---------------------------------------------------------------- chrome: header and tabs

function renderChrome() {
  document.title = t('app');
  const header = $('bar');
  fill(header, ...[
    h('span', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, '✉'), t('app')),
    S.me ? h('span', { class: 'who', title: S.me.user.email }, S.me.user.name) : null,
    h('span', { class: 'spacer' }),
    S.me ? bellButton() : null,
    h('button', { type: 'button', class: 'link', lang: lang() === 'it' ? 'en' : 'it', 'aria-label': t('lang_switch_label'), onclick: () => {
      setLang(lang() === 'it' ? 'en' : 'it');
      localStorage.setItem(LANG_KEY, lang());
      renderChrome();
      rerender();
    } }, t('lang_switch')),
    S.me ? h('button', { type: 'button', class: 'link', onclick: guard(async () => {
      presenceLeave();
      await S.api.signOut();
      S.me = null;
      renderSignIn();
    }) }, t('sign_out')) : null,
  ].filter(Boolean));
  const nav = $('tabs');
  nav.setAttribute('aria-label', t('tabs_label'));
  if (!S.me) { nav.replaceChildren(); nav.hidden = true; return; }
  nav.hidden = false;
  // The dispatcher queue only for a Smistatore (activity manager somewhere).
  const dispatcher = Object.values(S.person?.mailboxes ?? {}).some((p) => p.includes('MAIL_ACTIVITY_MANAGER'));
  const tabs = [['mine', 'tab_mine'], ['team', 'tab_team'], dispatcher && ['dispatch', 'tab_dispatch'], ['search', 'tab_search']].filter(Boolean);
  if (S.hostMessage) tabs.unshift(['message', 'tab_message']);
  fill(nav, ...tabs.map(([name, key]) => h('button', {
    type: 'button',
    class: 'tab',
    'data-tab': name,
    'aria-current': S.tab === name ? 'page' : null,
    onclick: () => {
      S.tab = name;
      renderChrome();
      // The tabs are drawn anew: keep the keyboard where it was.
      $('tabs').querySelector(`[data-tab="${name}"]`)?.focus();
      openTab(name);
    },
  }, t(key))));
}

function rerender() {
  if (!S.me) return renderSignIn();
  if (S.view) show(S.view);
}

function openTab(name) {
  if (name === 'message' && S.hostMessage) return show({ name: 'message', ctx: S.hostMessage });
  return show({ name });
}

// Shows a view: leaves the previous presence, renders the new one.
async function show(view) {
  const prevKey = S.view?.presenceKey;
  if (S.view && S.view.name !== view.name) say('');
  S.view = view;
  const main = $('main');
  fill(main, h('p', { class: 'muted', text: t('loading') }));
  $('error').textContent = '';
  try {
    let node;
    switch (view.name) {
      case 'message': node = await viewMessage(view.ctx); break;
      case 'activity': node = await viewActivity(view.id); break;
      case 'create': node = await viewCreate(view.ctx); break;
      case 'delivery': node = await viewDelivery(view.ctx); break;
      case 'mine': node = await viewActivities({ assignee: 'me' }, 'tab_mine'); break;
      case 'team': node = await viewTeam(); break;
      case 'dispatch': node = await viewDispatch(); break;
      case 'search': node = await viewSearch(view.q ?? ''); break;
      case 'notifications': node = await viewNotifications(); break;
      default: node = h('p', { text: t('no_message') });
    }
    if (S.view !== view) return;
    const hadFocus = main.contains(document.activeElement);
    fill(main, node);
    // The control that was used went with the old view: continue from the new view's top,
    // not from the start of the page.
    if (hadFocus || document.activeElement === document.body) {
      const heading = main.querySelector('h1, h2');
      const target = heading ?? main;
      if (target !== main) target.tabIndex = -1;
      target.focus({ preventScroll: true });
    }
  } catch (e) {
    if (S.view !== view) return;
    main.replaceChildren();
    fail(e);
  }
  // Marks a finished render (tests wait on it; assistive technology ignores it).
  document.body.dataset.view = view.name;
  document.body.dataset.renders = String(Number(document.body.dataset.renders ?? 0) + 1);
  const key = view.presenceKey;
  if (!key || !prevKey || key.object !== prevKey.object || key.id !== prevKey.id) {
    if (prevKey) presenceLeave();
    if (key) presenceEnter(key.object, key.id);
  } else {
    // The same item drawn again (after a save, a move): writing again sets `replying` again.
    presenceState('viewing');
  }
}

function backButton() {
  return h('button', { type: 'button', class: 'link back', onclick: () => openTab(S.tab) }, t('back'));
}

// ---------------------------------------------------------------- sign-in

function renderSignIn(notice) {
  presenceLeave();
  S.view = null;
  S.hostMessage = null;
  renderChrome();
  const main = $('main');
  const kids = [h('h1', { text: t('signin_title') }), h('p', { class: 'muted', text: t('signin_intro') })];
  if (notice) kids.push(h('p', { class: 'notice', text: notice }));

  const org = h('input', { type: 'text', name: 'org', autocomplete: 'organization', value: localStorage.getItem(ORG_KEY) ?? '' });
  const hint = h('input', { type: 'email', name: 'login_hint', autocomplete: 'email' });
  const corporate = h('form', { class: 'card', onsubmit: (e) => { e.preventDefault(); corporateSignIn(org.value.trim(), hint.value.trim()); } },
    h('h2', { text: t('signin_corporate') }),
    field(t('signin_org'), org, t('signin_org_help')),
    field(t('signin_hint'), hint),
    h('button', { type: 'submit', class: 'primary', 'data-action': 'signin-corporate' }, t('signin_corporate')));

  if (S.config?.dev_login) {
    const email = h('input', { type: 'email', name: 'email', autocomplete: 'email', required: true });
    const demo = h('form', { class: 'card demo', onsubmit: (e) => { e.preventDefault(); devSignIn(email.value.trim()); } },
      h('h2', { text: t('signin_demo_title') }),
      h('p', { text: t('signin_demo_intro') }),
      h('ul', { class: 'plain users' }, DEMO_USERS.map(([mail, name, role]) => h('li', {},
        h('button', { type: 'button', class: 'secondary wide', 'data-email': mail, onclick: () => devSignIn(mail) },
          h('strong', { text: name }), ' ', h('span', { class: 'muted', text: `· ${t(role)}` }))))),
      field(t('signin_email'), email),
      h('button', { type: 'submit', class: 'primary' }, t('signin_enter')));
    kids.push(demo);
  }
  kids.push(corporate);
  fill(main, h('div', { class: 'signin' }, kids));
}

async function devSignIn(email) {
  if (!email) return fail(new Error(t('signin_email_missing')));
  try {
    await S.api.devLogin(email);
    say('');
    await afterSignIn();
  } catch (e) {
    fail(e instanceof ApiError ? new Error(t('signin_failed', { why: errorText(e) })) : e);
  }
}

async function corporateSignIn(org, loginHint) {
  if (!org) return fail(new Error(t('signin_org_missing')));
  localStorage.setItem(ORG_KEY, org);
  try {
    const tokens = await S.host.signIn({ companion: S.api.base, org, loginHint: loginHint || undefined });
    S.api.setTokens(tokens);
    await afterSignIn();
  } catch (e) {
    if (e?.code === 'signin_unavailable' || e?.message === 'signin_unavailable') return fail(new Error(t('signin_unavailable')));
    fail(new Error(t('signin_failed', { why: errorText(e) })));
  }
}

// ---------------------------------------------------------------- the message on screen

// A message context: {raw, summary, source: 'host'|'companion', detail (companion's or null),
// forwarded, hostMeta}.
async function openHostMessage() {
  let m = null;
  try {
    m = await S.host.currentMessage();
  } catch { m = null; }
  if (!m || (!m.raw && !m.messageId)) {
    S.hostMessage = null;
    if (S.tab === 'message') S.tab = 'mine';
    renderChrome();
    return openTab(S.tab);
  }
  const ctx = { source: 'host', raw: m.raw, summary: null, detail: null, forwarded: false, hostMeta: m };
  S.hostMessage = ctx;
  S.tab = 'message';
  renderChrome();
  return show({ name: 'message', ctx, presenceKey: null });
}

// The companion's detail of the message with this Message-ID or identificativo, or null.
// The lookup answers every visible match: the same identificativo names an envelope and its
// receipts, so only the same kind is this message; the same bytes (SHA-256) win.
async function lookup(id, kind, sha256) {
  if (!id) return null;
  let found;
  try {
    found = await S.api.get(`/api/v1/messages/lookup?message_id=${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
  const list = (Array.isArray(found) ? found : [found]).filter((m) => m && (!kind || m.kind === kind));
  if (!list.length) return null;
  const pick = list.find((m) => sha256 && m.sha256 === sha256) ?? list[0];
  return S.api.get(`/api/v1/messages/${encodeURIComponent(pick.id)}`);
}

async function sha256Hex(bytes) {
  if (!bytes || !globalThis.crypto?.subtle) return null;
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Fills the context: the core's summary of the bytes, the companion's record.
async function resolve(ctx) {
  if (ctx.resolved) return;
  if (ctx.raw) {
    try {
      ctx.summary = await wasm.inspect(ctx.raw, await providerList());
    } catch (e) {
      throw new Error(t('err_wasm'));
    }
    // A PEC forwarded into Microsoft 365: the envelope travels as a message/rfc822 attachment.
    if (ctx.source === 'host' && ctx.summary.kind === 'not-pec' && ctx.summary.has_original && await wasm.has('original')) {
      const o = await wasm.original(ctx.raw);
      for (const a of o.attachments ?? []) {
        if (!/^message\/rfc822/i.test(a.content_type ?? '')) continue;
        const inner = await wasm.originalAttachment(ctx.raw, a.index);
        const s = await wasm.inspect(inner, await providerList());
        if (s.kind !== 'not-pec') {
          ctx.raw = inner;
          ctx.summary = s;
          ctx.forwarded = true;
          break;
        }
      }
    }
  }
  if (ctx.source === 'host') {
    const kind = ctx.summary?.kind;
    const sha = await sha256Hex(ctx.raw);
    ctx.detail = await lookup(ctx.summary?.identificativo, kind, sha)
      ?? (ctx.forwarded ? null : await lookup(ctx.hostMeta?.messageId, kind, sha));
    // The companion's verdict (its organisation's trust list) applies to these bytes only
    // when they are the very bytes it checked; otherwise the core's check of the bytes on screen.
    ctx.sameAsCompanion = Boolean(ctx.detail && sha && ctx.detail.sha256 === sha);
  }
  ctx.resolved = true;
}

async function openCompanionMessage(id) {
  const detail = await S.api.get(`/api/v1/messages/${encodeURIComponent(id)}`);
  const raw = await S.api.get(`/api/v1/messages/${encodeURIComponent(id)}/raw`, { as: 'bytes' });
  const ctx = { source: 'companion', raw, summary: null, detail, forwarded: false, sameAsCompanion: true };
  return show({ name: 'message', ctx, presenceKey: { object: 'message', id } });
}

// The signature verdict shown, and who gave it.
function verdict(ctx) {
  const companionSig = ctx.detail?.summary?.signature;
  if (ctx.detail && (ctx.source === 'companion' || ctx.sameAsCompanion) && companionSig !== undefined) {
    return { signature: companionSig, by: 'companion' };
  }
  return { signature: ctx.summary?.signature ?? null, by: 'here' };
}

function reasonText(sig) {
  if (!sig) return t('sig_not_checked');
  if (sig.reason) return t(`reason_${sig.reason}`);
  return t('reason_unknown', { status: t(`sig_status_${sig.status}`) });
}

function kindText(summary) {
  const base = t(`kind_${summary.kind}`);
  return summary.receipt_type && summary.kind === 'avvenuta-consegna' ? `${base} (${summary.receipt_type})` : base;
}

async function viewMessage(ctx) {
  await resolve(ctx);
  const s = ctx.summary ?? ctx.detail?.summary ?? { kind: 'not-pec', recipients: [] };
  if (ctx.source === 'host') {
    // Presence needs the companion's id; known only after the lookup.
    S.view.presenceKey = ctx.detail ? { object: 'message', id: ctx.detail.id } : null;
  }
  const parts = [];
  if (ctx.source === 'companion') parts.push(backButton());
  parts.push(certificationPanel(ctx, s));
  if (S.me) parts.push(await workPanel(ctx, s));
  parts.push(await originalPanel(ctx));
  return h('div', { class: 'stack' }, parts);
}

function certificationPanel(ctx, s) {
  const notPec = s.kind === 'not-pec';
  const sentCopy = notPec && ctx.detail?.direction === 'out';
  const { signature, by } = verdict(ctx);
  const certified = !notPec && signature?.status === 'valid';
  const badge = sentCopy
    ? h('p', { class: 'badge neutral', 'data-cert': 'sent' }, h('span', { 'aria-hidden': 'true' }, '➚ '), t('badge_sent'))
    : notPec
    ? h('p', { class: 'badge neutral', 'data-cert': 'not-pec' }, h('span', { 'aria-hidden': 'true' }, '✉ '), t('badge_not_pec'))
    : certified
      ? h('p', { class: 'badge ok', 'data-cert': 'certified' }, h('span', { 'aria-hidden': 'true' }, '✔ '), t('badge_certified'))
      : h('p', { class: 'badge bad', 'data-cert': 'unverified' }, h('span', { 'aria-hidden': 'true' }, '⚠ '), t('badge_unverified'));
  const explain = sentCopy
    ? h('p', { text: t('sent_explain') })
    : notPec
    ? h('p', { text: t('not_pec_explain') })
    : certified
      ? h('p', { text: t('certified_explain', { provider: s.provider ?? signature.provider ?? '—' }) })
      : h('div', { class: 'why' }, h('p', { class: 'reason', text: reasonText(signature) }), h('p', { text: t('unverified_explain') }));

  const rows = [
    [t('kind'), kindText(s)],
    !notPec && [t('sender'), s.sender],
    [t('subject'), s.subject ?? ctx.hostMeta?.subject],
    !notPec && [t('provider'), s.provider],
    !notPec && [t('issued_at'), when(s.issued_at)],
    s.recipient && [t('recipient_of_receipt'), s.recipient],
    s.error && s.error !== 'nessuno' && [t('error_label'), s.error],
    !notPec && s.identificativo && [t('identificativo'), h('code', { class: 'id' }, s.identificativo)],
  ];
  const id = nextId('s');
  return h('section', { class: `card cert ${certified ? 'is-ok' : notPec ? 'is-neutral' : 'is-bad'}`, 'aria-labelledby': id, 'data-view': 'certification' },
    h('h2', { id, class: 'visually-hidden', text: t('cert_title') }),
    badge,
    explain,
    ctx.forwarded ? h('p', { class: 'muted', text: t('forwarded_note') }) : null,
    !ctx.raw ? h('p', { class: 'muted', text: t('no_raw') }) : null,
    dl(rows),
    recipientsList(ctx, s),
    s.problems?.length ? h('details', {}, h('summary', { text: t('problems') }), h('ul', {}, s.problems.map((p) => h('li', { text: p })))) : null,
    !notPec ? h('p', { class: 'small muted', text: by === 'companion' ? t('verified_by_companion') : t('verified_here') }) : null,
    // The copy on screen does not verify (a mail client may re-encode a PEC it copies), but
    // the companion holds the PEC with this identificativo, received from the PEC box and
    // certified: say so, and open that copy — never call the copy on screen certified.
    !certified && !notPec && ctx.source === 'host' && ctx.detail?.summary?.signature?.status === 'valid'
      ? h('div', { class: 'notice', 'data-companion-copy': 'certified' },
        h('p', { text: t('companion_copy_certified') }),
        button(t('open_companion_copy'), () => openCompanionMessage(ctx.detail.id), { class: 'secondary small', action: 'open-companion-copy' }))
      : null,
  );
}

function deliveryChip(d) {
  const cls = { delivered: 'ok', failed: 'bad', virus: 'bad', warned: 'warn', pending: 'wait' }[d.state] ?? 'wait';
  return chip(t(`state_${d.state}`), cls);
}

function recipientsList(ctx, s) {
  const recipients = s.recipients ?? [];
  if (!recipients.length && !ctx.detail?.delivery?.length) return null;
  const delivery = new Map((ctx.detail?.delivery ?? ctx.reconciled?.delivery ?? []).map((d) => [String(d.recipient).toLowerCase(), d]));
  const list = recipients.length ? recipients : (ctx.detail?.delivery ?? []).map((d) => ({ address: d.recipient, type: null }));
  const item = (r) => {
    const d = delivery.get(String(r.address).toLowerCase());
    return h('li', {}, h('span', { class: 'addr', text: r.address }), ' ',
      r.type ? h('span', { class: 'muted small', text: `· ${t(`type_${r.type}`)}` }) : null, ' ',
      d ? deliveryChip(d) : null);
  };
  // A long list (a notification to 18 offices) stays one click away, not a screen long.
  const FIRST = 4;
  return h('div', { class: 'recipients' },
    h('h3', { text: `${t('recipients')} (${list.length})` }),
    h('ul', { class: 'plain' }, list.slice(0, list.length > FIRST + 1 ? FIRST : list.length).map(item)),
    list.length > FIRST + 1 ? h('details', {}, h('summary', { text: t('show_all_recipients', { n: list.length }) }),
      h('ul', { class: 'plain' }, list.slice(FIRST).map(item))) : null);
}

async function receiptReconcile(ctx, s) {
  // A receipt the companion does not know: what it certifies, by the core's reconcile.
  if (ctx.detail || !RECEIPT_KINDS.has(s.kind) || !s.original_message_id) return;
  try {
    ctx.reconciled = await wasm.reconcile({
      sent: { message_id: s.original_message_id, to: (s.recipients ?? []).map((r) => r.address), cc: [] },
      receipts: [{ ...s, id: 'this' }],
    });
  } catch { /* nothing to add */ }
}

function canOn(mailboxId, policy) {
  return Boolean(S.person?.mailboxes?.[mailboxId]?.includes(policy));
}

async function workPanel(ctx, s) {
  await receiptReconcile(ctx, s);
  const d = ctx.detail;
  if (!d) {
    const importable = (S.me.grants ?? []).filter((g) => g.policies.includes('MAIL_ACCOUNT_MANAGER'));
    const kids = [h('p', { class: 'muted', text: t('companion_unknown') })];
    if (ctx.raw && importable.length && ctx.source === 'host') {
      const select = h('select', {}, importable.map((g) => h('option', { value: g.id }, `${g.name} <${g.address}>`)));
      kids.push(h('div', { class: 'row' }, field(t('import_to'), select), button(t('import_button'), async () => {
        await S.api.request('POST', `/api/v1/messages/import?mailbox=${encodeURIComponent(select.value)}`, ctx.raw, { headers: { 'content-type': 'message/rfc822' } });
        ctx.resolved = false;
        say(t('imported'));
        await show({ name: 'message', ctx });
      })));
    }
    if (ctx.reconciled?.delivery?.length) {
      kids.push(h('p', { text: t('receipt_certifies', { id: s.original_message_id }) }),
        h('ul', { class: 'plain' }, ctx.reconciled.delivery.map((x) => h('li', {}, h('span', { class: 'addr', text: x.recipient }), ' ', deliveryChip(x)))));
    }
    return section(t('work_title'), kids);
  }
  const mailbox = (S.me.grants ?? []).find((g) => g.id === d.mailbox_id);
  const stateText = t(`msg_state_${d.state}`);
  const actions = [];
  if (d.state === 'new' && canOn(d.mailbox_id, 'MAIL_ACCOUNT_MANAGER') && !RECEIPT_KINDS.has(d.kind)) {
    actions.push(button(t('take'), async () => {
      ctx.detail = await S.api.post(`/api/v1/messages/${encodeURIComponent(d.id)}/take`);
      say(t('taken_ok'));
      await show(S.view);
    }, { class: 'primary', action: 'take' }));
  }
  if (canOn(d.mailbox_id, 'MAIL_ACTIVITY_MANAGER') && !RECEIPT_KINDS.has(d.kind)) {
    actions.push(button(t('new_activity'), () => show({ name: 'create', ctx }), { action: 'new-activity' }));
  }
  if (d.direction === 'out' || d.delivery?.length || d.certifies) {
    actions.push(button(t('delivery_title'), () => show({ name: 'delivery', ctx }), { action: 'delivery' }));
  }
  actions.push(button(t('export_zip'), () => exportZip(d), { action: 'export' }));

  const linked = await linkedActivities(d);
  return section(t('work_title'),
    h('p', {}, t('companion_knows', { mailbox: mailbox?.name ?? d.mailbox_id }), ' ',
      chip(d.taken_by_name && d.state === 'taken' ? t('taken_by', { name: d.taken_by_name }) : stateText, d.state === 'new' ? 'warn' : 'ok')),
    h('div', { class: 'actions' }, actions),
    h('h3', { text: t('linked_activities') }),
    linked.items.length
      ? h('ul', { class: 'plain list' }, linked.items.map(activityItem))
      : h('p', { class: 'muted', text: t('no_linked') }),
    linked.truncated ? h('p', { class: 'small muted', text: t('linked_truncated', { n: SCAN }) }) : null);
}

function rememberLink(messageId, activityId) {
  const all = JSON.parse(localStorage.getItem(LINKS_KEY) ?? '{}');
  all[messageId] = [...new Set([...(all[messageId] ?? []), activityId])];
  localStorage.setItem(LINKS_KEY, JSON.stringify(all));
}

// Activities linked to a message. The companion has no "activities of a message" filter
// yet, so the pane reads the details of the mailbox's most recently updated activities
// (at most SCAN) and keeps those whose `message_ids` name it, plus the routing's and those
// created from this pane; `truncated` says when older activities were not looked at.
const SCAN = 60;
async function linkedActivities(d) {
  const ids = new Set(JSON.parse(localStorage.getItem(LINKS_KEY) ?? '{}')[d.id] ?? []);
  if (d.routing?.activity_id) ids.add(d.routing.activity_id);
  let truncated = false;
  try {
    const page = await S.api.get(`/api/v1/activities?mailbox=${encodeURIComponent(d.mailbox_id)}&sort=-updated_at&limit=${SCAN}`);
    for (const a of page.items) ids.add(a.id);
    truncated = Boolean(page.next_cursor);
  } catch { /* the known ones below */ }
  const out = [];
  const queue = [...ids];
  const worker = async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        const a = await S.api.get(`/api/v1/activities/${encodeURIComponent(id)}`);
        if ((a.message_ids ?? []).includes(d.id)) out.push(a);
      } catch { /* gone or not visible */ }
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  out.sort((a, b) => String(a.created_at).localeCompare(String(b.created_at)));
  return { items: out, truncated };
}

async function exportZip(d) {
  let r;
  try {
    r = await S.api.get(`/api/v1/messages/${encodeURIComponent(d.id)}/export.zip`, { as: 'response' });
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new Error(t('export_unavailable'));
    throw e;
  }
  const name = /filename="?([^";]+)"?/.exec(r.headers.get('content-disposition') ?? '')?.[1] ?? `pec-${d.id}.zip`;
  const url = blobUrl(new Uint8Array(await r.arrayBuffer()), 'application/zip');
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  say(t('export_done'));
}

// ---------------------------------------------------------------- original message

async function originalPanel(ctx) {
  if (!ctx.raw) return null;
  if (!await wasm.has('original')) return section(t('original_title'), h('p', { class: 'muted', text: t('original_unavailable') }));
  let o;
  try {
    o = await wasm.original(ctx.raw);
  } catch (e) {
    return section(t('original_title'), h('p', { class: 'muted', text: pick(e.message) }));
  }
  const body = h('div', { class: 'body' });
  const showHtml = () => {
    const { html, blockedImages } = sanitizeHtml(o.html);
    const frame = h('iframe', { class: 'html', sandbox: 'allow-popups allow-popups-to-escape-sandbox', title: t('html_frame_title'), referrerpolicy: 'no-referrer' });
    frame.srcdoc = frameDocument(html, new URL('frame.css', location.href).href);
    fill(body, frame,
      blockedImages ? h('p', { class: 'small muted', text: t('remote_images_blocked', { n: blockedImages }) }) : null,
      o.text ? button(t('show_text'), showText, { class: 'link' }) : null);
  };
  const showText = () => {
    fill(body, h('pre', { class: 'text', text: o.text || t('empty_body') }),
      o.html && htmlHasContent(o.html) ? button(t('show_html'), showHtml, { class: 'link' }) : null);
  };
  // An HTML part with nothing to read (an empty <div>, as some clients send) is not worth a frame.
  const htmlHasContent = (html) => {
    const d = new DOMParser().parseFromString(html, 'text/html');
    return Boolean(d.body?.textContent.trim() || d.querySelector('img'));
  };
  if (o.html && htmlHasContent(o.html)) showHtml(); else showText();

  const atts = o.attachments ?? [];
  const p7mBox = h('div', { class: 'p7m-box' });
  return section(t('original_title'),
    dl([
      [t('original_from'), o.from_name ? h('span', {}, h('strong', { text: o.from_name }), h('br'), h('span', { class: 'addr small', text: o.from ?? '' })) : o.from],
      [t('original_to'), (o.to ?? []).join(', ')],
      o.cc?.length && [t('original_cc'), o.cc.join(', ')],
      [t('original_date'), when(o.date)],
      [t('subject'), o.subject],
    ]),
    body,
    h('h3', { text: `${t('attachments')} (${atts.length})` }),
    atts.length ? h('ul', { class: 'plain attachments' }, atts.map((a) => attachmentItem(ctx, a, p7mBox))) : h('p', { class: 'muted', text: t('no_attachments') }),
    p7mBox);
}

function attachmentItem(ctx, a, p7mBox) {
  const bytes = () => wasm.originalAttachment(ctx.raw, a.index);
  const open = async () => {
    const url = blobUrl(await bytes(), a.content_type);
    window.open(url, '_blank', 'noopener');
  };
  const download = async () => {
    const url = blobUrl(await bytes(), a.content_type);
    const link = h('a', { href: url, download: a.name || 'allegato' });
    document.body.append(link);
    link.click();
    link.remove();
  };
  return h('li', { class: 'attachment' },
    h('span', { class: 'icon', 'aria-hidden': 'true' }, a.signed ? '✒' : '▤'),
    h('span', { class: 'name', text: a.name || '—' }),
    h('span', { class: 'muted small', text: ` ${size(a.size)}` }),
    h('span', { class: 'buttons' },
      a.signed ? button(t('verify_open'), () => showP7m(ctx, a, p7mBox), { class: 'primary small', action: 'p7m' }) : button(t('open'), open, { class: 'secondary small' }),
      button(t('download'), download, { class: 'secondary small' })));
}

// The PEC providers the companion trusts (its own check's list), so the pane's check of the
// bytes on screen answers as the companion's does; null: the core's built-in list only.
async function providerList() {
  if (S.providers !== undefined) return S.providers;
  if (!S.api) return null;
  try {
    const r = await fetch(new URL('/addin/trust/providers.json', S.api.base), { cache: 'no-store' });
    S.providers = r.ok ? await r.text() : null;
  } catch { S.providers = null; }
  return S.providers;
}

async function qualifiedList() {
  if (S.qualified !== undefined) return S.qualified;
  try {
    const r = await fetch(new URL('/addin/trust/qualified.json', S.api.base), { cache: 'no-store' });
    S.qualified = r.ok ? await r.text() : null;
  } catch { S.qualified = null; }
  return S.qualified;
}

async function showP7m(ctx, a, box) {
  if (!await wasm.has('signed_document')) {
    fill(box, h('p', { class: 'muted', text: t('p7m_unavailable') }));
    return;
  }
  const bytes = await wasm.originalAttachment(ctx.raw, a.index);
  const doc = await wasm.signedDocument(bytes, await qualifiedList());
  let content = null;
  try { content = await wasm.signedDocumentContent(bytes); } catch { content = null; }
  const status = doc.status === 'valid' ? ['ok', 'p7m_valid', '✔ ']
    : doc.status === 'integrity-only' ? ['warn', 'p7m_integrity', '◐ '] : ['bad', 'p7m_invalid', '✖ '];
  const url = content ? blobUrl(content, doc.content_type) : null;
  const id = nextId('s');
  fill(box, h('section', { class: 'card p7m', 'aria-labelledby': id, 'data-view': 'p7m' },
    h('h3', { id, text: `${t('p7m_title')}: ${doc.name ?? a.name}` }),
    h('p', { class: `badge ${status[0]}`, 'data-p7m': doc.status }, h('span', { 'aria-hidden': 'true' }, status[2]), t(status[1])),
    doc.status === 'integrity-only' ? h('p', { class: 'small', text: t('p7m_integrity_explain') }) : null,
    doc.status === 'invalid' ? h('p', { class: 'small', text: t('p7m_invalid_explain') }) : null,
    (doc.signers ?? []).map((sg) => dl([
      [t('p7m_signer'), sg.common_name],
      sg.organization && [t('p7m_org'), sg.organization],
      sg.serial_number && [t('p7m_serial'), sg.serial_number],
      [t('p7m_issuer'), sg.issuer],
      [t('p7m_time'), when(sg.signing_time)],
      [t('p7m_integrity_label'), t(`integrity_${sg.integrity}`)],
      [t('p7m_trust_label'), t(`trust_${sg.trust}`)],
      // The reason repeats the trust line when only the list is missing: shown for real faults.
      sg.reason && sg.integrity !== 'ok' && ['', pick(sg.reason)],
    ])),
    doc.status === 'invalid' && (doc.problems ?? []).length ? h('ul', { class: 'small' }, doc.problems.map((p) => h('li', { text: pick(p) }))) : null,
    url ? h('p', { class: 'actions' },
      h('span', { text: t('p7m_document', { name: doc.name ?? '' }) }), ' ',
      h('a', { class: 'button secondary small', href: url, target: '_blank', rel: 'noopener' }, t('open')), ' ',
      h('a', { class: 'button secondary small', href: url, download: doc.name ?? 'documento' }, t('download'))) : null));
  box.querySelector('h3')?.setAttribute('tabindex', '-1');
  box.querySelector('h3')?.focus();
}

// ---------------------------------------------------------------- delivery (stato del messaggio)

async function viewDelivery(ctx) {
  const d = ctx.detail;
  const parts = [h('button', { type: 'button', class: 'link back', onclick: () => show({ name: 'message', ctx, presenceKey: S.view.presenceKey }) }, t('back'))];
  if (!d?.delivery?.length && !d?.acceptance) {
    parts.push(section(t('delivery_title'), h('p', { class: 'muted', text: t('delivery_none') })));
    return h('div', { class: 'stack' }, parts);
  }
  const acc = d.acceptance;
  const receiptLink = (rid) => (rid ? button(t('open_receipt'), () => openCompanionMessage(rid), { class: 'link small' }) : null);
  parts.push(section(t('delivery_title'),
    h('p', { class: 'muted', text: t('delivery_intro') }),
    h('p', {}, h('strong', { text: `${d.summary?.subject ?? d.subject ?? ''}` })),
    dl([[t('acceptance'), h('span', {}, chip(acc?.accepted === true ? t('accepted_yes') : acc?.accepted === false ? t('accepted_no') : t('accepted_wait'),
      acc?.accepted === true ? 'ok' : acc?.accepted === false ? 'bad' : 'wait'), acc?.at ? ` ${when(acc.at)} ` : ' ', receiptLink(acc?.receipt_id))]]),
    h('table', { class: 'delivery' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col', text: t('recipients') }), h('th', { scope: 'col', text: t('status') }))),
      h('tbody', {}, (d.delivery ?? []).map((x) => h('tr', { 'data-recipient': x.recipient },
        h('td', {}, h('span', { class: 'addr', text: x.recipient }), x.field ? h('span', { class: 'muted small', text: ` (${t(`field_${x.field}`)})` }) : null),
        h('td', {}, deliveryChip(x), x.at ? h('div', { class: 'small muted', text: when(x.at) }) : null,
          x.reason ? h('div', { class: 'small', text: pick(x.reason) }) : null, receiptLink(x.receipt_id))))))));
  return h('div', { class: 'stack' }, parts);
}

// ---------------------------------------------------------------- create activity

async function viewCreate(ctx) {
  const d = ctx.detail;
  const mailboxId = d.mailbox_id;
  const q = (p) => `/api/v1/${p}${p.includes('?') ? '&' : '?'}limit=200`;
  const [users, teams, approvers] = await Promise.all([
    S.api.get(q(`users?mailbox=${encodeURIComponent(mailboxId)}&policy=MAIL_ACTIVITY_WRITER`)),
    // Every team of the organisation: a team need not hold a grant of its own to be assigned.
    S.api.get(q('teams')),
    S.api.get(q(`users?mailbox=${encodeURIComponent(mailboxId)}&eligible=approver`)),
  ]);
  const title = h('input', { type: 'text', name: 'title', required: true, maxlength: 300, value: d.summary?.subject ?? d.subject ?? '' });
  const description = h('textarea', { name: 'description', rows: 3 });
  const who = h('select', { name: 'assignee' },
    h('option', { value: '' }, t('assign_nobody')),
    h('optgroup', { label: t('assign_person') }, users.items.map((u) => h('option', { value: `u:${u.id}` }, u.name))),
    h('optgroup', { label: t('assign_team') }, teams.items.map((x) => h('option', { value: `t:${x.id}` }, x.name))));
  const due = h('input', { type: 'date', name: 'due' });
  const priority = h('select', { name: 'priority' }, ['low', 'normal', 'high', 'urgent'].map((p) => h('option', { value: p, selected: p === 'normal' }, t(`priority_${p}`))));
  const flow = h('select', { name: 'flow' }, ['standard', 'approval'].map((f) => h('option', { value: f }, t(`flow_${f}`))));
  const approver = h('select', { name: 'approver' }, h('option', { value: '' }, t('approver_pick')), approvers.items.map((u) => h('option', { value: u.id }, u.name)));
  const approverField = field(t('approver'), approver);
  approverField.hidden = true;
  flow.addEventListener('change', () => { approverField.hidden = flow.value !== 'approval'; });
  const done = h('div', { class: 'created' });

  const submit = guard(async () => {
    if (!title.value.trim()) throw new Error(t('title_missing'));
    if (flow.value === 'approval' && !approver.value) throw new Error(t('approver_missing'));
    const body = { mailbox_id: mailboxId, title: title.value.trim(), message_ids: [d.id], priority: priority.value, flow: flow.value };
    if (description.value.trim()) body.description = description.value.trim();
    if (who.value.startsWith('u:')) body.assignee_id = who.value.slice(2);
    if (who.value.startsWith('t:')) body.team_id = who.value.slice(2);
    if (due.value) body.due_at = due.value;
    if (flow.value === 'approval') body.approver_id = approver.value;
    const a = await S.api.post('/api/v1/activities', body);
    rememberLink(d.id, a.id);
    say(t('created_ok', { title: a.title }));
    fill(done, h('p', { class: 'notice' }, t('created_ok', { title: a.title }), ' ',
      button(t('activity'), () => show({ name: 'activity', id: a.id, presenceKey: { object: 'activity', id: a.id } }), { class: 'link', action: 'open-created' })),
    h('p', { class: 'small muted', text: t('create_another') }));
    title.value = '';
    title.focus();
  });
  const form = h('form', { class: 'card', 'data-view': 'create', onsubmit: (e) => { e.preventDefault(); submit(e); } },
    h('h2', { text: t('new_activity') }),
    h('p', { class: 'muted small', text: d.summary?.subject ?? '' }),
    field(t('activity_title'), title),
    field(t('assign_to'), who),
    h('div', { class: 'row' }, field(t('due_at'), due), field(t('priority'), priority)),
    field(t('flow'), flow),
    approverField,
    field(t('activity_description'), description),
    h('button', { type: 'submit', class: 'primary', 'data-action': 'create' }, t('create')),
    done);
  return h('div', { class: 'stack' },
    h('button', { type: 'button', class: 'link back', onclick: () => show({ name: 'message', ctx, presenceKey: ctx.detail ? { object: 'message', id: ctx.detail.id } : null }) }, t('back')),
    form);
}

// ---------------------------------------------------------------- activity detail

function activityFacts(a) {
  const requests = (a.approvals ?? []).filter((x) => x.kind === 'request');
  return {
    mailbox_id: a.mailbox_id,
    status: a.status,
    flow: a.flow,
    assignee_id: a.assignee_id,
    team_id: a.team_id,
    approver_id: a.approver_id,
    draft_version: a.draft && !a.draft.sent_at ? a.draft.version : null,
    approved_draft_version: a.approved_draft_version,
    draft_authors: a.draft_authors ?? [],
    approval_requested_by: requests.length ? requests[requests.length - 1].by.id : null,
    draft_sent: Boolean(a.draft?.sent_at),
  };
}

// What the user may do now: the companion's answer cross-checked with the core's.
async function allowedNow(a) {
  const server = a.allowed_actions ?? [];
  let local = server;
  try {
    local = await wasm.allowedActions(activityFacts(a), S.person);
  } catch { /* the companion still decides every write */ }
  const both = server.filter((x) => local.includes(x));
  return { actions: both, mismatch: both.length !== server.length || both.length !== local.length };
}

async function viewActivity(id) {
  const a = await S.api.get(`/api/v1/activities/${encodeURIComponent(id)}`);
  const [comments, allowed, linkedMessages] = await Promise.all([
    S.api.get(`/api/v1/activities/${encodeURIComponent(id)}/comments`),
    allowedNow(a),
    Promise.all((a.message_ids ?? []).slice(0, 20).map((mid) => S.api.get(`/api/v1/messages/${encodeURIComponent(mid)}`).catch(() => null)))
      .then((list) => list.filter(Boolean)),
  ]);
  const reload = () => show({ name: 'activity', id, presenceKey: { object: 'activity', id } });
  const parts = [backButton()];
  const head = h('section', { class: 'card', 'aria-labelledby': 'activity-title', 'data-view': 'activity' },
    h('h2', { id: 'activity-title', text: a.title }),
    h('p', {}, chip(t(`status_${a.status}`), statusClass(a.status)), ' ', chip(t(`priority_${a.priority}`), a.priority === 'urgent' || a.priority === 'high' ? 'warn' : 'wait')),
    dl([
      [t('assignee'), a.assignee_name ?? (a.team_name ? `${t('team')}: ${a.team_name}` : t('none'))],
      a.flow === 'approval' && [t('approver'), a.approver_name],
      [t('due_at'), a.due_at ? day(a.due_at) : '—'],
      [t('flow'), t(`flow_${a.flow}`)],
      [t('created_by'), a.created_by_name],
    ]),
    a.description ? h('p', { class: 'description', text: a.description }) : null,
    linkedMessages.length ? h('div', {}, h('h3', { text: t('linked_messages') }),
      h('ul', { class: 'plain list' }, linkedMessages.map(messageItem))) : null);
  parts.push(head);

  // Status moves (approval and send have their own controls below).
  const moves = allowed.actions.filter((x) => !['awaiting_approval', 'approved', 'changes_requested', 'send'].includes(x));
  parts.push(section(t('actions_now'),
    allowed.mismatch ? h('p', { class: 'notice', text: t('actions_mismatch') }) : null,
    moves.length ? h('div', { class: 'actions' }, moves.map((to) => button(t(`to_${to}`), async () => {
      const r = await S.api.post(`/api/v1/activities/${encodeURIComponent(id)}/transitions`, { to, version: a.version });
      say(t('moved_ok', { status: t(`status_${r.status}`) }));
      await reload();
    }, { class: to === 'done' ? 'primary' : 'secondary', action: `to-${to}` }))) : (allowed.actions.length ? null : h('p', { class: 'muted', text: t('no_actions') }))));

  parts.push(draftPanel(a, allowed.actions, reload));
  parts.push(commentsPanel(a, comments, reload));
  return h('div', { class: 'stack' }, parts);
}


function splitAddresses(text) {
  return text.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean);
}

function draftPanel(a, actions, reload) {
  const id = a.id;
  const draft = a.draft;
  const sent = Boolean(draft?.sent_at);
  // The approver decides on the text as written: editing it would make them an author, who
  // may not approve (the core's rule). The companion still enforces it.
  const deciding = actions.includes('approved') || actions.includes('changes_requested');
  const locked = sent || deciding;
  const to = h('input', { type: 'text', name: 'to', value: (draft?.to ?? []).join(', '), autocomplete: 'off', readonly: locked });
  const cc = h('input', { type: 'text', name: 'cc', value: (draft?.cc ?? []).join(', '), autocomplete: 'off', readonly: locked });
  const subject = h('input', { type: 'text', name: 'subject', value: draft?.subject ?? `Re: ${a.title}`, readonly: locked });
  const body = h('textarea', { name: 'body', rows: 8, readonly: locked }, draft?.body ?? '');
  const dirty = h('p', { class: 'small muted', 'aria-live': 'polite' });
  const form = h('form', { class: 'draft', onsubmit: (e) => e.preventDefault() },
    field(t('draft_to'), to), field(t('draft_cc'), cc), field(t('draft_subject'), subject), field(t('draft_body'), body), dirty);
  let changed = false;
  form.addEventListener('focusin', () => { if (!locked) presenceState('replying'); });
  form.addEventListener('focusout', () => setTimeout(() => { if (!form.contains(document.activeElement) && !changed) presenceState('viewing'); }, 0));
  form.addEventListener('input', () => { changed = true; dirty.textContent = t('draft_unsaved'); presenceState('replying'); });

  const save = async () => {
    const r = await S.api.put(`/api/v1/activities/${encodeURIComponent(id)}/draft`, {
      to: splitAddresses(to.value), cc: splitAddresses(cc.value), subject: subject.value, body: body.value,
    });
    changed = false;
    say(t('draft_saved', { v: r.version }));
    return r;
  };

  const controls = [];
  if (!locked && (canOn(a.mailbox_id, 'MAIL_ACTIVITY_WRITER') || a.assignee_id === S.me.user.id)) {
    controls.push(button(t('draft_save'), async () => { await save(); await reload(); }, { action: 'save-draft' }));
  }
  const note = h('textarea', { name: 'note', rows: 2 });
  const approvalControls = [];
  if (actions.includes('awaiting_approval')) {
    approvalControls.push(field(t('approval_request_note'), note), button(t('to_awaiting_approval'), async () => {
      if (changed) await save();
      await S.api.post(`/api/v1/activities/${encodeURIComponent(id)}/approval-request`, note.value.trim() ? { note: note.value.trim() } : {});
      say(t('approval_requested', { name: a.approver_name ?? '' }));
      await reload();
    }, { class: 'primary', action: 'request-approval' }));
  }
  if (actions.includes('approved') || actions.includes('changes_requested')) {
    approvalControls.push(field(t('approval_note'), note));
    const row = [];
    if (actions.includes('approved')) {
      row.push(button(t('to_approved'), async () => {
        await S.api.post(`/api/v1/activities/${encodeURIComponent(id)}/approval`, { decision: 'approve', note: note.value.trim() });
        say(t('approval_decided'));
        await reload();
      }, { class: 'primary', action: 'approve' }));
    }
    if (actions.includes('changes_requested')) {
      row.push(button(t('to_changes_requested'), async () => {
        await S.api.post(`/api/v1/activities/${encodeURIComponent(id)}/approval`, { decision: 'request_changes', note: note.value.trim() });
        say(t('approval_decided'));
        await reload();
      }, { action: 'request-changes' }));
    }
    approvalControls.push(h('div', { class: 'actions' }, row));
  }

  const sendBox = [];
  if (actions.includes('send')) {
    sendBox.push(h('div', { class: 'actions' },
      button(t('send_via_companion'), async () => {
        await S.api.post(`/api/v1/activities/${encodeURIComponent(id)}/send`);
        say(t('sent_ok'));
        await reload();
      }, { class: 'primary', action: 'send' }),
      S.host.name !== 'browser' ? button(t('reply_in_client'), async () => {
        try {
          await S.host.reply({ to: draft.to, cc: draft.cc, subject: draft.subject, body: draft.body, activityId: id });
          say(t('reply_opened'));
        } catch (e) {
          if (e?.code === 'reply_unavailable' || e?.message === 'reply_unavailable') throw new Error(t('reply_unavailable'));
          throw e;
        }
      }, { action: 'reply-in-client' }) : null));
  } else if (!sent && !deciding && a.flow === 'approval' && !['done', 'cancelled'].includes(a.status)) {
    sendBox.push(h('p', { class: 'notice', 'data-send-blocked': 'true' }, h('span', { 'aria-hidden': 'true' }, '⚠ '),
      draft ? t('send_blocked', { name: a.approver_name ?? t('approver') }) : t('send_blocked_no_draft')));
  }

  const conversation = (a.approvals ?? []).map((x) => h('li', { class: `approval ${x.kind}` },
    h('strong', { text: t(`approval_${x.kind}`) }), ` · ${x.by?.name ?? ''} · v${x.draft_version} · ${when(x.at)}`,
    x.note ? h('div', { class: 'note', text: x.note }) : null));

  return section(t('draft_title'),
    draft ? h('p', { class: 'small muted' }, t('draft_version', { v: draft.version, name: draft.updated_by_name ?? '' }),
      a.approved_draft_version && a.approved_draft_version === draft.version ? h('span', {}, ' · ', chip(t('draft_approved', { v: draft.version }), 'ok')) : null,
      sent ? h('span', {}, ' · ', t('draft_sent', { at: when(draft.sent_at) })) : null) : null,
    form,
    h('div', { class: 'actions' }, controls),
    a.flow === 'approval' ? h('div', { class: 'approval-box' },
      h('h3', { text: t('approval_title') }),
      conversation.length ? h('ol', { class: 'plain conversation' }, conversation) : null,
      a.status === 'awaiting_approval' && !actions.includes('approved') ? h('p', { class: 'muted', text: t('approval_waiting', { name: a.approver_name ?? '' }) }) : null,
      approvalControls) : null,
    sendBox,
    (a.outgoing ?? []).length ? h('div', {}, h('h3', { text: t('outgoing_title') }), h('ul', { class: 'plain' }, a.outgoing.map((o) => h('li', {},
      chip(t(`state_${o.state}`), o.state === 'failed' ? 'bad' : 'wait'), ' ', o.error ? pick(o.error) : '',
      h('ul', { class: 'plain small' }, (o.recipients ?? []).map((r) => h('li', {}, h('span', { class: 'addr', text: r.address }), ' ', chip(t(`state_${r.state}`), r.state === 'delivered' ? 'ok' : r.state === 'failed' ? 'bad' : 'wait')))))))) : null);
}

function commentsPanel(a, comments, reload) {
  const list = h('ol', { class: 'plain comments' }, comments.length ? comments.map((c) => commentItem(c, reload)) : h('li', { class: 'muted', text: t('no_comments') }));
  const text = h('textarea', { name: 'comment', rows: 3 });
  const suggestions = h('div', { class: 'mentions', role: 'group', 'aria-label': t('mention_suggestions') });
  let users = null;
  text.addEventListener('input', async () => {
    const m = /(^|\s)@([\p{L}.'-]{1,30})$/u.exec(text.value.slice(0, text.selectionStart));
    if (!m) { suggestions.replaceChildren(); return; }
    users ??= (await S.api.get(`/api/v1/users?mailbox=${encodeURIComponent(a.mailbox_id)}&limit=200`).catch(() => ({ items: [] }))).items;
    const q = m[2].toLowerCase();
    const hits = users.filter((u) => u.name.toLowerCase().split(/\s+/).some((w) => w.startsWith(q)) || u.email.toLowerCase().startsWith(q)).slice(0, 5);
    fill(suggestions, ...hits.map((u) => h('button', { type: 'button', class: 'secondary small', onclick: () => {
      const before = text.value.slice(0, text.selectionStart).replace(/@[\p{L}.'-]*$/u, `@${u.name} `);
      text.value = before + text.value.slice(text.selectionStart);
      suggestions.replaceChildren();
      text.focus();
      text.setSelectionRange(before.length, before.length);
    } }, `@${u.name}`)));
  });
  const add = h('form', { class: 'comment-form', onsubmit: (e) => e.preventDefault() },
    field(t('comment_label'), text), suggestions,
    button(t('comment_add'), async () => {
      if (!text.value.trim()) return;
      await S.api.post(`/api/v1/activities/${encodeURIComponent(a.id)}/comments`, { body: text.value });
      say(t('comment_added'));
      await reload();
    }, { action: 'add-comment' }));
  return section(t('comments'), list, add);
}

function commentItem(c, reload) {
  const mine = c.author_id === S.me.user.id;
  const li = h('li', { class: 'comment', 'data-comment': c.id });
  const render = () => {
    fill(li, 
      h('div', { class: 'meta' }, h('strong', { text: c.author_name ?? '' }), ` · ${when(c.created_at)}`,
        c.edited_at ? h('span', { class: 'muted' }, ` · ${t('comment_edited')}`) : null),
      h('p', { class: 'text' }, mentionify(c.body)),
      (c.history ?? []).length ? h('details', {}, h('summary', { text: t('comment_history') }),
        h('ol', { class: 'plain small' }, c.history.map((x) => h('li', {}, h('span', { class: 'muted', text: `${when(x.replaced_at)}: ` }), x.body)))) : null,
      mine ? button(t('comment_edit'), edit, { class: 'link small', action: 'edit-comment' }) : null);
  };
  const edit = () => {
    const area = h('textarea', { rows: 3 }, c.body);
    fill(li, field(t('comment_edit'), area), h('div', { class: 'actions' },
      button(t('comment_save'), async () => {
        await S.api.patch(`/api/v1/comments/${encodeURIComponent(c.id)}`, { body: area.value });
        await reload();
      }, { class: 'primary small', action: 'save-comment' }),
      button(t('comment_cancel'), render, { class: 'secondary small' })));
    area.focus();
  };
  render();
  return li;
}

// @Name Surname shown highlighted (text nodes only: a comment is never HTML).
function mentionify(body) {
  const out = [];
  const re = /@[\p{Lu}][\p{L}'-]*(?: [\p{Lu}][\p{L}'-]*)?/gu;
  let last = 0;
  for (const m of body.matchAll(re)) {
    out.push(body.slice(last, m.index), h('mark', { class: 'mention', text: m[0] }));
    last = m.index + m[0].length;
  }
  out.push(body.slice(last));
  return out;
}

// ---------------------------------------------------------------- notifications (@mentions)

const NOTIF_EVERY_MS = 60_000;
const NOTIF_PAGE = 100;

// A bell drawn as SVG (no font glyph needed), with the unread count beside it.
function bellIcon() {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('width', '18');
  svg.setAttribute('height', '18');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('fill', 'currentColor');
  path.setAttribute('d', 'M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z');
  svg.append(path);
  return svg;
}

function bellLabel() {
  if (!S.unread) return t('notif_bell_none');
  return t('notif_bell', { n: S.unreadMore ? `${S.unread}+` : S.unread });
}

function bellButton() {
  const count = h('span', { class: 'count', 'data-unread': String(S.unread), hidden: !S.unread },
    S.unreadMore || S.unread > 99 ? '99+' : String(S.unread));
  return h('button', {
    type: 'button',
    id: 'bell',
    class: `bell${S.unread ? ' has-unread' : ''}`,
    'data-action': 'notifications',
    'aria-label': bellLabel(),
    title: bellLabel(),
    'aria-current': S.tab === 'notifications' ? 'page' : null,
    onclick: () => {
      // Not one of the tabs: none is marked current while the list is shown.
      S.tab = 'notifications';
      renderChrome();
      $('bell')?.focus();
      show({ name: 'notifications' });
    },
  }, bellIcon(), count);
}

function drawBell() {
  const old = $('bell');
  if (!old) return;
  const hadFocus = document.activeElement === old;
  const fresh = bellButton();
  old.replaceWith(fresh);
  if (hadFocus) fresh.focus();
}

async function refreshNotifications() {
  if (!S.me) return;
  try {
    const page = await S.api.get(`/api/v1/notifications?unread=true&limit=${NOTIF_PAGE}`);
    S.unread = page.items.length;
    S.unreadMore = Boolean(page.next_cursor);
  } catch {
    return; // the count stays as it was; the next refresh tries again
  }
  drawBell();
}

function startNotifications() {
  clearInterval(S.notifTimer);
  S.notifTimer = setInterval(() => { if (S.me) refreshNotifications(); else clearInterval(S.notifTimer); }, NOTIF_EVERY_MS);
  refreshNotifications();
}

async function viewNotifications() {
  const page = await S.api.get('/api/v1/notifications?limit=50');
  refreshNotifications();
  const open = async (n) => {
    if (!n.read_at) await S.api.post(`/api/v1/notifications/${encodeURIComponent(n.id)}/read`, {});
    await refreshNotifications();
    await show({ name: 'activity', id: n.activity_id, presenceKey: { object: 'activity', id: n.activity_id } });
  };
  const items = page.items.map((n) => h('li', {}, h('button', {
    type: 'button',
    class: `item notification${n.read_at ? '' : ' unread'}`,
    'data-notification': n.id,
    'data-activity': n.activity_id,
    onclick: guard(() => open(n)),
  },
  h('span', { class: 'title' }, n.read_at ? null : chip(t('notif_unread'), 'wait'), n.read_at ? '' : ' ', t('notif_mention', { name: n.by?.name ?? '' })),
  n.activity_title ? h('span', { class: 'activity' }, n.activity_title) : null,
  h('span', { class: 'excerpt' }, mentionify(n.excerpt)),
  h('span', { class: 'meta muted' }, `${when(n.created_at)} · ${t('notif_open')}`))));
  return h('div', { class: 'stack' },
    h('h1', { text: t('notif_title') }),
    h('p', { class: 'muted small', text: t('notif_intro') }),
    items.length ? h('ul', { class: 'plain list notifications' }, items) : h('p', { class: 'muted', text: t('notif_empty') }));
}

// ---------------------------------------------------------------- lists

function activityItem(a) {
  const overdue = a.due_at && !['done', 'cancelled'].includes(a.status) && new Date(a.due_at) < new Date();
  return h('li', {}, h('button', { type: 'button', class: 'item', 'data-activity': a.id, onclick: () => show({ name: 'activity', id: a.id, presenceKey: { object: 'activity', id: a.id } }) },
    h('span', { class: 'title', text: a.title }),
    h('span', { class: 'meta' }, chip(t(`status_${a.status}`), statusClass(a.status)),
      a.due_at ? h('span', { class: overdue ? 'overdue' : 'muted' }, ` ${overdue ? t('overdue', { date: day(a.due_at) }) : t('due', { date: day(a.due_at) })}`) : null,
      (a.assignee_name && a.assignee_id !== S.me?.user.id) || (!a.assignee_id && a.team_name)
        ? h('span', { class: 'muted' }, ` · ${a.assignee_id ? a.assignee_name : a.team_name}`) : null)));
}

function messageItem(m) {
  const s = m.summary ?? {};
  const receipt = RECEIPT_KINDS.has(m.kind);
  return h('li', {}, h('button', { type: 'button', class: 'item', 'data-message': m.id, onclick: () => openCompanionMessage(m.id) },
    h('span', { class: 'title', text: m.subject ?? s.subject ?? '—' }),
    h('span', { class: 'meta' },
      certChip(m),
      ' ', receipt ? chip(t(`kind_${m.kind}`), 'neutral') : null,
      h('span', { class: 'muted' }, ` ${m.sender ?? s.sender ?? ''} · ${when(s.issued_at ?? m.received_at)}`))));
}

async function pagedList(path, render, emptyKey = 'list_empty') {
  const ul = h('ul', { class: 'plain list' });
  const more = h('div');
  const load = async (cursor) => {
    const page = await S.api.get(path + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''));
    ul.append(...page.items.map(render));
    if (!ul.children.length) ul.append(h('li', { class: 'muted', text: t(emptyKey) }));
    fill(more, page.next_cursor ? button(t('more'), () => load(page.next_cursor), { class: 'link' }) : '');
  };
  await load(null);
  return h('div', {}, ul, more);
}

async function viewActivities(filter, titleKey) {
  const qs = new URLSearchParams({ ...filter, status: 'open,in_progress,awaiting_approval,approved,changes_requested', limit: '50' });
  return section(t(titleKey), await pagedList(`/api/v1/activities?${qs}`, activityItem));
}

async function viewTeam() {
  const teams = S.me.teams ?? [];
  if (!teams.length) return section(t('tab_team'), h('p', { class: 'muted', text: t('team_none') }));
  // The team queue: open activities of the caller's teams, nobody assigned yet first.
  const page = await S.api.get('/api/v1/activities?status=open,in_progress,awaiting_approval,approved,changes_requested&limit=200');
  const ids = new Set(teams.map((x) => x.id));
  const items = page.items.filter((a) => a.team_id && ids.has(a.team_id));
  items.sort((a, b) => Number(Boolean(a.assignee_id)) - Number(Boolean(b.assignee_id)));
  return section(`${t('tab_team')} · ${teams.map((x) => x.name).join(', ')}`,
    items.length ? h('ul', { class: 'plain list' }, items.map(activityItem)) : h('p', { class: 'muted', text: t('list_empty') }));
}

async function viewDispatch() {
  return section(t('tab_dispatch'), await pagedList('/api/v1/messages?queue=dispatch&limit=50', messageItem, 'dispatch_none'));
}

function receiptsFilter(onchange) {
  const select = h('select', { name: 'receipts', onchange: () => { S.receipts = select.value; onchange(); } },
    [['hide', 'receipts_hide'], ['', 'receipts_all'], ['only', 'receipts_only']].map(([v, k]) => h('option', { value: v, selected: S.receipts === v }, t(k))));
  return field(t('filter_receipts'), select);
}

async function viewSearch(q) {
  const input = h('input', { type: 'search', name: 'q', value: q, maxlength: 200 });
  const results = h('div', { 'aria-live': 'polite' });
  const run = guard(async () => {
    const text = input.value.trim();
    S.view.q = text;
    if (!text) { fill(results, h('p', { class: 'muted', text: t('search_hint') })); return; }
    const rq = S.receipts ? `&receipts=${S.receipts}` : '';
    const [msgs, acts] = await Promise.all([
      pagedList(`/api/v1/messages?q=${encodeURIComponent(text)}${rq}&limit=25`, messageItem),
      pagedList(`/api/v1/activities?q=${encodeURIComponent(text)}&limit=25`, activityItem),
    ]);
    fill(results, h('h3', { text: t('search_messages') }), msgs, h('h3', { text: t('search_activities') }), acts);
  });
  const form = h('form', { role: 'search', class: 'search', onsubmit: (e) => { e.preventDefault(); run(e); } },
    field(t('search_label'), input),
    receiptsFilter(() => { if (input.value.trim()) run(); }),
    h('button', { type: 'submit', class: 'primary' }, t('search_button')));
  if (q) await run();
  else fill(results, h('p', { class: 'muted', text: t('search_hint') }));
  return h('div', { class: 'stack' }, h('div', { class: 'card' }, form), results);
}

// ---------------------------------------------------------------- presence (collision warning)

const presence = { key: null, state: 'viewing', timer: null, abort: null };

function presenceEnter(object, id) {
  presence.key = { object, id };
  presence.state = 'viewing';
  const put = () => S.api.put('/api/v1/presence', { object, id, state: presence.state }).catch(() => {});
  put();
  presence.timer = setInterval(put, 20_000);
  presence.abort = new AbortController();
  S.api.presenceStream(object, id, showPresence, presence.abort.signal);
}

function presenceState(state) {
  if (!presence.key || presence.state === state) return;
  presence.state = state;
  S.api.put('/api/v1/presence', { ...presence.key, state }).catch(() => {});
}

function presenceLeave(unloading = false) {
  if (!presence.key) return;
  const key = presence.key;
  presence.key = null;
  clearInterval(presence.timer);
  presence.abort?.abort();
  $('presence').replaceChildren();
  $('presence').hidden = true;
  if (unloading && S.api?.tokens) {
    fetch(`${S.api.base}/api/v1/presence`, {
      method: 'DELETE', keepalive: true,
      headers: { authorization: `Bearer ${S.api.tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify(key),
    }).catch(() => {});
  } else {
    S.api?.del('/api/v1/presence', key).catch(() => {});
  }
}

function showPresence(p) {
  if (!presence.key || p.id !== presence.key.id) return;
  const others = (p.people ?? []).filter((x) => !x.me);
  const box = $('presence');
  if (!others.length) { box.replaceChildren(); box.hidden = true; return; }
  const replying = others.some((x) => x.state === 'replying');
  box.hidden = false;
  box.className = `presence ${replying ? 'replying' : 'viewing'}`;
  fill(box, 
    h('span', { class: 'icon', 'aria-hidden': 'true' }, replying ? '✍' : '◉'),
    h('div', {},
      others.map((x) => h('p', { 'data-presence': x.state, text: t(x.state === 'replying' ? 'presence_replying' : 'presence_viewing', { name: x.name }) })),
      replying ? h('p', { class: 'small', text: t('presence_hint') }) : null));
}

// ----------------------------------------------------------------

start().catch((e) => {
  $('error').textContent = String(e?.message ?? e);
});
