// A page whose API this companion does not have yet: what it will show, and whether the
// API answers already (then the page's module is the place to render it).
import { ctx, h, t, chip, pageHead } from '../ui.js';
import { ApiError } from '/addin/api.js';

export async function soon(titleKey, textKey, path) {
  let present = false;
  try {
    await ctx.api.get(path);
    present = true;
  } catch (e) {
    if (!(e instanceof ApiError) || ![404, 405].includes(e.status)) throw e;
  }
  return h('div', {},
    pageHead(t(titleKey)),
    h('div', { class: 'placeholder', 'data-soon': path },
      h('p', {}, chip(present ? t('soon_present') : t('desk_soon'), present ? 'ok' : 'neutral')),
      h('p', { text: t(textKey) }),
      h('p', { class: 'small' }, t('soon_api'), ' ', h('code', { text: path }))));
}
