// Small helpers shared by the views: the API (served or inlined), value
// formatting, DOM building.

const inline = (() => {
  const el = document.getElementById('heapscope-data');
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch (e) {
    return {};
  }
})();

export const offline = inline !== null;

// The key an answer is stored under in an offline file: the path, then the
// parameters sorted by name ("/api/top?by=line&type=inuse_space").
function key(path, params) {
  const names = Object.keys(params).filter((k) => params[k] !== undefined && params[k] !== '').sort();
  if (!names.length) return path;
  return path + '?' + names.map((k) => k + '=' + params[k]).join('&');
}

export async function api(path, params = {}) {
  if (offline) {
    const k = key(path, params);
    if (!(k in inline)) {
      throw new Error('not included in this file (run heapscope web for every view)');
    }
    return inline[k];
  }
  const q = new URLSearchParams();
  for (const k of Object.keys(params).sort()) {
    if (params[k] !== undefined && params[k] !== '') q.set(k, params[k]);
  }
  const url = path + (q.toString() ? '?' + q.toString() : '');
  const res = await fetch(url, { cache: 'no-store' });
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new Error(`${url}: HTTP ${res.status}`);
  }
  if (!res.ok) throw new Error(body && body.error ? body.error : `${url}: HTTP ${res.status}`);
  return body;
}

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function fmtValue(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (unit === 'bytes') {
    const neg = v < 0;
    let x = Math.abs(v);
    let i = 0;
    while (x >= 1024 && i < BYTE_UNITS.length - 1) {
      x /= 1024;
      i++;
    }
    const s = i === 0 ? String(Math.round(x)) : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
    return (neg ? '-' : '') + s + ' ' + BYTE_UNITS[i];
  }
  if (unit === 'nanoseconds') return fmtDuration(v / 1e9);
  return Math.round(v).toLocaleString('en-US');
}

export function fmtSigned(v, unit) {
  return (v > 0 ? '+' : '') + fmtValue(v, unit);
}

export function pct(v, total) {
  if (!total) return '0%';
  const p = (100 * v) / Math.abs(total);
  const a = Math.abs(p);
  return (a >= 10 ? p.toFixed(1) : a >= 0.1 ? p.toFixed(2) : p.toFixed(3)) + '%';
}

export function fmtDuration(sec) {
  if (sec === null || sec === undefined || !Number.isFinite(sec)) return '–';
  if (sec === 0) return '0 s';
  if (Math.abs(sec) < 1) return (sec * 1000).toFixed(0) + ' ms';
  if (Math.abs(sec) < 120) return (Number.isInteger(sec) || sec >= 60 ? sec.toFixed(0) : sec.toFixed(1)) + ' s';
  if (sec < 7200) return (sec / 60).toFixed(1) + ' min';
  if (sec < 172800) return (sec / 3600).toFixed(1) + ' h';
  return (sec / 86400).toFixed(1) + ' days';
}

// h('div.class#id', {attrs}, children...)
export function h(tag, attrs, ...children) {
  const m = tag.match(/^([a-z0-9]+)((?:[.#][\w-]+)*)$/i);
  const el = document.createElement(m ? m[1] : tag);
  if (m && m[2]) {
    for (const part of m[2].match(/[.#][\w-]+/g)) {
      if (part[0] === '.') el.classList.add(part.slice(1));
      else el.id = part.slice(1);
    }
  }
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'text') el.textContent = v;
      else if (k === 'style') el.style.cssText = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function hashLink(view, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return '#/' + view + (s ? '?' + s : '');
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function errorBox(message) {
  return h('div.error', { role: 'alert' }, message);
}
