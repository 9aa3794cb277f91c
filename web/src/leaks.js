// The leak-trend view: memory over time and one chart per suspect with its
// verdict, growth rate and projected time to the limit (analyze/leaks),
// refreshed while the source is a live endpoint.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, h, fmtValue, fmtDuration, hashLink, cssVar, errorBox } from './util.js';

const EXTRA_LABELS = {
  rss: 'RSS',
  rss_bytes: 'RSS',
  resident_bytes: 'RSS',
  peak_inuse_space: 'peak in use',
  profiler_memory: "profiler's own memory",
};

// Tick steps in powers of two times 1, 2 or 5 of B, KiB, MiB, GiB, TiB.
const BYTE_INCRS = [];
for (let k = 0; k <= 4; k++) {
  for (const m of [1, 2, 5, 10, 20, 50, 100, 200, 500]) BYTE_INCRS.push(m * 1024 ** k);
}

function chart(el, times, series, opts = {}) {
  const width = Math.max(280, el.clientWidth || 600);
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
  const colors = [cssVar('--accent'), cssVar('--accent2'), cssVar('--accent3'), cssVar('--muted')];
  const u = new uPlot(
    {
      width,
      height: opts.height || 180,
      legend: { show: opts.legend !== false, live: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false } },
      axes: [
        { ...axis, values: (_, ticks) => ticks.map((t) => fmtDuration(t)) },
        { ...axis, size: 70, incrs: BYTE_INCRS, values: (_, ticks) => ticks.map((t) => fmtValue(t, 'bytes')) },
      ],
      series: [
        { label: 'time', value: (_, v) => (v === null ? '–' : fmtDuration(v)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || colors[i % colors.length],
          width: 2,
          fill: i === 0 && opts.fill !== false ? cssVar('--accent-fill') : undefined,
          value: (_, v) => fmtValue(v, 'bytes'),
          spanGaps: true,
        })),
      ],
    },
    [times, ...series.map((s) => s.values)],
    el,
  );
  return u;
}

function verdictBadge(v) {
  return h('span.badge', { class: 'badge v-' + v, text: v });
}

function stackList(frames) {
  return h('ol.stack', {}, frames.slice(0, 12).map((f) => h('li', { text: f })), frames.length > 12 ? h('li.muted', { text: `… ${frames.length - 12} more` }) : '');
}

function suspectCard(s, data, i, kind) {
  const leaf = s.frames[0] || '?';
  const body = h('div.chart');
  const facts = h('dl.facts', {},
    h('dt', { text: 'in use now' }), h('dd', { text: fmtValue(s.inuse, 'bytes') + ` (${s.inuse_objects.toLocaleString('en-US')} objects)` }),
    h('dt', { text: 'growth' }), h('dd', { text: `${fmtValue(s.growth_per_sec, 'bytes')}/s · ${fmtValue(s.growth_per_hour, 'bytes')}/h` }),
    h('dt', { text: 'confidence' }), h('dd', { text: (100 * s.confidence).toFixed(1) + '%' }),
    h('dt', { text: 'share of growth' }), h('dd', { text: (100 * s.share_of_growth).toFixed(1) + '%' }),
    h('dt', { text: 'time to limit' }), h('dd', { text: s.time_to_limit_sec === null ? (data.limit ? 'not growing toward it' : 'no limit known (--limit)') : fmtDuration(s.time_to_limit_sec) }),
  );
  const card = h('section.card.suspect', { 'data-kind': kind },
    h('div.card-head', {}, verdictBadge(s.verdict), h('span.rank', { text: `#${i + 1}` }),
      h('a.fn', { href: hashLink('flame', { focus: leaf }), title: 'Show in the flame graph', text: leaf }),
      ' ', h('a.to-source.muted', { href: hashLink('source', { fn: leaf }), text: 'source' })),
    h('div.card-body', {}, facts, body),
    kind === 'stack' ? h('details', {}, h('summary', { text: 'stack (leaf first)' }), stackList(s.frames)) : '',
  );
  return { card, draw: () => chart(body, data.times, [{ label: leaf.length > 40 ? leaf.slice(0, 40) + '…' : leaf, values: s.series }], { height: 150, legend: false }) };
}

export async function renderLeaks(main, state, stillShown) {
  const data = await api('/api/leaks');
  const draws = [];
  const summary = h('div.summary.leak-summary', {},
    'heap in use ', h('b', { text: fmtValue(data.total_inuse, 'bytes') }), ' is ', verdictBadge(data.verdict),
    ` · ${fmtValue(data.total_growth_per_sec, 'bytes')}/s over ${fmtDuration(data.duration_sec)}, ${data.snapshots} snapshots`,
    data.limit ? ` · limit ${fmtValue(data.limit, 'bytes')} (${data.limit_source})` + (data.time_to_limit_sec !== null ? `, reached in ${fmtDuration(data.time_to_limit_sec)}` : '') : '',
    data.live ? h('span.live', { text: ` · live, every ${data.every_sec}s` }) : '');
  const parts = [summary];
  if (!data.enough_snapshots) {
    parts.push(h('p.warn', { text: `${data.snapshots} snapshots so far; at least ${data.min_snapshots} are needed before anything is called growing.` }));
  }
  for (const w of data.warnings || []) parts.push(h('p.warn', { text: w }));
  const totalEl = h('div.chart');
  parts.push(h('section.card.total', {}, h('h2', { text: 'Memory over time' }), totalEl));
  const series = [{ label: 'heap in use (sampled estimate)', values: data.total_series }];
  const seen = new Set();
  for (const [k, values] of Object.entries(data.extra_series || {})) {
    const label = EXTRA_LABELS[k] || k;
    if (seen.has(label)) continue;
    seen.add(label);
    series.push({ label, values });
  }
  draws.push(() => chart(totalEl, data.times, series, { height: 220 }));

  const ruled = Object.entries(data.ruled_out).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`).join(', ');
  parts.push(h('h2', { text: data.suspects.length ? `Leak suspects (${data.suspects.length})` : 'No leak suspects' }));
  parts.push(h('p.muted', { text: 'Stacks whose in-use bytes keep rising (Theil-Sen slope, Mann-Kendall test, recent part still rising).' + (ruled ? ` Ruled out: ${ruled} stacks.` : '') }));
  const grid = h('div.cards');
  data.suspects.forEach((s, i) => {
    const c = suspectCard(s, data, i, 'stack');
    grid.append(c.card);
    draws.push(c.draw);
  });
  parts.push(grid);
  if (data.functions.length) {
    parts.push(h('h2', { text: 'Growing functions (leaf)' }));
    const fgrid = h('div.cards');
    data.functions.forEach((s, i) => {
      const c = suspectCard(s, data, i, 'function');
      fgrid.append(c.card);
      draws.push(c.draw);
    });
    parts.push(fgrid);
  }
  main.replaceChildren(...parts);
  for (const d of draws) d();
  if (data.live) {
    state.timer = setTimeout(async () => {
      if (!stillShown()) return;
      const y = window.scrollY;
      try {
        await renderLeaks(main, state, stillShown);
        window.scrollTo(0, y);
      } catch (e) {
        main.prepend(errorBox(String(e.message || e)));
      }
    }, Math.max(1000, data.every_sec * 1000));
  }
}
