// When the desk's live pages refresh: at each change the event stream reports
// (`GET /api/v1/events/stream`: server-sent events `{id, type, object: {type, id}}` of the
// messages and activities the user may read, read with fetch and the bearer token through
// Api.eventStream), when the window gets focus again, and every 30 seconds as a fallback.
// A burst of changes (a rule routing twenty messages) refetches once.

const EVERY_MS = 30_000;
const SETTLE_MS = 300;
let timer = null;
let settle = null;
let stream = null;
let onChange = null;

function changed() {
  onChange?.();
}

function onEvent() {
  clearTimeout(settle);
  settle = setTimeout(changed, SETTLE_MS);
}

function onFocus() {
  changed();
}

function onVisible() {
  if (!document.hidden) changed();
}

/** Starts refreshing: `callback` refetches the page on screen; `api` follows the stream. */
export function start(callback, api) {
  stop();
  onChange = callback;
  timer = setInterval(changed, EVERY_MS);
  window.addEventListener('focus', onFocus);
  document.addEventListener('visibilitychange', onVisible);
  if (api) {
    stream = new AbortController();
    document.body.dataset.live = 'on';
    api.eventStream(onEvent, stream.signal).finally(() => { delete document.body.dataset.live; });
  }
}

export function stop() {
  clearInterval(timer);
  clearTimeout(settle);
  stream?.abort();
  timer = null;
  stream = null;
  onChange = null;
  window.removeEventListener('focus', onFocus);
  document.removeEventListener('visibilitychange', onVisible);
}
