// heapscope's page: one shell with a view per hash route
// (#/flame, #/top, #/source, #/diff, #/leaks), the sample type shared by all.
import './style.css';
import { api, offline, h, fmtValue, fmtSigned, pct, hashLink, errorBox } from './util.js';
import { FlameGraph } from './flame.js';
import { renderLeaks } from './leaks.js';

const VIEW_TITLES = {
  flame: 'Flame graph',
  top: 'Top',
  source: 'Source',
  diff: 'Diff',
  leaks: 'Leak trends',
};

const state = { info: null, type: '', inverted: false, timer: null };

function route() {
  const m = location.hash.match(/^#\/(\w+)(?:\?(.*))?$/);
  const params = new URLSearchParams(m && m[2] ? m[2] : '');
  let view = m ? m[1] : '';
  if (!state.info.views.includes(view)) {
    view = state.info.views.includes('leaks') ? 'leaks' : state.info.mode === 'diff' ? 'diff' : 'flame';
  }
  const type = params.get('type');
  if (type && state.info.sample_types.includes(type) && type !== state.type) {
    state.type = type;
    const sel = document.getElementById('sample-type');
    if (sel) sel.value = type;
  }
  return { view, params };
}

function go(view, params) {
  location.hash = hashLink(view, params);
}

function shortName(path) {
  const parts = String(path).split('/').filter(Boolean);
  return parts.slice(-2).join('/') || path;
}

function shell() {
  const info = state.info;
  const nav = h('nav.tabs', { 'aria-label': 'views' });
  for (const v of info.views) {
    nav.append(h('a.tab', { href: hashLink(v, {}), 'data-view': v, text: VIEW_TITLES[v] }));
  }
  const types = h('select#sample-type', {
    'aria-label': 'sample type',
    onchange: (e) => {
      state.type = e.target.value;
      render();
    },
  });
  for (const t of info.sample_types) types.append(h('option', { value: t, text: t }));
  types.value = state.type;
  const what =
    info.mode === 'diff'
      ? `${shortName(info.base)} → ${shortName(info.profile)}`
      : info.mode === 'series'
        ? `${shortName(info.sources[0])} (${info.snapshots} snapshots)`
        : info.mode === 'live'
          ? `${info.sources[0]} (live)`
          : shortName(info.profile);
  const header = h(
    'header.top',
    {},
    h('span.brand', { text: 'heapscope' }),
    h('span.source', { title: info.sources.join(' '), text: what }),
    nav,
    h('label.type', {}, 'sample ', types),
  );
  const warnings = info.warnings && info.warnings.length
    ? h('details.warnings', {}, h('summary', { text: `${info.warnings.length} warning(s) while reading` }),
        h('ul', {}, info.warnings.slice(0, 50).map((w) => h('li', { text: w }))))
    : null;
  document.getElementById('app').replaceChildren(header, warnings || '', h('main#view'));
}

async function render() {
  if (state.timer) {
    clearTimeout(state.timer);
    state.timer = null;
  }
  const { view, params } = route();
  for (const a of document.querySelectorAll('a.tab')) {
    a.classList.toggle('active', a.dataset.view === view);
    a.setAttribute('aria-current', a.dataset.view === view ? 'page' : 'false');
  }
  document.getElementById('sample-type').disabled = view === 'leaks';
  const main = document.getElementById('view');
  if (main.dataset.view !== view || view !== 'flame') window.scrollTo(0, 0);
  main.replaceChildren(h('div.loading', { text: 'Loading…' }));
  main.dataset.view = view;
  main.dataset.ready = '0';
  try {
    if (view === 'flame') await flameView(main, params);
    else if (view === 'top') await topView(main, params);
    else if (view === 'source') await sourceView(main, params);
    else if (view === 'diff') await diffView(main, params);
    else if (view === 'leaks') await renderLeaks(main, state, () => route().view === 'leaks');
  } catch (e) {
    main.replaceChildren(errorBox(String(e.message || e)));
  }
  main.dataset.ready = '1';
}

function flameControls(graph, onSearch) {
  const matched = h('span#matched.matched');
  const input = h('input#search', {
    type: 'search',
    placeholder: 'Search functions (regex)',
    'aria-label': 'search functions',
    oninput: () => {
      const r = graph.search(input.value);
      matched.textContent = r ? `${r.count} frame${r.count === 1 ? '' : 's'} matched, ${fmtValue(r.value, graph.meta.unit)} (${pct(r.value, r.total)} of total)` : '';
      if (onSearch) onSearch(input.value);
    },
  });
  const zoom = h('span#zoomed.zoomed');
  const reset = h('button#reset', { type: 'button', onclick: () => graph.setZoom(0), text: 'Reset zoom' });
  const invert = h('label.check', {},
    h('input#inverted', {
      type: 'checkbox',
      checked: state.inverted,
      onchange: (e) => {
        state.inverted = e.target.checked;
        graph.setInverted(state.inverted);
      },
    }),
    ' root at bottom (flame)');
  graph.options.onZoom = (name) => {
    zoom.textContent = name ? `Zoomed: ${name}` : '';
    zoom.title = name || '';
  };
  return { bar: h('div.controls', {}, input, reset, invert, zoom, matched), input };
}

async function flameView(main, params) {
  const noInlines = params.get('by') === 'caller';
  const data = await api('/api/flame', { type: state.type, by: noInlines ? 'caller' : undefined });
  main.dataset.fetched = String(performance.now());
  const summary = h('div.summary', {},
    h('b', { text: data.sample_type }), ` total ${fmtValue(data.total, data.unit)}`,
    data.companion_type ? '' : '',
    h('span.muted', { text: ` · ${data.node_count.toLocaleString('en-US')} frames` + (data.pruned ? `; ${data.pruned.toLocaleString('en-US')} smaller ones not shown` : '') + (noInlines ? '; inlined functions counted in their callers' : '') }));
  const holder = h('div.flame-holder');
  main.replaceChildren(summary, holder);
  const graph = new FlameGraph(holder, { inverted: state.inverted });
  const { bar, input } = flameControls(graph);
  // Inlined frames (container internals, say) given to their first
  // out-of-line caller, as go tool pprof -noinlines; the address's other
  // parameters (focus, q) stay.
  const inlines = h('label.check', { title: 'What inlined functions hold goes to their first out-of-line caller, as go tool pprof -noinlines' },
    h('input#noinlines', {
      type: 'checkbox',
      checked: noInlines,
      onchange: (e) => {
        const next = Object.fromEntries(params.entries());
        next.by = e.target.checked ? 'caller' : undefined;
        go('flame', next);
      },
    }),
    ' no inlines');
  bar.insertBefore(inlines, bar.querySelector('#zoomed'));
  main.insertBefore(bar, holder);
  main.append(h('p.hint', { text: 'Hover a frame for its bytes, objects and share; click to zoom; Esc or "Reset zoom" to go back.' }));
  graph.setData(data, {
    unit: data.unit,
    sampleType: data.sample_type,
    companionType: data.companion_type,
    companionUnit: data.companion_unit,
    diff: false,
  });
  const focus = params.get('focus');
  if (focus) {
    input.value = focus.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
    input.dispatchEvent(new Event('input'));
    input.value = focus;
    if (!graph.focusName(focus)) bar.append(h('span.warn', { text: `${focus} is not in this graph` }));
  }
  const q = params.get('q');
  if (q && !focus) {
    input.value = q;
    input.dispatchEvent(new Event('input'));
  }
  document.onkeydown = (e) => {
    if (e.key === 'Escape') graph.setZoom(0);
  };
  main.dataset.drawn = String(performance.now());
}

function sortableTable(columns, rows, initialSort, rowFn, limit = 600) {
  let sortKey = initialSort;
  let desc = true;
  const thead = h('thead');
  const tbody = h('tbody');
  const note = h('p.muted.note');
  const table = h('table.data', {}, thead, tbody);
  const renderHead = () => {
    thead.replaceChildren(h('tr', {}, columns.map((c) => {
      const th = h('th', { class: c.num ? 'num' : '', scope: 'col' });
      if (c.sort) {
        const b = h('button.sort', {
          type: 'button',
          'data-sort': c.key,
          onclick: () => {
            if (sortKey === c.key) desc = !desc;
            else {
              sortKey = c.key;
              desc = c.num !== false;
            }
            renderBody();
          },
        }, c.title, sortKey === c.key ? (desc ? ' ▼' : ' ▲') : '');
        th.append(b);
        th.setAttribute('aria-sort', sortKey === c.key ? (desc ? 'descending' : 'ascending') : 'none');
      } else {
        th.textContent = c.title;
      }
      return th;
    })));
  };
  let filter = '';
  const renderBody = () => {
    renderHead();
    const col = columns.find((c) => c.key === sortKey);
    const val = col.value;
    let list = rows;
    if (filter) {
      const f = filter.toLowerCase();
      list = list.filter((r) => r.name.toLowerCase().includes(f));
    }
    list = list.slice().sort((a, b) => {
      const x = val(a);
      const y = val(b);
      const c = typeof x === 'string' ? x.localeCompare(y) : x - y;
      return desc ? -c : c;
    });
    tbody.replaceChildren(...list.slice(0, limit).map(rowFn));
    note.textContent = list.length > limit ? `Showing ${limit} of ${list.length} rows; filter to see others.` : `${list.length} rows`;
  };
  renderBody();
  return {
    el: h('div', {}, table, note),
    setFilter: (f) => {
      filter = f;
      renderBody();
    },
  };
}

function bar(v, max) {
  const w = max > 0 ? Math.max(0, Math.min(100, (100 * Math.abs(v)) / max)) : 0;
  return h('span.bar', {}, h('span', { style: `width:${w.toFixed(1)}%` }));
}

async function topView(main, params) {
  const by = ['line', 'caller'].includes(params.get('by')) ? params.get('by') : 'function';
  const data = await api('/api/top', { type: state.type, by });
  const unit = data.unit;
  const total = data.total;
  const maxCum = data.rows.reduce((m, r) => Math.max(m, Math.abs(r.cum)), 0);
  const columns = [
    { key: 'flat', title: 'Flat', num: true, sort: true, value: (r) => Math.abs(r.flat) },
    { key: 'flatp', title: 'Flat %', num: true },
    { key: 'cum', title: 'Cum', num: true, sort: true, value: (r) => Math.abs(r.cum) },
    { key: 'cump', title: 'Cum %', num: true },
    { key: 'name', title: by === 'line' ? 'Function and line' : 'Function', num: false, sort: true, value: (r) => r.name },
    { key: 'go', title: 'Open' },
  ];
  const rowFn = (r) =>
    h('tr', {},
      h('td.num', { text: fmtValue(r.flat, unit) }),
      h('td.num', { text: pct(r.flat, total) }),
      h('td.num', { text: fmtValue(r.cum, unit) }),
      h('td.num', {}, bar(r.cum, maxCum), pct(r.cum, total)),
      h('td.name', { title: r.name },
        h('a.fn', { href: hashLink('flame', { type: state.type, focus: r.function }), text: r.function }),
        r.location ? h('span.loc', { text: ' ' + r.location }) : '',
        r.inline ? h('span.muted', { text: ' ' + r.inline }) : ''),
      h('td.actions', {},
        h('a.to-flame', { href: hashLink('flame', { type: state.type, focus: r.function }), text: 'flame', title: 'Show in the flame graph' }),
        ' ',
        h('a.to-source', { href: hashLink('source', { type: state.type, fn: r.function }), text: 'source', title: 'Bytes per source line' })),
    );
  const sort = params.get('sort') === 'cum' ? 'cum' : 'flat';
  const table = sortableTable(columns, data.rows, sort, rowFn);
  const modes = h('div.segmented', { role: 'group', 'aria-label': 'rows by' },
    h('a', { href: hashLink('top', { by: 'function' }), class: by === 'function' ? 'active' : '', text: 'by function' }),
    h('a', { href: hashLink('top', { by: 'line' }), class: by === 'line' ? 'active' : '', text: 'by line' }),
    h('a', { href: hashLink('top', { by: 'caller' }), class: by === 'caller' ? 'active' : '', text: 'no inlines',
      title: 'What inlined functions (container internals, say) hold goes to their first out-of-line caller, as go tool pprof -noinlines' }));
  const filter = h('input#top-filter', { type: 'search', placeholder: 'Filter by name', 'aria-label': 'filter rows', oninput: (e) => table.setFilter(e.target.value) });
  main.replaceChildren(
    h('div.summary', {}, h('b', { text: data.sample_type }), ` total ${fmtValue(total, unit)} · ${data.node_count.toLocaleString('en-US')} ${by === 'line' ? 'lines' : by === 'caller' ? 'functions, inlined ones counted in their callers' : 'functions'}`,
      by === 'line' && !data.has_lines ? h('span.warn', { text: ' · no line numbers: the binaries were not found or have no DWARF' }) : ''),
    h('div.controls', {}, modes, filter, h('span.muted', { text: 'Click a column to sort; a name opens the flame graph.' })),
    table.el,
  );
}

async function sourceView(main, params) {
  const fn = params.get('fn');
  if (!fn) {
    const top = await api('/api/top', { type: state.type, by: 'function' });
    main.replaceChildren(
      h('p', { text: 'Pick a function to see the bytes per source line:' }),
      h('ul.fn-list', {}, top.rows.slice(0, 40).map((r) =>
        h('li', {}, h('a.to-source', { href: hashLink('source', { type: state.type, fn: r.function }), text: r.function }),
          h('span.muted', { text: ` ${fmtValue(r.flat, top.unit)} flat, ${fmtValue(r.cum, top.unit)} cum` })))),
    );
    return;
  }
  const data = await api('/api/source', { type: state.type, fn });
  const unit = data.unit;
  const parts = [h('div.summary', {}, h('b', { text: data.sample_type }), ` · total ${fmtValue(data.total, unit)} · `,
    h('a', { href: hashLink('flame', { type: state.type, focus: fn }), text: 'show in the flame graph' }))];
  for (const f of data.functions) {
    const maxCum = f.lines.reduce((m, l) => Math.max(m, Math.abs(l.cum)), 0);
    parts.push(h('h2.fn-title', { text: f.function }));
    parts.push(h('div.muted', { text: `${f.file || 'unknown file'} · flat ${fmtValue(f.flat, unit)} · cum ${fmtValue(f.cum, unit)} (${pct(f.cum, data.total)})` +
      (data.companion_type ? ` · ${fmtValue(f.companion_cum, data.companion_unit)} ${data.companion_type} cum` : '') }));
    if (f.source_error) parts.push(h('p.warn', { text: f.source_error }));
    const rows = f.lines.map((l) =>
      h('tr', { class: l.cum ? 'hot' : '' },
        h('td.num.lineno', { text: l.line }),
        h('td.num', { text: l.flat ? fmtValue(l.flat, unit) : '' }),
        h('td.num', { text: l.cum ? fmtValue(l.cum, unit) : '' }),
        h('td.heat', {}, l.cum ? bar(l.cum, maxCum) : ''),
        h('td.code', {}, h('code', { text: l.source || '' }))));
    parts.push(h('table.data.source', {},
      h('thead', {}, h('tr', {}, h('th.num', { text: 'Line' }), h('th.num', { text: 'Flat' }), h('th.num', { text: 'Cum' }), h('th', { text: '' }), h('th', { text: 'Source' }))),
      h('tbody', {}, rows)));
  }
  main.replaceChildren(...parts);
}

async function diffView(main) {
  const data = await api('/api/diff', { type: state.type });
  const unit = data.unit;
  const t = data.table;
  const holder = h('div.flame-holder');
  const graph = new FlameGraph(holder, { inverted: state.inverted });
  const { bar: controls } = flameControls(graph);
  const delta = data.total - data.base_total;
  const fnRows = t.functions.filter((f) => f.flat_delta !== 0 || f.cum_delta !== 0);
  const columns = [
    { key: 'fd', title: 'Δ flat', num: true, sort: true, value: (r) => r.flat_delta },
    { key: 'cd', title: 'Δ cum', num: true, sort: true, value: (r) => r.cum_delta },
    { key: 'bf', title: 'Base flat', num: true, sort: true, value: (r) => r.base_flat },
    { key: 'nf', title: 'New flat', num: true, sort: true, value: (r) => r.new_flat },
    { key: 'name', title: 'Function', num: false, sort: true, value: (r) => r.name },
  ];
  const rows = fnRows.map((f) => ({ ...f, name: f.function }));
  const table = sortableTable(columns, rows, 'fd', (r) =>
    h('tr', {},
      h('td.num', { class: r.flat_delta > 0 ? 'grew num' : r.flat_delta < 0 ? 'shrank num' : 'num', text: fmtSigned(r.flat_delta, unit) }),
      h('td.num', { class: r.cum_delta > 0 ? 'grew num' : r.cum_delta < 0 ? 'shrank num' : 'num', text: fmtSigned(r.cum_delta, unit) }),
      h('td.num', { text: fmtValue(r.base_flat, unit) }),
      h('td.num', { text: fmtValue(r.new_flat, unit) }),
      h('td.name', { title: r.name },
        h('a.fn', { href: hashLink('flame', { type: state.type, focus: r.name }), text: r.name }), ' ',
        h('a.to-source.muted', { href: hashLink('source', { type: state.type, fn: r.name }), text: 'source' }))), 300);
  main.replaceChildren(
    h('div.summary', {}, h('b', { text: data.sample_type }), ` ${shortName(data.base_source)} → ${shortName(data.source)}: `,
      `${fmtValue(data.base_total, unit)} → ${fmtValue(data.total, unit)} `,
      h('b', { class: delta > 0 ? 'grew' : delta < 0 ? 'shrank' : '', text: `(${fmtSigned(delta, unit)})` })),
    controls,
    h('div.legend', {}, h('span.swatch.grew-bg'), ' grew ', h('span.swatch.shrank-bg'), ' shrank · widths by the newer profile'),
    holder,
    h('h2', { text: 'What grew (by function)' }),
    table.el,
  );
  graph.setData(data.flame, { unit, sampleType: data.sample_type, diff: true });
  main.dataset.drawn = String(performance.now());
}

async function start() {
  document.getElementById('app').replaceChildren(h('div.loading', { text: 'Loading…' }));
  try {
    state.info = await api('/api/info');
  } catch (e) {
    document.getElementById('app').replaceChildren(errorBox(String(e.message || e)));
    return;
  }
  state.type = state.info.default_type;
  document.title = 'heapscope' + (offline ? ' (offline)' : '');
  shell();
  window.addEventListener('hashchange', render);
  render();
}

start();
