// When the desk's live pages refresh. Today: when the window gets focus again and every
// 30 seconds. The event stream (`GET /api/v1/events/stream`, SSE read with fetch and the
// bearer token like Api.presenceStream; events `{id, type, object: {type, id}}`) plugs in
// here: call `changed()` for each event and the page on screen refetches.

const EVERY_MS = 30_000;
let timer = null;
let onChange = null;

function changed() {
  onChange?.();
}

function onFocus() {
  changed();
}

function onVisible() {
  if (!document.hidden) changed();
}

/** Starts refreshing: `callback` refetches the page on screen. */
export function start(callback) {
  stop();
  onChange = callback;
  timer = setInterval(changed, EVERY_MS);
  window.addEventListener('focus', onFocus);
  document.addEventListener('visibilitychange', onVisible);
}

export function stop() {
  clearInterval(timer);
  timer = null;
  onChange = null;
  window.removeEventListener('focus', onFocus);
  document.removeEventListener('visibilitychange', onVisible);
}
