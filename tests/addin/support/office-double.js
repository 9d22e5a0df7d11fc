// An Office.js test double for the Outlook task pane in a real browser (Outlook itself
// cannot run here). Tests serve it in place of
// https://appsforoffice.microsoft.com/lib/1/hosted/office.js (page.route), so the pane runs
// exactly the code it runs in Outlook. It implements only the calls PecDesk makes, with
// Office's shapes (AsyncResult {status, value, error}) and answers them from state the test
// sets through `window.__officeDouble`:
//
//   __officeDouble.setItem({ eml: '<base64>', internetMessageId, subject, conversationId })
//   __officeDouble.setItem(null)                       // no item open
//   __officeDouble.compose({ conversationId, subject })  // a compose item (send-time checks)
//   __officeDouble.replies                              // what displayReplyFormAsync got
//   __officeDouble.dialogs                              // URLs given to displayDialogAsync
//                                                       // (a dialog window the user closes fires
//                                                       //  DialogEventReceived {error: 12006})
//   await __officeDouble.send()                         // fires OnMessageSend: {allowEvent, errorMessage}
//   __officeDouble.naa.enable({ interactionRequired })  // Nested App Authentication (below)
//   __officeDouble.naa.requests                         // what MSAL asked the bridge: [{method, scope}]
//
// Nested App Authentication: once enabled, `isSetSupported('NestedAppAuth', '1.1')` is true and
// `window.nestedAppAuthBridge` speaks MSAL.js's bridge protocol (msal-browser 5.30.0
// BridgeProxy: JSON strings through postMessage / the "message" listener; GetInitContext,
// GetToken (silent), GetTokenPopup (interactive)). The tokens come from Outlook's broker,
// which the test provides as `window.__naaBroker(method, tokenParams)` (support/naa.mjs: the
// real OpenID provider of tests/oidc). With `interactionRequired`, GetToken answers
// USER_INTERACTION_REQUIRED until a GetTokenPopup succeeded (the user consented in Outlook's
// popup).
//
// Its state survives reloads of the same page only through sessionStorage (set by the test).
(function () {
  'use strict';
  const ok = (value) => ({ status: 'succeeded', value, error: null });
  const failed = (code, message) => ({ status: 'failed', value: undefined, error: { code, message } });
  const later = (fn) => setTimeout(fn, 0);

  const handlers = {};          // Office.EventType → [handler]
  const actions = {};           // Office.actions.associate
  const roaming = {};
  const state = { item: null, replies: [], dialogs: [], sends: [] };
  const naa = { enabled: false, interactionRequired: false, requests: [], listeners: [] };

  // Outlook's end of MSAL's nested app auth bridge.
  const bridge = {
    addEventListener(type, listener) { if (type === 'message') naa.listeners.push(listener); },
    removeEventListener(type, listener) { naa.listeners = naa.listeners.filter((l) => l !== listener); },
    postMessage(raw) {
      const req = JSON.parse(raw);
      const scope = req.tokenParams?.scope ?? null;
      naa.requests.push({ method: req.method, scope, clientId: req.tokenParams?.clientId ?? null });
      const answer = (body) => {
        const data = JSON.stringify({ messageType: 'NestedAppAuthResponse', requestId: req.requestId, ...body });
        for (const l of naa.listeners) later(() => l(data));
      };
      const fail = (status, code, description) => answer({ success: false, error: { status, code, description } });
      const fromBroker = async () => {
        if (typeof window.__naaBroker !== 'function') return fail('NESTED_APP_AUTH_UNAVAILABLE', 'no_broker', 'no broker');
        const out = await window.__naaBroker(req.method, req.tokenParams);
        if (out.error) return fail(out.error.status, out.error.code, out.error.description);
        return answer({ success: true, token: out.token, account: out.account });
      };
      switch (req.method) {
        case 'GetInitContext':
          return answer({
            success: true,
            initContext: { sdkName: 'office-double', sdkVersion: '1.0', capabilities: { queryAccount: false }, accountContext: null },
          });
        case 'GetToken':
          if (naa.interactionRequired) {
            return fail('USER_INTERACTION_REQUIRED', 'interaction_required', 'AADSTS65001: consent required');
          }
          return fromBroker();
        case 'GetTokenPopup':
          // Outlook's popup: the user signs in and consents; silent works from now on.
          naa.interactionRequired = false;
          return fromBroker();
        default:
          return fail('NESTED_APP_AUTH_UNAVAILABLE', 'unsupported_method', String(req.method));
      }
    },
  };

  function readItem(spec) {
    if (!spec) return null;
    return {
      itemType: 'message',
      itemId: spec.itemId ?? 'AAMk-double-' + (spec.internetMessageId ?? 'x'),
      internetMessageId: spec.internetMessageId ?? null,
      conversationId: spec.conversationId ?? 'conv-' + (spec.internetMessageId ?? 'x'),
      subject: spec.subject ?? '',
      // Mailbox 1.14: the whole item as a base64 EML.
      getAsFileAsync(options, callback) {
        const cb = typeof options === 'function' ? options : callback;
        later(() => cb(spec.eml ? ok(spec.eml) : failed(9041, 'item not available')));
      },
      displayReplyFormAsync(form, options, callback) {
        const cb = typeof options === 'function' ? options : callback;
        state.replies.push({ conversationId: this.conversationId, form: typeof form === 'string' ? { htmlBody: form } : form });
        if (cb) later(() => cb(ok(undefined)));
      },
      displayReplyAllFormAsync(form, options, callback) {
        this.displayReplyFormAsync(form, options, callback);
      },
    };
  }

  function composeItem(spec) {
    const body = { text: spec.body ?? '' };
    return {
      itemType: 'message',
      conversationId: spec.conversationId ?? null,
      subject: {
        getAsync(o, cb) { const c = typeof o === 'function' ? o : cb; later(() => c(ok(spec.subject ?? ''))); },
      },
      body: {
        getAsync(type, o, cb) { const c = typeof o === 'function' ? o : cb; later(() => c(ok(body.text))); },
      },
      getComposeTypeAsync(o, cb) {
        const c = typeof o === 'function' ? o : cb;
        later(() => c(ok({ composeType: spec.composeType ?? 'reply', coercionType: 'html' })));
      },
      internetHeaders: {
        getAsync(names, o, cb) {
          const c = typeof o === 'function' ? o : cb;
          const h = spec.headers ?? {};
          const out = {};
          for (const n of names) if (h[n] !== undefined) out[n] = h[n];
          later(() => c(ok(out)));
        },
      },
    };
  }

  const mailbox = {
    item: null,
    userProfile: { emailAddress: 'utente@m365.example', displayName: 'Utente M365' },
    addHandlerAsync(type, handler, options, callback) {
      const cb = typeof options === 'function' ? options : callback;
      (handlers[type] ??= []).push(handler);
      if (cb) later(() => cb(ok(undefined)));
    },
    removeHandlerAsync(type, options, callback) {
      const cb = typeof options === 'function' ? options : callback;
      delete handlers[type];
      if (cb) later(() => cb(ok(undefined)));
    },
  };

  const Office = {
    HostType: { Outlook: 'Outlook' },
    PlatformType: { OfficeOnline: 'OfficeOnline', PC: 'PC' },
    AsyncResultStatus: { Succeeded: 'succeeded', Failed: 'failed' },
    EventType: { ItemChanged: 'olkItemSelectedChanged', DialogMessageReceived: 'dialogMessageReceived', DialogEventReceived: 'dialogEventReceived' },
    CoercionType: { Html: 'html', Text: 'text' },
    MailboxEnums: { ItemType: { Message: 'message' } },
    context: {
      displayLanguage: 'it-IT',
      mailbox,
      roamingSettings: {
        get: (k) => roaming[k],
        set: (k, v) => { roaming[k] = v; },
        remove: (k) => { delete roaming[k]; },
        saveAsync: (cb) => { if (cb) later(() => cb(ok(undefined))); },
      },
      requirements: {
        isSetSupported(name, version) {
          if (name === 'Mailbox') return Number(version ?? '1.0') <= 1.14;
          if (name === 'DialogApi') return Number(version ?? '1.0') <= 1.2;
          if (name === 'NestedAppAuth') return naa.enabled && Number(version ?? '1.0') <= 1.1;
          return false;
        },
      },
      ui: {
        displayDialogAsync(url, options, callback) {
          const cb = typeof options === 'function' ? options : callback;
          const dialogHandlers = {};
          const win = window.open(url, 'pecdesk-office-dialog', 'width=480,height=640');
          // Office: 12009 when the user declined (here: the browser blocked) the dialog.
          if (!win) return later(() => cb(failed(12009, 'The user chose to ignore the dialog box.')));
          let closedByAddin = false;
          const dialog = {
            url,
            addEventHandler(type, handler) { dialogHandlers[type] = handler; },
            close() { closedByAddin = true; try { win.close(); } catch { /* gone */ } },
            messageChild() {},
          };
          state.dialogs.push(url);
          // Office: DialogEventReceived with error 12006 when the user closes the dialog
          // (not when the add-in closes it).
          const watch = setInterval(() => {
            if (!win.closed) return;
            clearInterval(watch);
            const h = dialogHandlers[Office.EventType.DialogEventReceived];
            if (!closedByAddin && h) h({ error: 12006 });
          }, 100);
          // The dialog page calls Office.context.ui.messageParent(message) in its own double.
          window.addEventListener('message', (e) => {
            if (e.data && e.data.__officeDialogMessage !== undefined && dialogHandlers[Office.EventType.DialogMessageReceived]) {
              dialogHandlers[Office.EventType.DialogMessageReceived]({ message: e.data.__officeDialogMessage, origin: e.origin });
            }
          });
          later(() => cb(ok(dialog)));
        },
        messageParent(message) {
          if (window.opener) window.opener.postMessage({ __officeDialogMessage: message }, '*');
        },
      },
    },
    actions: { associate(name, fn) { actions[name] = fn; } },
    onReady(callback) {
      const info = { host: 'Outlook', platform: 'OfficeOnline' };
      if (callback) later(() => callback(info));
      return Promise.resolve(info);
    },
    initialize: undefined,
  };

  window.Office = Office;
  window.OfficeRuntime = {
    storage: {
      getItem: async (k) => localStorage.getItem('officeRuntime.' + k),
      setItem: async (k, v) => localStorage.setItem('officeRuntime.' + k, v),
      removeItem: async (k) => localStorage.removeItem('officeRuntime.' + k),
    },
  };

  window.__officeDouble = {
    get replies() { return state.replies; },
    get dialogs() { return state.dialogs; },
    roaming,
    naa: {
      enable({ interactionRequired = false } = {}) {
        naa.enabled = true;
        naa.interactionRequired = interactionRequired;
        window.nestedAppAuthBridge = bridge;
      },
      get requests() { return naa.requests; },
    },
    setItem(spec) {
      mailbox.item = readItem(spec);
      for (const h of handlers[Office.EventType.ItemChanged] ?? []) later(() => h({ type: Office.EventType.ItemChanged }));
    },
    compose(spec) { mailbox.item = composeItem(spec); },
    // Fires the event-based OnMessageSend handler the function file associated.
    send(name = 'onMessageSendHandler') {
      return new Promise((resolve, reject) => {
        const fn = actions[name];
        if (!fn) return reject(new Error(`no handler associated as ${name}`));
        fn({ type: 'OnMessageSend', completed: (options) => resolve(options ?? { allowEvent: true }) });
      });
    },
  };
  // A test may preload the item before the pane's scripts run.
  try {
    const preset = sessionStorage.getItem('__officeDouble.item');
    if (preset) mailbox.item = readItem(JSON.parse(preset));
  } catch { /* no storage */ }
})();
