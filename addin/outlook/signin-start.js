// Office dialog, step 1: go to the companion's sign-in for the organisation; the provider
// sends the code back to signin-done.html on this same origin. Only this origin's
// /api/v1/auth/login is ever opened, whatever the query says.
(function () {
  'use strict';
  var q = new URLSearchParams(location.search);
  var org = q.get('org');
  if (!org) {
    document.addEventListener('DOMContentLoaded', function () {
      document.getElementById('status').textContent =
        'Manca l\'organizzazione: chiudi questa finestra e riprova dal riquadro PecDesk. / ' +
        'No organisation given: close this window and try again from the PecDesk pane.';
    });
    return;
  }
  var login = new URL('/api/v1/auth/login', location.origin);
  login.searchParams.set('org', org);
  login.searchParams.set('client', 'outlook');
  login.searchParams.set('redirect_uri', location.origin + '/addin/outlook/signin-done.html');
  var hint = q.get('login_hint');
  if (hint) login.searchParams.set('login_hint', hint);
  location.replace(login.href);
})();
