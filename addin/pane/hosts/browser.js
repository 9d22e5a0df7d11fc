// No mail client: the pane in a browser tab (the desk). See addin/README.md.

export async function createHost() {
  return {
    name: 'browser',
    lang: String(navigator.language ?? 'it').toLowerCase().startsWith('en') ? 'en' : 'it',
    async currentMessage() { return null; },
    onMessageChanged() {},
    async reply() {
      const e = new Error('reply_unavailable');
      e.code = 'reply_unavailable';
      throw e;
    },
    // The companion's OIDC flow, as the desk starts it: the browser leaves the pane.
    async signIn({ companion, org, loginHint }) {
      const u = new URL('/api/v1/auth/login', companion);
      u.searchParams.set('org', org);
      u.searchParams.set('client', 'desk');
      u.searchParams.set('redirect_uri', new URL('/api/v1/auth/callback', companion).href);
      if (loginHint) u.searchParams.set('login_hint', loginHint);
      location.assign(u.href);
      return new Promise(() => {});
    },
  };
}
