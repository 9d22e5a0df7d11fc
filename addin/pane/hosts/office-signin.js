// Sign-in from the Outlook task pane (used by hosts/office.js as the host's `signIn`).
//
// Two ways, chosen per organisation:
// - Entra ID with Nested App Authentication (Outlook supports requirement set
//   NestedAppAuth 1.1, and the organisation's Entra app is given as `entra`): MSAL.js
//   (addin/outlook/vendor, loaded only then) gets an Entra access token for the companion's
//   API silently, else in a popup; the companion accepts it as a bearer token
//   (companion/src/auth/idp_token.rs). There is no companion refresh token: sign in again
//   (silently) when it expires.
// - Any OpenID provider: the Office dialog API opens signin-start.html on the companion,
//   which runs the companion's sign-in for client `outlook`; signin-done.html completes it
//   and hands back the companion's TokenResponse with messageParent.
//
// Either way the tokens are kept as `pecdesk.tokens` = {access_token, refresh_token,
// companion} in localStorage and OfficeRuntime.storage, where the Smart Alerts handler
// (addin/outlook/launchevent.js) reads them.
/* global Office, OfficeRuntime */

export const TOKENS_KEY = 'pecdesk.tokens';

/** Office's error codes of the dialog API that mean "the user closed it". */
const DIALOG_CLOSED = 12006;

const TEXT = {
  it: {
    closed: 'Accesso annullato: la finestra è stata chiusa. Riprova quando vuoi.',
    blocked: 'Outlook non ha aperto la finestra di accesso: consenti le finestre di PecDesk e riprova.',
    failed: 'Accesso non riuscito',
    noOrg: 'Indica la tua organizzazione per accedere.',
    refused: 'PecDesk ha rifiutato il token di Microsoft Entra ID: chiedi all\'amministratore di controllare l\'app Entra e il pubblico (audience) configurati per l\'organizzazione',
  },
  en: {
    closed: 'Sign-in cancelled: the window was closed. Try again whenever you like.',
    blocked: 'Outlook did not open the sign-in window: allow PecDesk windows and try again.',
    failed: 'Sign-in failed',
    noOrg: 'Give your organisation to sign in.',
    refused: 'PecDesk refused the Microsoft Entra ID token: ask your administrator to check the Entra app and the audience configured for the organisation',
  },
};

function lang() {
  const l = (typeof Office !== 'undefined' && Office.context && Office.context.displayLanguage) || 'it';
  return /^en/i.test(l) ? 'en' : 'it';
}

/** An Error with a `code` the pane may branch on. */
function signInError(code, message) {
  const e = new Error(message);
  e.code = code;
  return e;
}

/** Stores the tokens where the pane and the Smart Alerts handler read them. */
export async function saveTokens(companion, tokens) {
  const raw = JSON.stringify({
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token ?? null,
    companion,
  });
  try { localStorage.setItem(TOKENS_KEY, raw); } catch { /* storage off */ }
  if (typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage) {
    try { await OfficeRuntime.storage.setItem(TOKENS_KEY, raw); } catch { /* not available */ }
  }
}

/** The stored tokens, or null. */
export async function loadTokens() {
  let raw = null;
  if (typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage) {
    try { raw = await OfficeRuntime.storage.getItem(TOKENS_KEY); } catch { raw = null; }
  }
  if (!raw) {
    try { raw = localStorage.getItem(TOKENS_KEY); } catch { raw = null; }
  }
  try { return raw ? JSON.parse(raw) : null; } catch { return null; }
}

/** Forgets the tokens (sign-out). */
export async function clearTokens() {
  try { localStorage.removeItem(TOKENS_KEY); } catch { /* storage off */ }
  if (typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage) {
    try { await OfficeRuntime.storage.removeItem(TOKENS_KEY); } catch { /* not available */ }
  }
}

/**
 * Signs in; resolves to the companion's TokenResponse ({access_token, refresh_token,
 * expires_in, token_type}) and stores it. `entra`: {client_id, authority, scopes} of the
 * organisation's Entra app, when it uses Entra ID (else the companion's `/addin/config.json`
 * may name one).
 */
export async function signIn({ companion, org, loginHint = null, entra = null } = {}) {
  const base = String(companion ?? location.origin).replace(/\/+$/, '');
  if (!entra && naaSupported()) entra = await entraOf(base, org);
  const tokens = entra && naaSupported()
    ? await signInWithEntra(base, entra, loginHint)
    : await signInWithDialog(base, org, loginHint);
  await saveTokens(base, tokens);
  return tokens;
}

/**
 * The organisation's Entra app for Nested App Authentication: the companion's
 * `/addin/config.json` when it names one, else what `GET /api/v1/auth/options?org=` answers
 * for an organisation whose IdP is Entra ID (`entra`: client id, authority, scopes). Null
 * when neither does: the Office dialog signs in.
 */
async function entraOf(base, org) {
  const fetchJson = async (url) => {
    try {
      const r = await fetch(url, { credentials: 'omit' });
      return r.ok ? await r.json() : null;
    } catch {
      return null;
    }
  };
  const config = await fetchJson(`${base}/addin/config.json`);
  if (config?.entra?.client_id) return config.entra;
  if (!org) return null;
  const options = await fetchJson(`${base}/api/v1/auth/options?org=${encodeURIComponent(org)}`);
  return options?.entra?.client_id ? options.entra : null;
}

function naaSupported() {
  try {
    return Boolean(Office.context.requirements.isSetSupported('NestedAppAuth', '1.1'));
  } catch {
    return false;
  }
}

/** The Office dialog and the companion's OpenID Connect flow. */
function signInWithDialog(base, org, loginHint) {
  const t = TEXT[lang()];
  if (!org) return Promise.reject(signInError('no_org', t.noOrg));
  const start = new URL(`${base}/addin/outlook/signin-start.html`);
  start.searchParams.set('org', org);
  if (loginHint) start.searchParams.set('login_hint', loginHint);
  return new Promise((resolve, reject) => {
    Office.context.ui.displayDialogAsync(start.href, { height: 60, width: 30, promptBeforeOpen: false }, (opened) => {
      if (opened.status !== Office.AsyncResultStatus.Succeeded) {
        reject(signInError('dialog_blocked', `${t.blocked} (${opened.error?.code ?? '?'})`));
        return;
      }
      const dialog = opened.value;
      let done = false;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
        if (done) return;
        done = true;
        try { dialog.close(); } catch { /* already closed */ }
        let message;
        try { message = JSON.parse(arg.message); } catch { message = null; }
        if (message && message.ok && message.tokens && message.tokens.access_token) resolve(message.tokens);
        else reject(signInError(message?.error ?? 'failed', message?.message ?? t.failed));
      });
      dialog.addEventHandler(Office.EventType.DialogEventReceived, (arg) => {
        if (done) return;
        done = true;
        reject(arg.error === DIALOG_CLOSED
          ? signInError('cancelled', t.closed)
          : signInError('dialog_error', `${t.failed} (${arg.error})`));
      });
    });
  });
}

/** Loads the vendored MSAL.js once (a UMD script defining globalThis.msal). */
let msalLoading = null;
function loadMsal() {
  if (globalThis.msal) return Promise.resolve(globalThis.msal);
  msalLoading ??= new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = new URL('../outlook/vendor/msal-browser.min.js', import.meta.url).href;
    s.onload = () => resolve(globalThis.msal);
    s.onerror = () => reject(signInError('msal_unavailable', 'MSAL.js non caricato / not loaded'));
    document.head.append(s);
  });
  return msalLoading;
}

/** Nested App Authentication: Entra access token for the companion's API. */
async function signInWithEntra(base, entra, loginHint) {
  const msal = await loadMsal();
  const pca = await msal.createNestablePublicClientApplication({
    auth: { clientId: entra.client_id, authority: entra.authority ?? 'https://login.microsoftonline.com/common' },
  });
  const request = { scopes: entra.scopes ?? [], ...(loginHint ? { loginHint } : {}) };
  let result;
  try {
    result = await pca.acquireTokenSilent(request);
  } catch {
    // Interaction required (consent, MFA, no cached account): Outlook shows MSAL's popup.
    result = await pca.acquireTokenPopup(request);
  }
  await acceptedBy(base, result.accessToken);
  const expires = result.expiresOn ? Math.max(0, Math.round((result.expiresOn.getTime() - Date.now()) / 1000)) : 0;
  return { access_token: result.accessToken, token_type: 'Bearer', expires_in: expires, refresh_token: null };
}

/**
 * Asks the companion whether it accepts the Entra token (issuer, audience, domain) before it
 * is kept: a refusal is said at sign-in, with the companion's reason, not later as an expired
 * session.
 */
async function acceptedBy(base, accessToken) {
  const t = TEXT[lang()];
  let r;
  try {
    r = await fetch(`${base}/api/v1/me`, { headers: { authorization: `Bearer ${accessToken}` }, credentials: 'omit' });
  } catch {
    throw signInError('companion_unreachable', `${t.failed}: PecDesk non risponde / PecDesk does not answer`);
  }
  if (r.ok) return;
  let why = '';
  try {
    const body = await r.json();
    why = body?.error?.message ?? body?.message ?? '';
  } catch { /* not JSON */ }
  throw signInError('refused', `${t.refused} (${r.status})${why ? `: ${why}` : ''}`);
}
