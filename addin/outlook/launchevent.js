// PecDesk for Outlook, Smart Alerts (event-based activation, OnMessageSend).
//
// A reply to a PecDesk activity of the approval flow may leave only once its draft is
// approved: the approver approved the draft's current version (`approved_draft_version ==
// draft.version`). The activity of the message being sent is found from the
// `X-PecDesk-Activity` internet header, else from roamingSettings `pecdesk.replies`
// (conversationId → activityId, written by the task pane when it opens a reply form). A
// message of no activity is none of our business: it leaves.
//
// The companion decides, not this file: it answers GET /api/v1/activities/{id} with the
// caller's token (`pecdesk.tokens` = {access_token, refresh_token, companion}, the pane keeps
// it in OfficeRuntime.storage and localStorage). When it cannot be asked (no sign-in, no
// network, an error) the send is blocked with a message saying so; the manifest's SendMode
// SoftBlock lets the user send anyway in that case, and Outlook sends without asking when
// the add-in is unavailable.
//
// A plain script, not a module, with no DOM and no optional chaining: classic Outlook on
// Windows runs it in its JavaScript-only runtime.
/* global Office, OfficeRuntime */
(function () {
  'use strict';

  var HEADER = 'X-PecDesk-Activity';
  var REPLIES = 'pecdesk.replies';
  var TOKENS = 'pecdesk.tokens';
  var TIMEOUT_MS = 15000;
  // The compose button of the manifest: the alert's button opens the task pane.
  var PANE_COMMAND = 'pecdeskComposeOpenPane';

  var TEXT = {
    it: {
      notApproved: function (t) {
        return 'Questa risposta appartiene all\'attività «' + t + '», che richiede l\'approvazione, e la bozza non è ancora approvata. ' +
          'Chiedi l\'approvazione in PecDesk e invia la bozza approvata.';
      },
      signIn: 'Questa risposta appartiene a un\'attività di PecDesk: accedi a PecDesk (apri il riquadro PecDesk) per verificare che sia approvata, poi invia.',
      forbidden: 'Questa risposta appartiene a un\'attività di PecDesk che non puoi vedere: chiedi al responsabile di verificarne l\'approvazione prima di inviare.',
      unreachable: 'PecDesk non è raggiungibile, quindi non è possibile verificare che questa risposta sia approvata. Riprova tra poco; se invii comunque, l\'invio non sarà verificato.',
      openPane: 'Apri PecDesk',
    },
    en: {
      notApproved: function (t) {
        return 'This reply belongs to the activity "' + t + '", which needs approval, and its draft is not approved yet. ' +
          'Ask for approval in PecDesk and send the approved draft.';
      },
      signIn: 'This reply belongs to a PecDesk activity: sign in to PecDesk (open the PecDesk pane) to check that it is approved, then send.',
      forbidden: 'This reply belongs to a PecDesk activity you cannot see: ask its manager to check its approval before sending.',
      unreachable: 'PecDesk cannot be reached, so this reply cannot be checked for approval. Try again shortly; if you send anyway, the send is not checked.',
      openPane: 'Open PecDesk',
    },
  };

  function lang() {
    var l = (Office.context && Office.context.displayLanguage) || 'it';
    return /^en/i.test(l) ? 'en' : 'it';
  }

  function asyncCall(fn) {
    return new Promise(function (resolve) {
      try {
        fn(function (result) {
          resolve(result && result.status === 'succeeded' ? result.value : null);
        });
      } catch (e) {
        resolve(null);
      }
    });
  }

  /** The activity the item being sent replies for, or null. */
  function findActivity(item) {
    var fromHeader = item && item.internetHeaders && item.internetHeaders.getAsync
      ? asyncCall(function (cb) { item.internetHeaders.getAsync([HEADER], cb); })
      : Promise.resolve(null);
    return fromHeader.then(function (headers) {
      if (headers) {
        for (var k in headers) {
          if (k.toLowerCase() === HEADER.toLowerCase() && headers[k]) return String(headers[k]).trim();
        }
      }
      var conv = item && item.conversationId;
      if (!conv) return null;
      var map = Office.context.roamingSettings ? Office.context.roamingSettings.get(REPLIES) : null;
      if (typeof map === 'string') {
        try { map = JSON.parse(map); } catch (e) { map = null; }
      }
      return map && map[conv] ? String(map[conv]) : null;
    });
  }

  function readTokens() {
    var fromRuntime = typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage
      ? OfficeRuntime.storage.getItem(TOKENS).catch(function () { return null; })
      : Promise.resolve(null);
    return fromRuntime.then(function (raw) {
      if (!raw) {
        try { raw = typeof localStorage !== 'undefined' ? localStorage.getItem(TOKENS) : null; } catch (e) { raw = null; }
      }
      if (!raw) return null;
      try {
        var t = JSON.parse(raw);
        return t && t.access_token && t.companion ? t : null;
      } catch (e) {
        return null;
      }
    });
  }

  function saveTokens(tokens) {
    var raw = JSON.stringify(tokens);
    try { if (typeof localStorage !== 'undefined') localStorage.setItem(TOKENS, raw); } catch (e) { /* none here */ }
    if (typeof OfficeRuntime !== 'undefined' && OfficeRuntime.storage) {
      return OfficeRuntime.storage.setItem(TOKENS, raw).catch(function () {});
    }
    return Promise.resolve();
  }

  function request(url, init) {
    var controller = typeof AbortController !== 'undefined' ? new AbortController() : null;
    var timer = setTimeout(function () { if (controller) controller.abort(); }, TIMEOUT_MS);
    if (controller) init.signal = controller.signal;
    return fetch(url, init).then(
      function (r) { clearTimeout(timer); return r; },
      function (e) { clearTimeout(timer); throw e; }
    );
  }

  /** GET the activity; one refresh of the access token on 401. Resolves {status, body}. */
  function getActivity(tokens, id) {
    var base = String(tokens.companion).replace(/\/+$/, '');
    var url = base + '/api/v1/activities/' + encodeURIComponent(id);
    var get = function (token) {
      return request(url, { headers: { authorization: 'Bearer ' + token, accept: 'application/json' } });
    };
    return get(tokens.access_token).then(function (r) {
      if (r.status !== 401 || !tokens.refresh_token) return r;
      return request(base + '/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: tokens.refresh_token }),
      }).then(function (rr) {
        if (!rr.ok) return r;
        return rr.json().then(function (fresh) {
          var next = { access_token: fresh.access_token, refresh_token: fresh.refresh_token, companion: tokens.companion };
          return saveTokens(next).then(function () { return get(next.access_token); });
        });
      });
    }).then(function (r) {
      if (!r.ok) return { status: r.status, body: null };
      return r.json().then(function (body) { return { status: r.status, body: body }; });
    });
  }

  /** Whether the activity lets its reply leave now. */
  function approved(activity) {
    if (!activity || activity.flow !== 'approval') return true;
    var draft = activity.draft;
    return !!draft && activity.approved_draft_version != null && activity.approved_draft_version === draft.version;
  }

  function onMessageSendHandler(event) {
    var t = TEXT[lang()];
    var block = function (message, toPane) {
      var options = { allowEvent: false, errorMessage: message };
      if (toPane) {
        options.cancelLabel = t.openPane;
        options.commandId = PANE_COMMAND;
      }
      event.completed(options);
    };
    var item = Office.context.mailbox.item;
    findActivity(item).then(function (activityId) {
      if (!activityId) {
        event.completed({ allowEvent: true });
        return null;
      }
      return readTokens().then(function (tokens) {
        if (!tokens) return block(t.signIn, true);
        return getActivity(tokens, activityId).then(function (answer) {
          if (answer.status === 401) return block(t.signIn, true);
          if (answer.status === 403 || answer.status === 404) return block(t.forbidden, false);
          if (!answer.body) return block(t.unreachable, false);
          if (approved(answer.body)) return event.completed({ allowEvent: true });
          return block(t.notApproved(answer.body.title || ''), true);
        });
      });
    }).catch(function () {
      block(t.unreachable, false);
    });
  }

  Office.actions.associate('onMessageSendHandler', onMessageSendHandler);
})();
