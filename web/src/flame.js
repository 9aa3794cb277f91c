// A flame graph on a canvas: the server sends the prefix tree already
// aggregated and pruned (web_data.cc); here it is laid out, drawn, zoomed,
// searched and explained in a tooltip. Differential trees (a base value per
// node) are coloured red where a frame grew and blue where it shrank.
import { fmtSigned, fmtValue, h, pct, cssVar } from './util.js';

const ROW = 18;

function hashName(s) {
  let x = 0;
  for (let i = 0; i < s.length; i++) x = (x * 31 + s.charCodeAt(i)) | 0;
  return x >>> 0;
}

export class FlameGraph {
  constructor(container, options = {}) {
    this.options = options;
    this.root = h('div.flame');
    this.canvas = h('canvas.flame-canvas', { 'aria-label': 'flame graph', role: 'img' });
    this.tooltip = h('div.tooltip', { hidden: true });
    this.root.append(this.canvas, this.tooltip);
    container.append(this.root);
    this.inverted = !!options.inverted; // false: icicle (root on top)
    this.zoom = 0;
    this.matches = null;
    this.rects = [];
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => (this.tooltip.hidden = true));
    this.canvas.addEventListener('click', (e) => {
      const hit = this.hit(e);
      if (hit !== null) this.setZoom(hit);
    });
    this.resizeObserver = new ResizeObserver(() => this.draw());
    this.resizeObserver.observe(this.root);
  }

  // tree: {names, nodes: [name, value, companion, base, children]*}
  setData(tree, meta) {
    this.meta = meta;
    const flat = tree.nodes;
    const n = flat.length / 5;
    this.n = n;
    this.names = tree.names;
    this.name = new Uint32Array(n);
    this.value = new Float64Array(n);
    this.comp = new Float64Array(n);
    this.base = new Float64Array(n);
    this.start = new Float64Array(n);
    this.depth = new Uint16Array(n);
    this.parent = new Int32Array(n);
    this.end = new Uint32Array(n);
    this.self = new Float64Array(n);
    // Preorder with child counts: a stack of [node, children left, next start].
    const stack = [];
    let maxDepth = 0;
    let maxDelta = 0;
    for (let i = 0; i < n; i++) {
      const o = i * 5;
      this.name[i] = flat[o];
      this.value[i] = flat[o + 1];
      this.comp[i] = flat[o + 2];
      this.base[i] = flat[o + 3];
      const kids = flat[o + 4];
      this.self[i] = this.value[i];
      if (stack.length) {
        const top = stack[stack.length - 1];
        this.parent[i] = top.node;
        this.depth[i] = this.depth[top.node] + 1;
        this.start[i] = top.next;
        top.next += Math.max(0, this.value[i]);
        top.left--;
        this.self[top.node] -= this.value[i];
      } else {
        this.parent[i] = -1;
        this.depth[i] = 0;
        this.start[i] = 0;
      }
      maxDepth = Math.max(maxDepth, this.depth[i]);
      maxDelta = Math.max(maxDelta, Math.abs(this.value[i] - this.base[i]));
      stack.push({ node: i, left: kids, next: this.start[i] });
      while (stack.length && stack[stack.length - 1].left === 0) {
        this.end[stack.pop().node] = i + 1;
      }
    }
    while (stack.length) this.end[stack.pop().node] = n;
    this.maxDepth = maxDepth;
    this.maxDelta = maxDelta;
    this.zoom = 0;
    this.matches = null;
    this.draw();
  }

  setInverted(v) {
    this.inverted = v;
    this.draw();
  }

  nameOf(i) {
    return this.names[this.name[i]];
  }

  isAncestor(a, b) {
    // a is an ancestor of (or is) b
    return b >= a && b < this.end[a];
  }

  setZoom(i) {
    this.zoom = i;
    this.draw();
    if (this.options.onZoom) this.options.onZoom(i === 0 ? null : this.nameOf(i));
  }

  // Zooms to the largest frame of that function; returns whether there was one.
  focusName(name) {
    let best = -1;
    for (let i = 0; i < this.n; i++) {
      if (this.nameOf(i) === name && (best < 0 || this.value[i] > this.value[best])) best = i;
    }
    if (best < 0) {
      // A short name (the leak report's "Cache::Put"): frames that contain it.
      for (let i = 1; i < this.n; i++) {
        if (this.nameOf(i).includes(name) && (best < 0 || this.value[i] > this.value[best])) best = i;
      }
    }
    if (best < 0) return false;
    this.setZoom(best);
    return true;
  }

  // Highlights frames whose name matches; returns {count, value} where
  // value counts each sample once (matches inside matches are not added).
  search(query) {
    if (!query) {
      this.matches = null;
      this.draw();
      return null;
    }
    let test;
    try {
      const re = new RegExp(query, 'i');
      test = (s) => re.test(s);
    } catch (e) {
      const q = query.toLowerCase();
      test = (s) => s.toLowerCase().includes(q);
    }
    const byName = new Map();
    this.matches = new Uint8Array(this.n);
    let count = 0;
    for (let i = 1; i < this.n; i++) {
      const id = this.name[i];
      let m = byName.get(id);
      if (m === undefined) {
        m = test(this.names[id]);
        byName.set(id, m);
      }
      if (m) {
        this.matches[i] = 1;
        count++;
      }
    }
    let value = 0;
    for (let i = 1; i < this.n; ) {
      if (this.matches[i]) {
        value += this.value[i];
        i = this.end[i];
      } else {
        i++;
      }
    }
    this.draw();
    return { count, value, total: this.value[0] };
  }

  color(i) {
    if (this.matches && this.matches[i]) return this.palette.match;
    if (this.meta && this.meta.diff) {
      const d = this.value[i] - this.base[i];
      if (d === 0 || this.maxDelta === 0) return this.palette.neutral;
      const t = Math.min(1, Math.abs(d) / this.maxDelta);
      const s = 0.25 + 0.75 * Math.sqrt(t);
      return d > 0
        ? `hsl(0, ${Math.round(85 * s)}%, ${this.dark ? 48 - 10 * s : 82 - 28 * s}%)`
        : `hsl(220, ${Math.round(85 * s)}%, ${this.dark ? 48 - 10 * s : 82 - 28 * s}%)`;
    }
    const x = hashName(this.nameOf(i));
    const hue = 10 + (x % 40);
    const sat = 65 + ((x >> 8) % 25);
    const light = this.dark ? 38 + ((x >> 16) % 12) : 62 + ((x >> 16) % 14);
    return `hsl(${hue}, ${sat}%, ${light}%)`;
  }

  draw() {
    if (!this.n) return;
    this.dark = matchMedia('(prefers-color-scheme: dark)').matches;
    this.palette = {
      match: this.dark ? '#c86fe8' : '#d35fe6',
      neutral: this.dark ? '#555a63' : '#c9ccd1',
      text: this.dark ? '#f2f2f2' : '#1d1d1d',
      dim: cssVar('--muted') || '#888',
    };
    const width = Math.max(200, this.root.clientWidth);
    const z = this.zoom;
    const zd = this.depth[z];
    const rows = this.maxDepth + 1;
    const height = rows * ROW + 4;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(height * dpr);
    this.canvas.style.width = width + 'px';
    this.canvas.style.height = height + 'px';
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    ctx.textBaseline = 'middle';
    const zv = Math.max(1e-9, this.value[z]);
    const scale = width / zv;
    const x0 = this.start[z];
    const rects = [];
    const y = (d) => (this.inverted ? height - (d + 1) * ROW : d * ROW);
    const drawRect = (i, x, w) => {
      const d = this.depth[i];
      const yy = y(d);
      ctx.fillStyle = this.color(i);
      ctx.globalAlpha = i !== z && !this.isAncestor(z, i) ? 0.55 : 1;
      ctx.fillRect(x, yy, Math.max(w - 0.5, 0.5), ROW - 1);
      ctx.globalAlpha = 1;
      if (w > 28) {
        const name = this.nameOf(i);
        ctx.fillStyle = this.palette.text;
        const full = ctx.measureText(name).width;
        let label = name;
        if (full > w - 8) {
          const chars = Math.floor((name.length * (w - 8)) / full) - 1;
          label = chars > 1 ? name.slice(0, chars) + '…' : '';
        }
        if (label) ctx.fillText(label, x + 4, yy + ROW / 2);
      }
      rects.push([i, x, yy, w]);
    };
    // Ancestors of the zoomed frame span the whole width.
    for (let a = z; a >= 0; a = this.parent[a]) drawRect(a, 0, width);
    // The zoomed subtree, skipping whole subtrees below a third of a pixel.
    for (let i = z + 1; i < this.end[z]; ) {
      const w = this.value[i] * scale;
      if (w < 0.33) {
        i = this.end[i];
        continue;
      }
      drawRect(i, (this.start[i] - x0) * scale, w);
      i++;
    }
    this.rects = rects;
    this.height = height;
    this.rootDepth = zd;
    if (this.options.onDraw) this.options.onDraw();
  }

  hit(e) {
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const yy = e.clientY - r.top;
    for (const [i, rx, ry, w] of this.rects) {
      if (x >= rx && x < rx + w && yy >= ry && yy < ry + ROW) return i;
    }
    return null;
  }

  hover(e) {
    const i = this.hit(e);
    if (i === null) {
      this.tooltip.hidden = true;
      this.canvas.style.cursor = 'default';
      return;
    }
    this.canvas.style.cursor = 'pointer';
    const m = this.meta;
    const total = this.value[0];
    const rows = [
      h('div.tt-name', { text: i === 0 ? 'all' : this.nameOf(i) }),
      h('div', {}, `${m.sampleType}: `, h('b', { text: fmtValue(this.value[i], m.unit) }), ` (${pct(this.value[i], total)} of total)`),
    ];
    if (m.companionType) {
      rows.push(h('div', {}, `${m.companionType}: `, h('b', { text: fmtValue(this.comp[i], m.companionUnit) })));
    }
    rows.push(h('div', { text: `self: ${fmtValue(this.self[i], m.unit)} (${pct(this.self[i], total)})` }));
    if (this.zoom !== 0 && this.isAncestor(this.zoom, i)) {
      rows.push(h('div', { text: `${pct(this.value[i], this.value[this.zoom])} of the zoomed frame` }));
    }
    if (m.diff) {
      const d = this.value[i] - this.base[i];
      rows.push(
        h('div', {}, 'change: ', h('b', { class: d > 0 ? 'grew' : d < 0 ? 'shrank' : '', text: fmtSigned(d, m.unit) }),
          ` (base ${fmtValue(this.base[i], m.unit)})`),
      );
    }
    rows.push(h('div.tt-hint', { text: 'click to zoom' }));
    this.tooltip.replaceChildren(...rows);
    this.tooltip.hidden = false;
    const rr = this.root.getBoundingClientRect();
    const tw = this.tooltip.offsetWidth;
    let left = e.clientX - rr.left + 14;
    if (left + tw > rr.width) left = Math.max(0, e.clientX - rr.left - tw - 14);
    this.tooltip.style.left = left + 'px';
    this.tooltip.style.top = e.clientY - rr.top + 16 + 'px';
  }
}
