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

// Tick steps for counts: 1, 2, 5 times powers of ten (never a half thread).
const COUNT_INCRS = [];
for (let k = 0; k <= 9; k++) for (const m of [1, 2, 5]) COUNT_INCRS.push(m * 10 ** k);

// What a resource kind counts, and how its cards read.
const KINDS = {
  heap: { title: 'heap', unit: 'bytes', noun: 'objects' },
  fd: { title: 'file descriptors', unit: 'count', noun: 'descriptors' },
  thread: { title: 'threads', unit: 'count', noun: 'threads' },
  mmap: { title: 'mappings', unit: 'bytes', noun: 'mappings' },
};

// A rate (per second or per hour) in the unit: bytes as sizes, counts with
// as many decimals as a slow leak needs (0.2 descriptors/s is not 0).
function fmtRate(v, unit) {
  if (unit === 'bytes') return fmtValue(v, 'bytes');
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 100 || Number.isInteger(v)) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(a >= 10 ? 1 : 2);
}

// A uPlot chart of `series` ({label, values, color, fill}) over `times`;
// opts.unit ('bytes' or 'count') sets the y axis and the values.
function chart(el, times, series, opts = {}) {
  const width = Math.max(280, el.clientWidth || 600);
  const unit = opts.unit || 'bytes';
  const axis = { stroke: cssVar('--muted'), grid: { stroke: cssVar('--grid'), width: 1 }, ticks: { stroke: cssVar('--grid') } };
  const colors = [cssVar('--accent'), cssVar('--accent2'), cssVar('--accent3'), cssVar('--muted')];
  el.dataset.unit = unit;
  if (opts.yLabel) el.dataset.yLabel = opts.yLabel;
  const u = new uPlot(
    {
      width,
      height: opts.height || 180,
      legend: { show: opts.legend !== false, live: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: { range: (_, min, max) => [Math.min(0, min), max > 0 ? max * 1.05 : 1] } },
      axes: [
        { ...axis, values: (_, ticks) => ticks.map((t) => fmtDuration(t)) },
        {
          ...axis,
          size: 70,
          incrs: unit === 'bytes' ? BYTE_INCRS : COUNT_INCRS,
          values: (_, ticks) => {
            const labels = ticks.map((t) => fmtValue(t, unit));
            el.dataset.yTicks = labels.join(' ');  // What the axis shows, for a reader of the DOM.
            return labels;
          },
          label: opts.yLabel,
          labelSize: opts.yLabel ? 18 : undefined,
        },
      ],
      series: [
        { label: 'time', value: (_, v) => (v === null ? '–' : fmtDuration(v)) },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || colors[i % colors.length],
          width: s.width || 2,
          fill: s.fill !== undefined ? s.fill : i === 0 && opts.fill !== false ? cssVar('--accent-fill') : undefined,
          value: (_, v) => fmtValue(v, unit),
          spanGaps: true,
          points: opts.points === false ? { show: false } : undefined,
        })),
      ],
    },
    [times, ...series.map((s) => s.values)],
    el,
  );
  return u;
}

// "Where resident memory goes": the runtime's RSS parts stacked, bottom
// up in its order (live heap first), with a legend of the last values and
// the change since the first snapshot.
function rssChart(data) {
  const names = Object.keys(data.rss_parts || {});
  if (!names.length) return null;
  const el = h('div.chart.rss-chart');
  const legend = h('ul.rss-legend');
  const color = (name) => cssVar('--rss-' + name.replace(/_/g, '-')) || cssVar('--muted');
  const n = data.times.length;
  // Cumulative sums, bottom up; a part a snapshot does not give counts 0.
  const cum = [];
  let below = new Array(n).fill(0);
  for (const name of names) {
    const vals = data.rss_parts[name];
    const top = below.map((b, i) => b + (vals[i] || 0));
    cum.push(top);
    below = top;
  }
  for (const name of names) {
    const vals = data.rss_parts[name].filter((v) => v !== null);
    const last = vals.length ? vals[vals.length - 1] : null;
    const delta = vals.length > 1 ? last - vals[0] : null;
    legend.prepend(h('li', { 'data-part': name },
      h('span.swatch', { style: `background:${color(name)}` }), ' ',
      h('span.part', { text: data.rss_part_labels[name] || name }), ' ',
      h('b', { text: fmtValue(last, 'bytes') }),
      delta === null ? '' : h('span.muted', { text: ` (${delta >= 0 ? '+' : ''}${fmtValue(delta, 'bytes')})` })));
  }
  const card = h('section.card.rss', {},
    h('h2', { text: 'Where resident memory goes' }),
    data.rss_growth ? h('p.rss-growth', { text: data.rss_growth }) : '',
    h('div.rss-body', {}, el, legend));
  // Topmost band first, each filled opaque down to zero, so the lower
  // parts paint over the upper ones' fill and every band shows its own.
  const series = names.map((name, k) => ({ label: data.rss_part_labels[name] || name, values: cum[k], color: color(name), fill: color(name), width: 1 })).reverse();
  return { card, draw: () => chart(el, data.times, series, { height: 240, legend: false, fill: false, points: false }) };
}

function kindBadge(kind) {
  return h('span.badge', { class: 'badge kind k-' + kind, title: (KINDS[kind] || {}).title, text: kind });
}

function verdictBadge(v) {
  return h('span.badge', { class: 'badge v-' + v, text: v });
}

// Each frame with its source line when known (the file's name; the whole
// path on hover).
function stackList(frames, sources) {
  const frame = (f, i) => {
    const src = (sources || [])[i];
    if (!src) return h('li', { text: f });
    return h('li', {}, f, ' ', h('span.src.muted', { title: src, text: src.slice(src.lastIndexOf('/') + 1) }));
  };
  return h('ol.stack', {}, frames.slice(0, 12).map(frame), frames.length > 12 ? h('li.muted', { text: `… ${frames.length - 12} more` }) : '');
}

// The frame a card is named by: the leaf for heap stacks (the analysis
// already dropped the allocator's frames); for the other kinds the first
// frame outside the standard library's plumbing (a thread is started by
// std::thread::_M_start_thread, on behalf of the function that asked).
function titleFrame(frames, kind) {
  if (kind === 'heap') return frames[0] || '?';
  return frames.find((f) => !/^(std::|__|pthread_)/.test(f)) || frames[0] || '?';
}

function suspectCard(s, data, i, list) {
  const kind = s.kind || 'heap';
  const leaf = titleFrame(s.frames, kind);
  const unit = s.unit || 'bytes';
  const k = KINDS[kind] || KINDS.heap;
  const kindLimit = (data.resources || []).find((r) => r.kind === kind && r.limit !== null && r.limit !== undefined);
  const body = h('div.chart');
  // Bytes with the object (mapping) count beside them; counts alone.
  const now = unit === 'bytes' ? fmtValue(s.inuse, 'bytes') + ` (${s.inuse_objects.toLocaleString('en-US')} ${k.noun})` : `${fmtValue(s.inuse, 'count')} ${k.noun}`;
  const per = unit === 'bytes' ? '' : ' ' + k.noun;
  const facts = h('dl.facts', {},
    h('dt', { text: 'in use now' }), h('dd.inuse', { text: now }),
    h('dt', { text: 'growth' }), h('dd.growth', { text: `${fmtRate(s.growth_per_sec, unit)}${per}/s · ${fmtRate(s.growth_per_hour, unit)}/h${s.under_peaks ? ', between temporary peaks' : ''}` }),
    h('dt', { text: 'confidence' }), h('dd', { text: (100 * s.confidence).toFixed(1) + '%' }),
    h('dt', { text: `share of ${kind} growth` }), h('dd', { text: (100 * s.share_of_growth).toFixed(1) + '%' }),
    s.oldest_age_sec !== undefined && s.oldest_age_sec !== null ? [h('dt', { text: 'oldest objects' }), h('dd.oldest', { text: `at least ${fmtDuration(s.oldest_age_sec)} old` })] : '',
    kind === 'heap' ? [h('dt', { text: 'time to limit' }), h('dd', { text: s.time_to_limit_sec === null ? (data.limit ? 'not growing toward it' : 'no limit known (--limit)') : fmtDuration(s.time_to_limit_sec) })] : '',
    // Descriptors, threads and mappings run into limits of their own.
    kind !== 'heap' && kindLimit ? [h('dt', { text: 'time to limit' }), h('dd.time-to-limit', { text: (s.time_to_limit_sec === null ? 'not growing toward ' : `${fmtDuration(s.time_to_limit_sec)} to `) + `${kindLimit.limit_name} (${kindLimit.limit.toLocaleString('en-US')})` })] : '',
  );
  // The flame graph and source view show the heap profile: only heap
  // suspects link there.
  const name = kind === 'heap'
    ? [h('a.fn', { href: hashLink('flame', { focus: leaf }), title: 'Show in the flame graph', text: leaf }), ' ', h('a.to-source.muted', { href: hashLink('source', { fn: leaf }), text: 'source' })]
    : h('span.fn', { title: leaf, text: leaf });
  const card = h('section.card.suspect', { 'data-list': list, 'data-kind': kind, 'data-unit': unit },
    h('div.card-head', {}, verdictBadge(s.verdict), kindBadge(kind), h('span.rank', { text: `#${i + 1}` }), name),
    h('div.card-body', {}, facts, body),
    list === 'stack' ? h('details', {}, h('summary', { text: 'stack (leaf first)' }), stackList(s.frames, s.sources)) : '',
  );
  const label = leaf.length > 40 ? leaf.slice(0, 40) + '…' : leaf;
  return { card, draw: () => chart(body, data.times, [{ label, values: s.series }], { height: 150, legend: false, unit, yLabel: unit === 'bytes' ? undefined : k.noun }) };
}

export async function renderLeaks(main, state, stillShown) {
  const data = await api('/api/leaks');
  const draws = [];
  // The program's malloc is another allocator's: the heap figures are
  // empty for that reason, so say that rather than "0 B, constant".
  const heapPart = data.heap_not_seen
    ? [h('span.heap-not-seen', { text: `heap not profiled: malloc comes from ${data.heap_not_seen}, an allocator ahead of the runtime (descriptors, threads and mappings are profiled)` }),
      ` · ${fmtDuration(data.duration_sec)}, ${data.snapshots} snapshots`]
    : ['heap in use ', h('b', { text: fmtValue(data.total_inuse, 'bytes') }), ' is ', verdictBadge(data.verdict),
      ` · ${fmtValue(data.total_growth_per_sec, 'bytes')}/s over ${fmtDuration(data.duration_sec)}, ${data.snapshots} snapshots`];
  const summary = h('div.summary.leak-summary', {},
    ...heapPart,
    data.running_only ? ' while running (the profile at exit, after teardown, left out)' : '',
    // The time to the limit runs from the resident memory, when the
    // profiles carry it (all of it counts towards a cgroup's limit).
    data.limit ? ` · limit ${fmtValue(data.limit, 'bytes')} (${data.limit_source})` +
      (data.resident !== null && data.resident !== undefined ? `, ${fmtValue(data.resident, 'bytes')} resident` : '') +
      (data.time_to_limit_sec !== null ? `, reached in ${fmtDuration(data.time_to_limit_sec)}` : '') : '',
    // cgroup v2's memory.high: the throttling that comes before the limit.
    data.memory_high !== null && data.memory_high !== undefined
      ? h('span.memory-high', { title: 'the cgroup\'s throttling threshold: past it the kernel reclaims hard and slows the process down', text: ` · memory.high ${fmtValue(data.memory_high, 'bytes')}` + (data.time_to_memory_high_sec !== null ? (data.time_to_memory_high_sec <= 0 ? ', past it' : `, reached in ${fmtDuration(data.time_to_memory_high_sec)}`) : '') })
      : '',
    data.live ? h('span.live', { text: ` · live, every ${data.every_sec}s` }) : '');
  // The other resources the program used: counts (or mapped bytes) now.
  const resources = (data.resources || []).map((r) => {
    const k = KINDS[r.kind] || { title: r.kind, unit: 'count', noun: '' };
    const amount = k.unit === 'bytes' ? `${fmtValue(r.total, 'bytes')} in ${r.total_objects.toLocaleString('en-US')} ${k.noun}` : `${fmtValue(r.total, 'count')} ${k.noun}`;
    const per = k.unit === 'bytes' ? '' : ' ' + k.noun;
    // The limit this kind runs into, and when, at the current rate.
    const limit = r.limit !== null && r.limit !== undefined
      ? ` · ${r.limit_name} ${r.limit.toLocaleString('en-US')}` + (r.time_to_limit_sec !== null ? `, reached in ${fmtDuration(r.time_to_limit_sec)}` : '')
      : '';
    return h('span.resource', { 'data-kind': r.kind }, kindBadge(r.kind), ' ', amount, ' ', verdictBadge(r.verdict), ` ${r.growth_per_sec >= 0 ? '+' : ''}${fmtRate(r.growth_per_sec, k.unit)}${per}/s`, limit);
  });
  const parts = [summary];
  if (resources.length) parts.push(h('div.summary.resource-summary', {}, ...resources));
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
  const rss = rssChart(data);
  if (rss) {
    parts.push(rss.card);
    draws.push(rss.draw);
  }

  // turned_over counts stacks among the others (those that rose but kept
  // none of what they added early): said apart, not added.
  const turned = data.ruled_out.turned_over || 0;
  const ruled = Object.entries(data.ruled_out).filter(([v, n]) => n > 0 && v !== 'turned_over').map(([v, n]) => `${n} ${v}`).join(', ');
  const turnedText = turned > 0 ? ` ${turned} of them rose, but what they added early is gone (objects that turn over).` : '';
  parts.push(h('h2', { text: data.suspects.length ? `Leak suspects (${data.suspects.length})` : 'No leak suspects' }));
  const floor = data.heap_growth_floor_per_sec > 0
    ? ` Heap leaks slower than about ${fmtValue(data.heap_growth_floor_per_sec, 'bytes')}/s cannot stand out of the sampling noise in this window: watch longer, or sample more often (--rate), to see them.`
    : '';
  parts.push(h('p.muted.leak-method', { text: 'Stacks whose in-use bytes (or open descriptors, live threads, mapped bytes) keep rising (Theil-Sen slope, Mann-Kendall test, recent part still rising) and, where the profiles carry ages, keep what they added early; each kind ranked on its own.' + (ruled ? ` Ruled out: ${ruled} stacks.${turnedText}` : '') + floor }));
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
