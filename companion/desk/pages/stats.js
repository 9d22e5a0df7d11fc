// Statistiche: received, taken and worked per day, operator, mailbox or team; time to take in
// charge and to close (median, p90); workload and overdue now; overdue over time. Charts are
// SVG drawn here, each series told apart by pattern and label as well as colour, with the
// same numbers in a table; CSV export through the API (`GET /api/v1/stats`).
import { ctx, h, t, say, button, pageHead, table, download } from '../ui.js';
import { field } from '/addin/dom.js';
import { day } from '/addin/i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const GROUPS = ['day', 'operator', 'team', 'mailbox'];
const SERIES = [
  { key: 'received', cls: 's-received' },
  { key: 'taken', cls: 's-taken' },
  { key: 'worked', cls: 's-worked' },
];
const state = { days: 30, group: 'day' };

export async function render(_args, { reload }) {
  const to = new Date();
  const from = new Date(to.getTime() - (state.days - 1) * 86_400_000);
  const query = `from=${from.toISOString().slice(0, 10)}&to=${to.toISOString().slice(0, 10)}&group_by=${state.group}`;
  const stats = await ctx.api.get(`/api/v1/stats?${query}`);
  const range = h('select', { name: 'range', onchange: (e) => { state.days = Number(e.target.value); reload(); } },
    [7, 30, 90, 365].map((d) => h('option', { value: d, selected: d === state.days, text: t('stats_days', { n: d }) })));
  const group = h('select', { name: 'group', onchange: (e) => { state.group = e.target.value; reload(); } },
    GROUPS.map((g) => h('option', { value: g, selected: g === state.group, text: t(`stats_by_${g}`) })));
  const csv = button(t('stats_csv'), async () => {
    await download(`/api/v1/stats?${query}&format=csv`, `pecdesk-statistiche-${state.group}.csv`, 'text/csv');
    say(t('stats_csv_done'));
  }, { class: 'secondary', action: 'stats-csv' });
  const total = stats.total;
  return h('div', { class: 'stack' },
    pageHead(t('page_stats'), t('stats_intro')),
    h('form', { class: 'row', onsubmit: (e) => e.preventDefault() }, field(t('stats_range'), range), field(t('stats_group'), group), csv),
    h('div', { class: 'cards', role: 'list', 'aria-label': t('stats_totals') },
      tile(t('stats_received'), total.received), tile(t('stats_taken'), total.taken), tile(t('stats_worked'), total.worked),
      tile(t('stats_take_median'), duration(total.take_median_s), t('stats_p90', { d: duration(total.take_p90_s) })),
      tile(t('stats_close_median'), duration(total.close_median_s), t('stats_p90', { d: duration(total.close_p90_s) })),
      tile(t('stats_open_now'), total.open ?? '—'), tile(t('stats_overdue_now'), total.overdue_now ?? '—', null, (total.overdue_now ?? 0) > 0)),
    h('section', { class: 'card', 'aria-labelledby': 'chart-flow' },
      h('h2', { id: 'chart-flow', text: t('stats_chart_flow', { by: t(`stats_by_${state.group}`) }) }),
      bars(stats.groups, (g) => label(g)),
      legend()),
    h('section', { class: 'card', 'aria-labelledby': 'chart-overdue' },
      h('h2', { id: 'chart-overdue', text: t('stats_chart_overdue') }),
      line(stats.overdue_by_day)),
    table(t('stats_table'), [t(`stats_by_${state.group}`), { label: t('stats_received'), num: true }, { label: t('stats_taken'), num: true }, { label: t('stats_worked'), num: true },
      t('stats_take_median'), t('stats_close_median'), { label: state.group === 'day' ? t('stats_overdue_day') : t('stats_open_now'), num: true }], stats.groups, (g) => [
      label(g),
      h('td', { class: 'num', text: String(g.received) }), h('td', { class: 'num', text: String(g.taken) }), h('td', { class: 'num', text: String(g.worked) }),
      `${duration(g.take_median_s)} · p90 ${duration(g.take_p90_s)}`,
      `${duration(g.close_median_s)} · p90 ${duration(g.close_p90_s)}`,
      h('td', { class: 'num', text: String((state.group === 'day' ? g.overdue : g.open) ?? '—') }),
    ], { empty: t('stats_none'), label: 'stats', showCaption: true }));
}

function label(g) {
  if (state.group === 'day') return day(g.key);
  if (g.key === '-') return t('stats_nobody');
  return g.label ?? g.key;
}

function tile(name, value, sub, bad) {
  return h('div', { class: `tile ${bad ? 'bad' : ''}`, role: 'listitem' },
    h('div', { class: 'n', text: String(value) }), h('div', { class: 'muted', text: name }), sub ? h('div', { class: 'sub', text: sub }) : null);
}

/** `1 h 5 min`, `3 g 2 h` from seconds. */
function duration(s) {
  if (s === null || s === undefined) return '—';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} ${t('stats_d')} ${Math.round((s % 86_400) / 3600)} h`;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of kids.flat()) if (c) el.append(c);
  return el;
}

/** Patterns that tell the series apart without colour (hatch, dots, solid). */
function defs() {
  return svg('defs', {},
    svg('pattern', { id: 'p-taken', width: 6, height: 6, patternUnits: 'userSpaceOnUse', patternTransform: 'rotate(45)' },
      svg('rect', { width: 6, height: 6, class: 's-taken-bg' }), svg('line', { x1: 0, y1: 0, x2: 0, y2: 6, class: 's-taken-line' })),
    svg('pattern', { id: 'p-worked', width: 5, height: 5, patternUnits: 'userSpaceOnUse' },
      svg('rect', { width: 5, height: 5, class: 's-worked-bg' }), svg('circle', { cx: 2.5, cy: 2.5, r: 1.2, class: 's-worked-dot' })));
}

const FILL = { received: null, taken: 'url(#p-taken)', worked: 'url(#p-worked)' };

function bars(groups, name) {
  if (!groups.length) return h('p', { class: 'muted', text: t('stats_none') });
  const W = 960; const H = 240; const pad = { l: 40, b: 44, t: 10 };
  const max = Math.max(1, ...groups.flatMap((g) => SERIES.map((s) => g[s.key])));
  const slot = (W - pad.l) / groups.length;
  const bw = Math.max(2, Math.min(18, (slot - 4) / 3));
  const y = (v) => H - pad.b - (v / max) * (H - pad.b - pad.t);
  const every = Math.ceil(groups.length / 15);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': t('stats_chart_alt') }, defs(),
    svg('line', { x1: pad.l, y1: H - pad.b, x2: W, y2: H - pad.b, class: 'axis' }),
    svg('text', { x: pad.l - 6, y: pad.t + 8, 'text-anchor': 'end', class: 'tick' }, String(max)),
    svg('text', { x: pad.l - 6, y: H - pad.b, 'text-anchor': 'end', class: 'tick' }, '0'),
    groups.map((g, i) => {
      const x0 = pad.l + i * slot + (slot - 3 * bw) / 2;
      return svg('g', {},
        SERIES.map((s, k) => svg('rect', { x: x0 + k * bw, y: y(g[s.key]), width: bw - 1, height: Math.max(0, H - pad.b - y(g[s.key])), class: s.cls, fill: FILL[s.key] },
          svg('title', {}, `${name(g)} · ${t(`stats_${s.key}`)}: ${g[s.key]}`))),
        i % every === 0 ? svg('text', { x: x0 + 1.5 * bw, y: H - pad.b + 16, 'text-anchor': 'middle', class: 'tick' }, String(name(g)).slice(0, 14)) : null);
    }));
  return chart;
}

function legend() {
  return h('ul', { class: 'legend' }, SERIES.map((s) =>
    h('li', {}, h('span', { class: `swatch ${s.cls}`, 'aria-hidden': 'true' }), t(`stats_${s.key}`), ' ', h('span', { class: 'muted', text: t(`stats_pattern_${s.key}`) }))));
}

function line(days) {
  if (!days.length) return h('p', { class: 'muted', text: t('stats_none') });
  const W = 960; const H = 160; const pad = { l: 40, b: 30, t: 10 };
  const max = Math.max(1, ...days.map((d) => d.overdue));
  const x = (i) => pad.l + (days.length === 1 ? 0 : (i / (days.length - 1)) * (W - pad.l - 10));
  const y = (v) => H - pad.b - (v / max) * (H - pad.b - pad.t);
  const points = days.map((d, i) => `${x(i)},${y(d.overdue)}`).join(' ');
  const last = days[days.length - 1];
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': t('stats_overdue_alt', { n: last.overdue, day: day(last.day) }) },
    svg('line', { x1: pad.l, y1: H - pad.b, x2: W, y2: H - pad.b, class: 'axis' }),
    svg('text', { x: pad.l - 6, y: pad.t + 8, 'text-anchor': 'end', class: 'tick' }, String(max)),
    svg('text', { x: pad.l - 6, y: H - pad.b, 'text-anchor': 'end', class: 'tick' }, '0'),
    svg('polyline', { points, class: 'overdue-line' }),
    days.map((d, i) => svg('circle', { cx: x(i), cy: y(d.overdue), r: 3, class: 'overdue-dot' }, svg('title', {}, `${day(d.day)}: ${d.overdue}`))),
    svg('text', { x: pad.l, y: H - 8, class: 'tick' }, day(days[0].day)),
    svg('text', { x: W - 10, y: H - 8, 'text-anchor': 'end', class: 'tick' }, day(last.day)));
}
