// Office dialog, step 2: the provider redirected here with `code` and `state` (or `error`).
// The companion's callback exchanges the code (it holds the PKCE verifier) and answers the
// TokenResponse, which goes to the task pane through Office.context.ui.messageParent as
// JSON: {ok: true, tokens} or {ok: false, error, message}. Nothing is logged.
/* global Office */
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);

  function show(text) {
    var el = document.getElementById('status');
    if (el) el.textContent = text;
  }

  function finish(message) {
    var send = function () {
      try {
        Office.context.ui.messageParent(JSON.stringify(message));
      } catch (e) {
        show('Impossibile tornare a Outlook: chiudi questa finestra e riprova. / Cannot return to Outlook: close this window and try again.');
      }
    };
    if (typeof Office !== 'undefined' && Office.onReady) Office.onReady(send);
    else send();
  }

  function fail(error, message) {
    show(message);
    finish({ ok: false, error: error, message: message });
  }

  if (q.get('error')) {
    fail(q.get('error'), 'Il fornitore di identità ha rifiutato l\'accesso (' + q.get('error') + '): ' +
      'controlla l\'account e riprova. / The identity provider refused the sign-in: check the account and try again.');
    return;
  }
  if (!q.get('code') || !q.get('state')) {
    fail('invalid_request', 'Risposta del fornitore di identità incompleta: riprova l\'accesso. / Incomplete answer from the identity provider: sign in again.');
    return;
  }
  var callback = new URL('/api/v1/auth/callback', location.origin);
  ['code', 'state', 'iss'].forEach(function (k) {
    if (q.get(k)) callback.searchParams.set(k, q.get(k));
  });
  // The code is single-use: keep it out of the dialog's history.
  history.replaceState(null, '', location.pathname);
  fetch(callback.href, { headers: { accept: 'application/json' }, credentials: 'omit' })
    .then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) { return { r: r, body: body }; });
    })
    .then(function (x) {
      if (x.r.ok && x.body && x.body.access_token) {
        show('Accesso eseguito. / Signed in.');
        finish({ ok: true, tokens: x.body });
        return;
      }
      var err = x.body && x.body.error ? x.body.error : {};
      fail(err.code || 'http_' + x.r.status, (err.message || 'Accesso non riuscito / Sign-in failed') +
        ' (' + x.r.status + ')');
    })
    .catch(function () {
      fail('unreachable', 'PecDesk non è raggiungibile: riprova tra poco. / PecDesk cannot be reached: try again shortly.');
    });
})();
