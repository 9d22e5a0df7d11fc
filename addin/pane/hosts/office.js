// Outlook (Office.js) adapter: see addin/README.md "The host contract".
// The pane runs on an Outlook item (a PEC copied or forwarded into the Microsoft 365 mailbox)
// or with no item at all; Outlook add-ins do not load on the IMAP PEC box itself.

const REPLIES_KEY = 'pecdesk.replies';

function call(fn) {
  return new Promise((resolve, reject) => {
    fn((r) => (r.status === 'succeeded' ? resolve(r.value) : reject(new Error(r.error?.message ?? 'Office error'))));
  });
}

function base64ToBytes(b64) {
  const bin = atob(String(b64).replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function textToHtml(text) {
  const esc = String(text ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return '<div>' + esc.replace(/\r?\n/g, '<br>') + '</div>';
}

export async function createHost() {
  const Office = globalThis.Office;
  if (!Office) throw new Error('office.js non caricato / office.js not loaded');
  await Office.onReady();
  const mailbox = Office.context.mailbox;
  const lang = String(Office.context.displayLanguage ?? 'it').toLowerCase().startsWith('en') ? 'en' : 'it';

  return {
    name: 'outlook',
    lang,
    async currentMessage() {
      const item = mailbox?.item;
      // No item, several selected, or a compose surface: nothing to show.
      if (!item || item.itemType !== 'message' || typeof item.getAsFileAsync !== 'function') return null;
      let raw = null;
      try {
        raw = base64ToBytes(await call((cb) => item.getAsFileAsync({}, cb)));
      } catch { /* Mailbox < 1.14 or the item is not available: identified by Message-ID only */ }
      return {
        raw,
        messageId: item.internetMessageId ?? null,
        subject: typeof item.subject === 'string' ? item.subject : null,
        conversationId: item.conversationId ?? null,
      };
    },
    onMessageChanged(callback) {
      mailbox?.addHandlerAsync?.(Office.EventType.ItemChanged, () => callback());
    },
    async reply({ body, activityId, attachments }) {
      const item = mailbox?.item;
      if (!item || typeof item.displayReplyFormAsync !== 'function') {
        throw new Error('reply_unavailable');
      }
      // The OnMessageSend handler (addin/outlook/launchevent.js) finds the activity of the
      // reply being sent through this map.
      const rs = Office.context.roamingSettings;
      let map = rs.get(REPLIES_KEY);
      if (typeof map === 'string') { try { map = JSON.parse(map); } catch { map = {}; } }
      map = map && typeof map === 'object' ? map : {};
      if (item.conversationId && activityId) map[item.conversationId] = activityId;
      rs.set(REPLIES_KEY, map);
      await call((cb) => rs.saveAsync(cb));
      await call((cb) => item.displayReplyFormAsync({ htmlBody: textToHtml(body), attachments: attachments ?? [] }, cb));
    },
    async signIn(options) {
      let module;
      try {
        module = await import('./office-signin.js');
      } catch {
        const e = new Error('signin_unavailable');
        e.code = 'signin_unavailable';
        throw e;
      }
      return module.signIn(options);
    },
  };
}
