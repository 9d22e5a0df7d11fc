// The companion client: bearer token, one-use refresh tokens, errors in the companion's
// envelope, and the presence stream (SSE read with fetch, so the token never goes in a URL).
//
// Tokens live in localStorage under `pecdesk.tokens` as {access_token, refresh_token,
// companion} (mirrored in OfficeRuntime.storage in Outlook, where the OnMessageSend handler
// reads them).

export const TOKENS_KEY = 'pecdesk.tokens';

/** An answer of the companion that is not 2xx; `message` is the envelope's ("italiano / English"). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function readTokens() {
  try {
    const t = JSON.parse(localStorage.getItem(TOKENS_KEY) ?? 'null');
    return t && t.access_token ? t : null;
  } catch {
    return null;
  }
}

function writeTokens(t) {
  try {
    if (t) localStorage.setItem(TOKENS_KEY, JSON.stringify(t));
    else localStorage.removeItem(TOKENS_KEY);
  } catch { /* storage refused: the session lasts as long as the page */ }
  const rs = globalThis.OfficeRuntime?.storage;
  if (rs) {
    (t ? rs.setItem(TOKENS_KEY, JSON.stringify(t)) : rs.removeItem(TOKENS_KEY)).catch(() => {});
  }
}

export class Api {
  constructor(companion) {
    this.base = companion.replace(/\/+$/, '');
    const t = readTokens();
    // Tokens of another companion are not ours to send.
    this.tokens = t && (!t.companion || t.companion === this.base) ? t : null;
    this.refreshing = null;
    this.onSignedOut = () => {};
  }

  get signedIn() {
    return Boolean(this.tokens?.access_token);
  }

  /** Keeps a TokenResponse ({access_token, refresh_token?}) or a dev-login answer ({token}). */
  setTokens(answer) {
    const access = answer.access_token ?? answer.token;
    this.tokens = { access_token: access, refresh_token: answer.refresh_token ?? null, companion: this.base };
    writeTokens(this.tokens);
  }

  clearTokens() {
    this.tokens = null;
    writeTokens(null);
  }

  async devLogin(email) {
    const r = await this.request('POST', '/api/v1/auth/dev-login', { email }, { anonymous: true });
    this.setTokens(r);
  }

  async signOut() {
    const t = this.tokens;
    if (t) {
      try {
        await this.request('POST', '/api/v1/auth/logout', t.refresh_token ? { refresh_token: t.refresh_token } : {}, { noRetry: true });
      } catch { /* signed out locally anyway */ }
    }
    this.clearTokens();
  }

  /** Exchanges the one-use refresh token for a new pair (one exchange at a time). */
  refresh() {
    if (!this.tokens?.refresh_token) return Promise.resolve(false);
    this.refreshing ??= (async () => {
      try {
        const r = await fetch(`${this.base}/api/v1/auth/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refresh_token: this.tokens.refresh_token }),
        });
        if (!r.ok) return false;
        this.setTokens(await r.json());
        return true;
      } catch {
        return false;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /**
   * One call. `body`: a JSON value, or bytes. `as`: 'json' (default), 'bytes', 'response'.
   * A 401 refreshes once and retries; a second 401 signs out.
   */
  async request(method, path, body, opts = {}) {
    const headers = { ...(opts.headers ?? {}) };
    if (!opts.anonymous && this.tokens) headers.authorization = `Bearer ${this.tokens.access_token}`;
    let payload;
    if (body instanceof Uint8Array) payload = body;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let r;
    try {
      r = await fetch(this.base + path, { method, headers, body: payload, signal: opts.signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'network', 'network');
    }
    if (r.status === 401 && !opts.anonymous && !opts.noRetry) {
      if (await this.refresh()) return this.request(method, path, body, { ...opts, noRetry: true });
      this.clearTokens();
      this.onSignedOut();
      throw new ApiError(401, 'unauthorized', 'unauthorized');
    }
    if (!r.ok) {
      let code = 'http_' + r.status;
      let message = '';
      try {
        const e = await r.json();
        code = e?.error?.code ?? code;
        message = e?.error?.message ?? '';
      } catch { /* not the envelope */ }
      throw new ApiError(r.status, code, message);
    }
    if (opts.as === 'response') return r;
    if (opts.as === 'bytes') return new Uint8Array(await r.arrayBuffer());
    if (r.status === 204) return null;
    const text = await r.text();
    return text ? JSON.parse(text) : null;
  }

  get(path, opts) { return this.request('GET', path, undefined, opts); }
  post(path, body, opts) { return this.request('POST', path, body ?? {}, opts); }
  put(path, body, opts) { return this.request('PUT', path, body, opts); }
  patch(path, body, opts) { return this.request('PATCH', path, body, opts); }
  del(path, body, opts) { return this.request('DELETE', path, body, opts); }

  /**
   * Follows `GET /api/v1/presence/stream?object=&id=` until `signal` aborts, calling
   * `onPresence(json)` for every `event: presence`; reconnects after a drop.
   */
  presenceStream(object, id, onPresence, signal) {
    const path = `/api/v1/presence/stream?object=${encodeURIComponent(object)}&id=${encodeURIComponent(id)}`;
    return this.follow(path, (event, data) => { if (event === 'presence') onPresence(data); }, signal);
  }

  /**
   * Follows `GET /api/v1/events/stream` (the desk's live changes) until `signal` aborts,
   * calling `onChange({id, type, object})` for every `event: change`; reconnects after a
   * drop and resumes after the last event seen (`Last-Event-ID`).
   */
  eventStream(onChange, signal) {
    return this.follow('/api/v1/events/stream', (event, data) => { if (event === 'change') onChange(data); }, signal);
  }

  /**
   * Server-sent events read with fetch, so the token travels in the Authorization header,
   * never in a URL: `onEvent(name, json, id)` for every event with JSON data. Reconnects
   * after 2 s, sending the last `id:` seen as `Last-Event-ID`; stops on 401/404.
   */
  async follow(path, onEvent, signal) {
    let lastId = null;
    while (!signal.aborted) {
      try {
        const headers = { accept: 'text/event-stream' };
        if (lastId) headers['last-event-id'] = lastId;
        const r = await this.request('GET', path, undefined, { as: 'response', signal, headers });
        const reader = r.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
          let cut;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            let event = 'message';
            let id = null;
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('id:')) id = line.slice(3).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (id) lastId = id;
            if (data.length) {
              try { onEvent(event, JSON.parse(data.join('\n')), id); } catch { /* a bad event: skip it */ }
            }
          }
        }
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiError && (e.status === 404 || e.status === 401)) return;
      }
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
}
