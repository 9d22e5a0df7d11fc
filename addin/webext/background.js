// PecDesk for Thunderbird: the MailExtension's background (event page).
//
// - A context menu on selected messages: "Crea un'attività per ogni messaggio" (one activity
//   per message on the companion: found by Message-ID, or imported when the companion does
//   not know it and the user may import into the mailbox of the message's account).
// - `compose.onBeforeSend`: a reply to an activity whose draft is not approved is refused
//   (`{cancel: true}`) with a notification saying why. The reply is recognised by the compose
//   tab the pane opened (`pecdesk.reply`), by its `X-PecDesk-Activity` header, or by the
//   message it answers being linked to an activity with the approval flow.
// - Sign-in: `identity.launchWebAuthFlow` on the companion's OIDC flow, or the demo login when
//   `config.json` says `dev_login`. Tokens live in `storage.local` (mirrored in the
//   extension origin's localStorage `pecdesk.tokens`, which the pane reads).
//
// Logs carry counts and opaque ids only, never addresses, subjects or message contents.
'use strict';

const MENU_ID = 'pecdesk-create-activities';
const ACTIVITY_HEADER = 'X-PecDesk-Activity';
const TOKENS_KEY = 'pecdesk.tokens';
/** Activity statuses in which a reply may still be written (not done, not cancelled). */
const ACTIVE = 'open,in_progress,awaiting_approval,approved,changes_requested';

const english = () => (browser.i18n.getUILanguage() || '').toLowerCase().startsWith('en');
/** Italian first, English when Thunderbird speaks English. */
const t = (it, en) => (english() ? en : it);

/** One line on the console (Thunderbird prints it on stdout with the test's prefs). */
function log(...args) {
  console.log(`[pecdesk] ${args.join(' ')}`);
}

// --- configuration and tokens ---------------------------------------------------------------

let configPromise = null;
/** `config.json` written by the companion into the XPI: `{companion, dev_login, lang}`. */
function config() {
  configPromise ??= fetch(browser.runtime.getURL('config.json')).then((r) => {
    if (!r.ok) throw new Error('config.json mancante: scarica di nuovo l\'estensione dal companion');
    return r.json();
  });
  return configPromise;
}

function readMirror() {
  try {
    return JSON.parse(globalThis.localStorage?.getItem(TOKENS_KEY) ?? 'null');
  } catch {
    return null;
  }
}

/** The tokens: storage.local, unless the pane signed in (or refreshed) since. */
async function tokens() {
  const { tokens: stored } = await browser.storage.local.get('tokens');
  const mirror = readMirror();
  if (mirror?.access_token && mirror.access_token !== stored?.access_token) {
    await browser.storage.local.set({ tokens: mirror });
    return mirror;
  }
  return stored ?? null;
}

async function saveTokens(value) {
  const { companion } = await config();
  const t2 = value ? { ...value, companion } : null;
  if (t2) await browser.storage.local.set({ tokens: t2 });
  else await browser.storage.local.remove('tokens');
  try {
    if (t2) globalThis.localStorage?.setItem(TOKENS_KEY, JSON.stringify(t2));
    else globalThis.localStorage?.removeItem(TOKENS_KEY);
  } catch { /* no localStorage: storage.local is enough */ }
  return t2;
}

class CompanionError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function refresh(current) {
  const { companion } = await config();
  const r = await fetch(`${companion}/api/v1/auth/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: current.refresh_token }),
  });
  if (!r.ok) {
    await saveTokens(null);
    return null;
  }
  return saveTokens(await r.json());
}

/** One companion call with the bearer token (refreshed once on 401). */
async function api(method, path, { json, bytes, contentType } = {}) {
  const { companion } = await config();
  let tk = await tokens();
  if (!tk?.access_token) {
    throw new CompanionError(401, t('Accedi a PecDesk dal pannello del messaggio.',
      'Sign in to PecDesk from the message pane.'));
  }
  const call = (token) => {
    const init = { method, headers: { authorization: `Bearer ${token}` } };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers['content-type'] = 'application/json';
    } else if (bytes !== undefined) {
      init.body = bytes;
      init.headers['content-type'] = contentType ?? 'application/octet-stream';
    }
    return fetch(`${companion}${path}`, init);
  };
  let r = await call(tk.access_token);
  if (r.status === 401 && tk.refresh_token) {
    tk = await refresh(tk);
    if (tk) r = await call(tk.access_token);
  }
  const text = await r.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!r.ok) {
    const message = body?.error?.message ?? body?.message ?? `HTTP ${r.status}`;
    throw new CompanionError(r.status, message);
  }
  return body;
}

// --- sign-in --------------------------------------------------------------------------------

/**
 * Signs in. `{devEmail}`: the demo login (only when the companion packed `dev_login: true`).
 * Otherwise the organisation's IdP through the companion's OIDC flow in
 * `identity.launchWebAuthFlow`. Resolves to the companion's TokenResponse.
 */
async function signIn({ org, loginHint, devEmail } = {}) {
  const { companion, dev_login: devLogin } = await config();
  if (devEmail) {
    if (!devLogin) throw new Error(t('Accesso demo non attivo su questo companion.', 'Demo sign-in is off on this companion.'));
    const r = await fetch(`${companion}/api/v1/auth/dev-login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: devEmail }),
    });
    if (!r.ok) throw new Error(t(`Accesso demo rifiutato (${r.status}).`, `Demo sign-in refused (${r.status}).`));
    const { token } = await r.json();
    log('signed in (demo)');
    return saveTokens({ access_token: token, token_type: 'Bearer', expires_in: 3600 });
  }
  if (!org) throw new Error(t('Indica la tua organizzazione.', 'Enter your organisation.'));
  const redirect = browser.identity.getRedirectURL();
  const q = new URLSearchParams({ org, client: 'thunderbird', redirect_uri: redirect });
  if (loginHint) q.set('login_hint', loginHint);
  const back = await browser.identity.launchWebAuthFlow({
    url: `${companion}/api/v1/auth/login?${q}`,
    interactive: true,
  });
  const got = new URL(back).searchParams;
  if (got.get('error')) {
    throw new Error(t(`Il fornitore di identità ha rifiutato l'accesso (${got.get('error')}).`,
      `The identity provider refused the sign-in (${got.get('error')}).`));
  }
  const cb = new URLSearchParams();
  for (const k of ['code', 'state', 'iss']) if (got.get(k)) cb.set(k, got.get(k));
  const r = await fetch(`${companion}/api/v1/auth/callback?${cb}`);
  if (!r.ok) {
    log(`sign-in refused by the companion (${r.status})`);
    throw new Error(t(`Il companion ha rifiutato l'accesso (${r.status}): riprova o chiedi all'amministratore.`,
      `The companion refused the sign-in (${r.status}): retry or ask your administrator.`));
  }
  log('signed in (oidc)');
  return saveTokens(await r.json());
}

// --- notifications --------------------------------------------------------------------------

async function notify(title, message) {
  try {
    await browser.notifications.create({
      type: 'basic',
      title,
      message,
      iconUrl: browser.runtime.getURL('icon.svg'),
    });
  } catch (e) {
    log('notification failed:', e.message);
  }
}

// --- "Crea un'attività per ogni messaggio" ---------------------------------------------------

async function* everyMessage(list) {
  let page = list;
  while (page) {
    for (const m of page.messages ?? []) yield m;
    page = page.id ? await browser.messages.continueList(page.id) : null;
  }
}

/** The companion's mailbox for the message's Thunderbird account (by identity address). */
async function mailboxOfAccount(accountId, me) {
  if (!accountId) return null;
  const account = await browser.accounts.get(accountId);
  const addresses = new Set((account?.identities ?? []).map((i) => (i.email ?? '').toLowerCase()));
  return (me.grants ?? []).find((g) => addresses.has((g.address ?? '').toLowerCase())) ?? null;
}

/** The companion's message for a Thunderbird message: looked up, else imported. */
async function companionMessage(m, me) {
  if (m.headerMessageId) {
    try {
      const found = await api('GET', `/api/v1/messages/lookup?message_id=${encodeURIComponent(m.headerMessageId)}`);
      const exact = found.find((x) => x.message_id === m.headerMessageId) ?? found[0];
      if (exact) return { message: exact, imported: false };
    } catch (e) {
      if (e.status !== 404) throw e;
    }
  }
  const mailbox = await mailboxOfAccount(m.folder?.accountId, me);
  if (!mailbox) {
    return { skipped: t('la casella di questo account non è su PecDesk', 'this account\'s mailbox is not on PecDesk') };
  }
  if (!(mailbox.policies ?? []).includes('MAIL_ACCOUNT_MANAGER')) {
    return { skipped: t('non puoi importare messaggi in questa casella', 'you may not import messages into this mailbox') };
  }
  const raw = await rawBytes(m.id);
  const message = await api('POST', `/api/v1/messages/import?mailbox=${encodeURIComponent(mailbox.id)}`,
    { bytes: raw, contentType: 'message/rfc822' });
  return { message, imported: true };
}

/** The raw message as bytes (MV3 gives a File; older versions a binary string). */
async function rawBytes(id) {
  let raw;
  try {
    raw = await browser.messages.getRaw(id, { data_format: 'File' });
  } catch {
    raw = await browser.messages.getRaw(id);
  }
  if (typeof raw === 'string') return Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
  return new Uint8Array(await raw.arrayBuffer());
}

/** One activity per message; answers `{activityIds, imported, skipped}`. */
async function createActivities(messages) {
  const me = await api('GET', '/api/v1/me');
  const byMailbox = new Map();
  const skipped = [];
  let imported = 0;
  for (const m of messages) {
    try {
      const got = await companionMessage(m, me);
      if (got.skipped) {
        skipped.push(got.skipped);
        continue;
      }
      if (got.imported) imported += 1;
      const ids = byMailbox.get(got.message.mailbox_id) ?? [];
      if (!ids.includes(got.message.id)) ids.push(got.message.id);
      byMailbox.set(got.message.mailbox_id, ids);
    } catch (e) {
      skipped.push(e.message);
    }
  }
  const activityIds = [];
  for (const [mailboxId, messageIds] of byMailbox) {
    for (let i = 0; i < messageIds.length; i += 500) {
      const r = await api('POST', '/api/v1/activities/bulk', {
        json: { mailbox_id: mailboxId, title: '', message_ids: messageIds.slice(i, i + 500) },
      });
      activityIds.push(...r.activity_ids);
    }
  }
  log(`activities created: ${activityIds.length} (imported ${imported}, skipped ${skipped.length})`);
  return { activityIds, imported, skipped };
}

async function onMenuClicked(info) {
  if (info.menuItemId !== MENU_ID) return;
  const messages = [];
  for await (const m of everyMessage(info.selectedMessages)) messages.push(m);
  try {
    const r = await createActivities(messages);
    const what = t(`${r.activityIds.length} attività create`, `${r.activityIds.length} activities created`);
    const why = r.skipped.length
      ? t(`; ${r.skipped.length} messaggi saltati: ${[...new Set(r.skipped)].join('; ')}`,
        `; ${r.skipped.length} messages skipped: ${[...new Set(r.skipped)].join('; ')}`)
      : '';
    await notify('PecDesk', what + why);
  } catch (e) {
    log('create activities failed:', e.status ?? '', e.message);
    await notify('PecDesk', t(`Attività non create: ${e.message}`, `No activity created: ${e.message}`));
  }
}

async function setUpMenu() {
  await browser.menus.removeAll();
  browser.menus.create({
    id: MENU_ID,
    title: t('Crea un\'attività per ogni messaggio', 'Create one activity per message'),
    contexts: ['message_list'],
  });
}

// --- replies and the send-time check -------------------------------------------------------

/** compose tab id → activity id, for the replies the pane opened (kept across wake-ups). */
async function composeActivities() {
  const { composeActivities: map } = await browser.storage.local.get('composeActivities');
  return map ?? {};
}

async function rememberCompose(tabId, activityId) {
  const map = await composeActivities();
  map[String(tabId)] = activityId;
  await browser.storage.local.set({ composeActivities: map });
}

async function forgetCompose(tabId) {
  const map = await composeActivities();
  if (String(tabId) in map) {
    delete map[String(tabId)];
    await browser.storage.local.set({ composeActivities: map });
  }
}

/** Opens the reply form on `messageId` filled with the approved draft (the pane asks). */
async function openReply({ messageId, to, cc, subject, body, activityId }) {
  const details = {};
  if (to?.length) details.to = to;
  if (cc?.length) details.cc = cc;
  if (subject) details.subject = subject;
  if (body !== undefined) {
    details.plainTextBody = body;
    details.isPlainText = true;
  }
  if (activityId) details.customHeaders = [{ name: ACTIVITY_HEADER, value: activityId }];
  const tab = await browser.compose.beginReply(messageId, 'replyToSender', details);
  if (activityId) await rememberCompose(tab.id, activityId);
  log(`reply opened for activity ${activityId ?? '-'} in compose tab ${tab.id}`);
  return { tabId: tab.id };
}

/** The activity id a compose tab replies for, or null. */
async function activityOfCompose(tab, details) {
  const mapped = (await composeActivities())[String(tab.id)];
  if (mapped) return mapped;
  const header = (details.customHeaders ?? []).find((h) => h.name.toLowerCase() === ACTIVITY_HEADER.toLowerCase());
  if (header?.value) return header.value;
  // A reply the user opened by hand: the message it answers, linked to an activity?
  if (!details.relatedMessageId || !['reply', 'redirect'].includes(details.type)) return null;
  const tk = await tokens();
  if (!tk?.access_token) return null;
  const related = await browser.messages.get(details.relatedMessageId);
  if (!related?.headerMessageId) return null;
  let found;
  try {
    found = await api('GET', `/api/v1/messages/lookup?message_id=${encodeURIComponent(related.headerMessageId)}`);
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
  // The activities linked to that message (the companion's `?message=` filter, with the
  // list's visibility); one with the approval flow decides.
  for (const msg of found) {
    const q = new URLSearchParams({ message: msg.id, status: ACTIVE, limit: '200' });
    const list = await api('GET', `/api/v1/activities?${q}`);
    const linked = (list.items ?? []).find((a) => a.flow === 'approval');
    if (linked) return linked.id;
  }
  return null;
}

/** Whether the activity's reply may leave now, and why not. The companion's facts:
 * the approval flow sends only the draft version the approver approved. */
function sendVerdict(a) {
  if (a.flow !== 'approval') return { ok: true };
  if (!a.draft) {
    return { ok: false, why: t('l\'attività richiede l\'approvazione ma non ha ancora una bozza: scrivila nel pannello PecDesk e chiedi l\'approvazione',
      'the activity needs approval but has no draft yet: write it in the PecDesk pane and ask for approval') };
  }
  if (a.approved_draft_version !== a.draft.version) {
    const who = a.approver_name ? ` (${a.approver_name})` : '';
    return { ok: false, why: t(`la bozza non è approvata: chiedi l'approvazione all'approvatore${who} e invia dopo la sua decisione`,
      `the draft is not approved: ask the approver${who} and send after their decision`) };
  }
  return { ok: true };
}

async function onBeforeSend(tab, details) {
  let activityId;
  try {
    activityId = await activityOfCompose(tab, details);
  } catch (e) {
    log(`send check: companion unreachable (${e.status ?? e.message})`);
    return {};
  }
  if (!activityId) return {};
  let activity;
  try {
    activity = await api('GET', `/api/v1/activities/${encodeURIComponent(activityId)}`);
  } catch (e) {
    const why = e.status === 401
      ? t('accedi a PecDesk per verificare l\'approvazione, poi invia di nuovo', 'sign in to PecDesk to check the approval, then send again')
      : t(`il companion PecDesk non risponde (${e.status ?? 'rete'}): riprova tra poco`, `the PecDesk companion does not answer (${e.status ?? 'network'}): retry shortly`);
    log(`send refused for activity ${activityId}: approval not checked (${e.status ?? 'network'})`);
    await notify(t('Invio bloccato', 'Sending blocked'), why);
    return { cancel: true };
  }
  const verdict = sendVerdict(activity);
  if (verdict.ok) {
    log(`send allowed for activity ${activityId}`);
    return {};
  }
  log(`send refused for activity ${activityId}: draft not approved`);
  await notify(t('Invio bloccato da PecDesk', 'Sending blocked by PecDesk'),
    t(`Risposta non inviata: ${verdict.why}.`, `Reply not sent: ${verdict.why}.`));
  return { cancel: true };
}

// --- messages from the pane ----------------------------------------------------------------

async function onMessage(msg) {
  switch (msg?.type) {
    case 'pecdesk.signIn':
      return signIn(msg);
    case 'pecdesk.signOut':
      await saveTokens(null);
      return { ok: true };
    case 'pecdesk.tokens':
      return tokens();
    case 'pecdesk.reply':
      return openReply(msg);
    case 'pecdesk.createActivities': {
      const messages = [];
      for (const id of msg.messageIds ?? []) messages.push(await browser.messages.get(id));
      return createActivities(messages);
    }
    default:
      return undefined;
  }
}

// Listeners at the top level: an event page wakes up for them.
browser.menus.onClicked.addListener(onMenuClicked);
browser.compose.onBeforeSend.addListener(onBeforeSend);
browser.tabs.onRemoved.addListener((tabId) => forgetCompose(tabId));
browser.runtime.onMessage.addListener((msg) => {
  if (typeof msg?.type !== 'string' || !msg.type.startsWith('pecdesk.')) return undefined;
  return onMessage(msg).then(
    (value) => ({ ok: true, value }),
    (e) => ({ ok: false, error: e.message, status: e.status ?? null }),
  );
});
browser.runtime.onInstalled.addListener(() => setUpMenu());
browser.runtime.onStartup.addListener(() => setUpMenu());

config().then(
  (c) => log(`started ${browser.runtime.getManifest().version} (companion ${c.companion})`),
  (e) => log('started without config:', e.message),
);
