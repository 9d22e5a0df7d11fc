// Thunderbird host adapter (the pane inside the MailExtension's message display action).
// The contract is in addin/README.md. The pane runs as an extension page, so `messenger.*`
// is at hand; what must outlive the popup (the reply form, the sign-in window) is done by
// the background (addin/webext/background.js), reached with runtime messages.

const api = globalThis.messenger ?? globalThis.browser;

/** Asks the background; rejects with its error message. */
async function background(type, payload = {}) {
  const answer = await api.runtime.sendMessage({ type, ...payload });
  if (!answer) throw new Error('PecDesk: estensione non pronta, riapri il pannello / extension not ready, reopen the pane');
  if (!answer.ok) {
    const e = new Error(answer.error);
    e.status = answer.status;
    throw e;
  }
  return answer.value;
}

/** The active mail tab (the message display action belongs to it). */
async function activeTab() {
  const [tab] = await api.tabs.query({ active: true, currentWindow: true });
  if (tab) return tab;
  const [any] = await api.tabs.query({ active: true, lastFocusedWindow: true });
  return any ?? null;
}

/** The one message displayed in `tabId`, or null (none, or several). */
async function displayedMessage(tabId) {
  const md = api.messageDisplay;
  if (md.getDisplayedMessages) {
    const got = await md.getDisplayedMessages(tabId);
    const list = Array.isArray(got) ? got : got?.messages ?? [];
    return list.length === 1 ? list[0] : null;
  }
  return (await md.getDisplayedMessage(tabId)) ?? null;
}

/** The raw message as bytes (MV3: a File; older: a binary string). */
async function rawBytes(id) {
  let raw;
  try {
    raw = await api.messages.getRaw(id, { data_format: 'File' });
  } catch {
    raw = await api.messages.getRaw(id);
  }
  if (typeof raw === 'string') return Uint8Array.from(raw, (c) => c.charCodeAt(0) & 0xff);
  return new Uint8Array(await raw.arrayBuffer());
}

export async function createHost() {
  const ui = (api.i18n?.getUILanguage?.() ?? '').toLowerCase();
  let shown = null; // the Thunderbird message on screen (its header), for reply()
  const tab = await activeTab();

  return {
    name: 'thunderbird',
    lang: ui.startsWith('en') ? 'en' : 'it',

    async currentMessage() {
      const current = tab ? await displayedMessage(tab.id) : null;
      shown = current;
      if (!current) return null;
      return {
        raw: await rawBytes(current.id),
        messageId: current.headerMessageId ?? null,
        subject: current.subject ?? null,
      };
    },

    onMessageChanged(callback) {
      const md = api.messageDisplay;
      const event = md.onMessagesDisplayed ?? md.onMessageDisplayed;
      event?.addListener((t) => {
        if (!tab || t.id === tab.id) callback();
      });
    },

    async reply({ to, cc, subject, body, activityId }) {
      if (!shown) shown = tab ? await displayedMessage(tab.id) : null;
      if (!shown) throw new Error('Apri il messaggio a cui rispondere / open the message to reply to');
      // The background opens the form (the popup closes when it appears) and remembers the
      // compose tab → activity for compose.onBeforeSend.
      return background('pecdesk.reply', { messageId: shown.id, to, cc, subject, body, activityId });
    },

    async signIn({ org, loginHint } = {}) {
      return background('pecdesk.signIn', { org, loginHint });
    },

    /** Demo sign-in (only when the companion packed `dev_login: true`). */
    async devSignIn(email) {
      return background('pecdesk.signIn', { devEmail: email });
    },

    /** The tokens the background holds (shared with the pane through localStorage too). */
    async tokens() {
      return background('pecdesk.tokens');
    },
  };
}
