// Outlook's side of Nested App Authentication, for the NAA bridge double of office-double.js.
//
// In Outlook, the host gets the add-in's Entra tokens from its own broker and hands them to
// MSAL.js through `window.nestedAppAuthBridge`. Here the bridge double (in the page) asks
// this broker (in the test, through `exposeBinding`), which gets the tokens from the REAL
// OpenID provider of tests/oidc acting as the Entra tenant: the authorization code flow with
// PKCE of its public client, for the user Outlook is signed in with, and the resource named
// by the scope the add-in asked for (Entra: `api://X/access_as_user` → audience `api://X`).
//
//   await installNaaBroker(context, { issuer: idp.acme, user: 'alice@acme.test' });
//   page: __officeDouble.naa.enable({ interactionRequired: false })
import { createHash, randomBytes } from 'node:crypto';

/** A loopback redirect URI registered for the provider's clients (any port: RFC 8252). */
const REDIRECT = 'http://127.0.0.1/addin/outlook/signin-done.html';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** Entra's reading of a scope: the resource is everything before the last `/`. */
export function resourceOf(scopes) {
  for (const s of String(scopes ?? '').split(/\s+/)) {
    const m = /^(api:\/\/[^/]+)\/.+$/.exec(s);
    if (m) return m[1];
  }
  return null;
}

/** Follows the provider's redirects (keeping its cookies) until it sends us back. */
async function follow(start, issuer) {
  const jar = new Map();
  let url = new URL(start);
  for (let i = 0; i < 20; i += 1) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const set of r.headers.getSetCookie()) {
      const [pair] = set.split(';');
      const at = pair.indexOf('=');
      if (at > 0) jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const location = r.headers.get('location');
    if (r.status < 300 || r.status >= 400 || !location) {
      throw new Error(`the provider answered ${r.status} at ${url.pathname}: ${await r.text()}`);
    }
    const next = new URL(location, url);
    if (!next.href.startsWith(issuer)) return next;
    url = next;
  }
  throw new Error('too many redirects at the provider');
}

/**
 * Real tokens from the provider for `user` and the resource of `scopes`:
 * {access_token, id_token, expires_in, scope}. Throws {error} when the provider refuses.
 */
export async function providerTokens({ issuer, user, scopes }) {
  const resource = resourceOf(scopes);
  if (!resource) throw Object.assign(new Error(`no api:// scope in "${scopes}"`), { error: 'invalid_scope' });
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const auth = new URL(`${issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: 'pecdesk-public', response_type: 'code', scope: 'openid email profile api', resource,
    redirect_uri: REDIRECT, state: b64url(randomBytes(8)), nonce: b64url(randomBytes(8)),
    code_challenge: challenge, code_challenge_method: 'S256', login_hint: user,
  })) auth.searchParams.set(k, v);
  const back = await follow(auth.href, issuer);
  const code = back.searchParams.get('code');
  if (!code) throw Object.assign(new Error(back.searchParams.get('error_description') ?? 'no code'), { error: back.searchParams.get('error') ?? 'no_code' });
  const r = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code', client_id: 'pecdesk-public', code, redirect_uri: REDIRECT,
      code_verifier: verifier, resource,
    }),
  });
  const body = await r.json();
  if (!r.ok || !body.access_token || !body.id_token) throw Object.assign(new Error(JSON.stringify(body)), { error: body.error ?? 'token' });
  return { access_token: body.access_token, id_token: body.id_token, expires_in: body.expires_in, scope: String(scopes) };
}

/**
 * Exposes `window.__naaBroker(method, tokenParams)` to every page of `context`: what Outlook's
 * broker answers the bridge ({token, account} or {error: {status, code, description}}).
 * `calls` records each request ({method, scope, clientId, aud of the token the provider gave}).
 */
export async function installNaaBroker(context, { issuer, user }) {
  const calls = [];
  await context.exposeBinding('__naaBroker', async (_source, method, params) => {
    const call = { method, scope: params?.scope ?? null, clientId: params?.clientId ?? null, aud: null };
    calls.push(call);
    try {
      const token = await providerTokens({ issuer, user, scopes: params?.scope });
      call.aud = JSON.parse(Buffer.from(token.access_token.split('.')[1], 'base64url').toString('utf8')).aud;
      const claims = JSON.parse(Buffer.from(token.id_token.split('.')[1], 'base64url').toString('utf8'));
      return {
        token,
        account: {
          // MSAL requires the environment (the authority's host); the tenant is the issuer.
          environment: new URL(issuer).host,
          tenantId: new URL(issuer).pathname.replace(/^\//, ''),
          homeAccountId: `${claims.sub}.${new URL(issuer).pathname.replace(/^\//, '')}`,
          localAccountId: claims.sub,
          username: claims.email ?? user,
          name: claims.name ?? '',
        },
      };
    } catch (e) {
      return { error: { status: 'PERSISTENT_ERROR', code: e.error ?? 'server_error', description: e.message } };
    }
  });
  return { calls };
}
