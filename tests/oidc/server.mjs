// A real OpenID Provider (npm `oidc-provider`) for PecDesk's end-to-end SSO tests.
//
//   node server.mjs [--port N] [--watch-stdin] [--redirect-uri URL]...
//
// The port also comes from env OIDC_PORT (0 = any free port). Each `--redirect-uri`, and each
// URL in env OIDC_REDIRECT_URIS (separated by spaces or commas), is registered for both
// clients in addition to the defaults below (e.g. the `identity.getRedirectURL()` of the
// extension under test, which depends on its id).
//
// One process, one port on 127.0.0.1, two tenants = two issuers, one per test organisation:
//   http://127.0.0.1:PORT/acme     users alice@acme.test, bob@acme.test, mallory@evil.test
//   http://127.0.0.1:PORT/globex   users carol@globex.test
// When listening it prints exactly one line: `ready <acme issuer> <globex issuer>`.
//
// Test-only by design: the signing keys are the committed PEM files in ./keys (so the Rust
// attack tests can forge tokens with a key the IdP really publishes), there is no password
// check (the interaction logs in the user named by `login_hint`), and `POST /<tenant>/admin/rotate`
// rotates the signing key. Never expose this to anything but 127.0.0.1.
//
// With `resource=api://pecdesk` (RFC 8707) the access token is a JWT for PecDesk's API, as
// Entra ID issues for Outlook's add-ins; `resource=api://altra-app` gives one for another
// application of the same tenant (wrong-audience tests).
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors } from 'oidc-provider';

const here = dirname(fileURLToPath(import.meta.url));

/** Audience (RFC 8707 resource) of the JWT access tokens an add-in would get from the IdP. */
export const API_AUDIENCE = 'api://pecdesk';
/** Another application of the same tenant: its tokens are real but not for PecDesk (tests
 *  of a wrong audience, e.g. Nested App Authentication asking for the wrong scope). */
export const OTHER_AUDIENCE = 'api://altra-app';

/** Test users per tenant, by e-mail (= `login_hint`); `sub` is opaque like real IdPs'. */
const TENANTS = {
  acme: {
    keys: ['acme-1', 'acme-2'],
    users: {
      'alice@acme.test': { sub: 'a-7f3c01', name: 'Alice Rossi', groups: ['legal', 'protocol'] },
      'bob@acme.test': { sub: 'a-2b9e44', name: 'Bob Bianchi', groups: ['protocol'] },
      // A user of the right IdP with an e-mail domain the organisation does not allow.
      'mallory@evil.test': { sub: 'a-666666', name: 'Mallory', groups: ['legal'] },
    },
  },
  globex: {
    keys: ['globex-1'],
    users: {
      'carol@globex.test': { sub: 'g-51d0aa', name: 'Carol Verdi', groups: ['backoffice'] },
    },
  },
};

/** Redirect URIs registered at the IdP (for both clients of each tenant). */
const REDIRECT_URIS = [
  // The companion's callback. The clients are `native` so that, per RFC 8252 section 7.3,
  // any loopback port matches: the companion under test binds port 0.
  'http://127.0.0.1/api/v1/auth/callback',
  // Thunderbird's `identity.getRedirectURL()` form.
  'https://7c1f0e2a-4d3b-4c8e-9a51-2f6d8b0e4a17.extensions.allizom.org/',
  // The Outlook add-in's sign-in dialog (client `outlook`): the companion's page that hands
  // the code to its callback (any loopback port, as above).
  'http://127.0.0.1/addin/outlook/signin-done.html',
  ...extraRedirectUris(),
];

/** `--redirect-uri URL` (repeatable) and env OIDC_REDIRECT_URIS; each must be an absolute URL. */
function extraRedirectUris() {
  const out = [];
  for (let i = 0; i < process.argv.length; i++) {
    if (process.argv[i] === '--redirect-uri') out.push(process.argv[i + 1]);
  }
  out.push(...(process.env.OIDC_REDIRECT_URIS ?? '').split(/[\s,]+/).filter(Boolean));
  for (const uri of out) {
    if (!URL.canParse(uri ?? '')) {
      process.stderr.write(`--redirect-uri / OIDC_REDIRECT_URIS: not an absolute URL: ${uri}\n`);
      process.exit(2);
    }
  }
  return [...new Set(out)];
}

function jwkFor(name) {
  const pem = readFileSync(join(here, 'keys', `${name}.pem`), 'utf8');
  const jwk = createPrivateKey(pem).export({ format: 'jwk' });
  return { ...jwk, kid: name, use: 'sig', alg: 'RS256' };
}

function argPort() {
  const i = process.argv.indexOf('--port');
  const raw = i >= 0 ? process.argv[i + 1] : process.env.OIDC_PORT;
  const port = Number.parseInt(raw ?? '0', 10);
  return Number.isFinite(port) ? port : 0;
}

function makeProvider(tenant, issuer, keyNames) {
  const bySub = Object.fromEntries(
    Object.entries(TENANTS[tenant].users).map(([email, u]) => [u.sub, { ...u, email }]),
  );
  const configuration = {
    clients: [
      {
        client_id: 'pecdesk',
        client_secret: `${tenant}-secret`,
        application_type: 'native',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
      {
        client_id: 'pecdesk-public',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: REDIRECT_URIS,
      },
    ],
    jwks: { keys: keyNames.map(jwkFor) },
    cookies: { keys: [`${tenant}-cookie-key-for-tests-only`] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups'],
    },
    // Real IdPs (Entra ID, Keycloak, Google) put the profile claims in the ID token.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => {
          if (resource !== API_AUDIENCE && resource !== OTHER_AUDIENCE) throw new errors.InvalidTarget();
          return {
            scope: 'api',
            audience: resource,
            accessTokenTTL: 600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Like Entra ID's access tokens: who the user is travels in the token.
    extraTokenClaims: async (_ctx, token) => {
      const user = bySub[token.accountId];
      if (!user || token.kind !== 'AccessToken') return undefined;
      return { email: user.email, name: user.name, groups: user.groups };
    },
    findAccount: async (_ctx, id) => {
      const user = bySub[id];
      if (!user) return undefined;
      return {
        accountId: id,
        claims: async () => ({
          sub: id,
          email: user.email,
          email_verified: true,
          name: user.name,
          groups: user.groups,
        }),
      };
    },
    interactions: { url: (_ctx, interaction) => `${new URL(issuer).pathname}/interaction/${interaction.uid}` },
    ttl: { Interaction: 600, Session: 3600, Grant: 3600, AuthorizationCode: 120, IdToken: 600 },
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
  const provider = new Provider(issuer, configuration);
  provider.proxy = false;
  return provider;
}

/** Browser-less interaction: log in `login_hint` and grant what the client asked for. */
async function interact(provider, tenant, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params, session } = details;
  const accountId = session?.accountId ?? TENANTS[tenant].users[params.login_hint]?.sub;
  if (!accountId) {
    const result = { error: 'access_denied', error_description: 'unknown login_hint' };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const result = { login: { accountId }, consent: { grantId } };
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const server = http.createServer();
server.listen(argPort(), '127.0.0.1', () => {
  const { port } = server.address();
  const base = `http://127.0.0.1:${port}`;
  const providers = {};
  const keyIndex = {};
  // One koa callback per provider instance (building it per request would be wasteful).
  const handlers = new WeakMap();
  const install = (tenant, keys) => {
    const provider = makeProvider(tenant, `${base}/${tenant}`, keys);
    handlers.set(provider, provider.callback());
    providers[tenant] = provider;
  };
  for (const tenant of Object.keys(TENANTS)) {
    keyIndex[tenant] = 0;
    install(tenant, [TENANTS[tenant].keys[0]]);
  }

  server.on('request', async (req, res) => {
    try {
      const url = new URL(req.url, base);
      const [, tenant, ...rest] = url.pathname.split('/');
      if (!TENANTS[tenant]) {
        res.writeHead(404).end();
        return;
      }
      const sub = `/${rest.join('/')}`;
      if (req.method === 'POST' && sub === '/admin/rotate') {
        // Sign with the next committed key from now on, still publishing the old one.
        const names = TENANTS[tenant].keys;
        keyIndex[tenant] = (keyIndex[tenant] + 1) % names.length;
        const order = [...names.slice(keyIndex[tenant]), ...names.slice(0, keyIndex[tenant])];
        install(tenant, order);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kid: order[0] }));
        return;
      }
      const provider = providers[tenant];
      // Mount the provider under /<tenant> like express would.
      req.originalUrl = req.url;
      req.url = `${sub}${url.search}`;
      if (req.method === 'GET' && sub.startsWith('/interaction/')) {
        await interact(provider, tenant, req, res);
        return;
      }
      handlers.get(provider)(req, res);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'server_error', error_description: String(err?.message ?? err) }));
      }
    }
  });

  const issuers = Object.keys(TENANTS).map((t) => `${base}/${t}`);
  process.stdout.write(`ready ${issuers.join(' ')}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
// With --watch-stdin the parent test process owns us: when it dies (stdin closes), go away.
if (process.argv.includes('--watch-stdin')) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
