// End-to-end tests of `heapscope web` in Debian's headless Chromium
// (playwright-core drives /usr/bin/chromium; no browser is ever downloaded).
//
// node web/test/e2e.mjs --heapscope BIN --runtime LIB --program LEAK_SCENARIOS --out DIR
//     [--own-malloc OWN_MALLOC]
//   Runs the leaking program under `heapscope run`, serves the snapshot
//   directory, loads every view, searches the flame graph, clicks from the
//   top table into the flame graph and the source view, checks what is on
//   screen, checks every request went to the heapscope server, writes a
//   screenshot of each view into DIR; then the offline files of
//   `heapscope leaks --html` and `heapscope flame -o X.html`, a live
//   endpoint, a program with its own malloc (the page says its heap was
//   not profiled), and bad input.
// node web/test/e2e.mjs --heapscope BIN --measure PROFILE [--runs N]
//   How long the page takes from navigation to the flame graph drawn.
//
// Without /usr/bin/chromium the test is skipped (exit 77), unless
// HEAPSCOPE_REQUIRE_CHROMIUM=1 (scripts/test.sh installs it and sets that).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import zlib from 'node:zlib';

const CHROMIUM = '/usr/bin/chromium';
const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

if (!fs.existsSync(CHROMIUM)) {
  if (process.env.HEAPSCOPE_REQUIRE_CHROMIUM === '1') {
    console.error(`FAIL: ${CHROMIUM} is missing although the test command should have installed it`);
    process.exit(1);
  }
  console.log(`SKIP: ${CHROMIUM} is not installed (scripts/install-deps.sh test installs it)`);
  process.exit(77);
}
const { chromium } = await import('playwright-core');

const failures = [];
function check(cond, msg) {
  if (!cond) {
    failures.push(msg);
    console.log('FAIL:', msg);
  } else {
    console.log('ok:', msg);
  }
  return cond;
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hs-web-e2e-'));
const children = [];
function cleanup() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
  // HS_E2E_KEEP=1 keeps the snapshots and screenshots' inputs for a look.
  if (process.env.HS_E2E_KEEP) console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

// Adds a comment to a gzipped profile.proto, as a runtime would have
// written it: a new string at the end of string_table (field 6) and its
// index in comment (field 13); both repeated, so appending them to the
// message keeps everything before.
function addProfileComment(file, comment) {
  const b = zlib.gunzipSync(fs.readFileSync(file));
  const varint = (i) => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const c = b[i++];
      v += (c & 0x7f) * 2 ** shift;
      if (c < 0x80) return [v, i];
    }
  };
  const enc = (v) => {
    const out = [];
    for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v & 0x7f) | 0x80);
    out.push(v);
    return out;
  };
  let strings = 0;
  for (let i = 0; i < b.length;) {
    let tag, len;
    [tag, i] = varint(i);
    switch (tag & 7) {
      case 0: [, i] = varint(i); break;
      case 1: i += 8; break;
      case 5: i += 4; break;
      case 2:
        [len, i] = varint(i);
        i += len;
        if (tag >>> 3 === 6) strings++;
        break;
      default: throw new Error(`${file}: wire type ${tag & 7}`);
    }
  }
  const s = Buffer.from(comment);
  const tail = Buffer.from([(6 << 3) | 2, ...enc(s.length), ...s, 13 << 3, ...enc(strings)]);
  fs.writeFileSync(file, zlib.gzipSync(Buffer.concat([b, tail])));
}

async function launchBrowser() {
  const dataDir = fs.mkdtempSync(path.join(tmp, 'chromium-'));
  return chromium.launchPersistentContext(dataDir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    env: { ...process.env, HOME: tmp },
  });
}

// Starts `heapscope web ARGS`, resolves with {proc, url} once it prints its URL.
function startWeb(argv) {
  return new Promise((resolve, reject) => {
    const proc = spawn(args.heapscope, ['web', '--port', '0', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(proc);
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const rl = readline.createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error('heapscope web printed no URL: ' + err)), 120000);
    rl.on('line', (line) => {
      const m = line.match(/serving .* on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, url: m[1], stderr: () => err });
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`heapscope web exited with ${code}: ${err}`));
    });
  });
}

async function stopWeb(w) {
  const done = new Promise((r) => w.proc.once('exit', (code, sig) => r({ code, sig })));
  w.proc.kill('SIGINT');
  const { code } = await done;
  check(code === 0, `heapscope web stops cleanly on SIGINT (exit ${code})`);
}

async function waitReady(page, view) {
  await page.waitForSelector(`main#view[data-view="${view}"][data-ready="1"]`, { timeout: 60000 });
}

async function shot(page, name) {
  fs.mkdirSync(args.out, { recursive: true });
  const file = path.join(args.out, name + '.png');
  await page.screenshot({ path: file, fullPage: name !== 'flame-hover' });
  console.log('screenshot:', file);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// From navigation start to the flame graph drawn, in ms (the page stamps
// performance.now() on <main> once the canvas is drawn).
async function timeFlame(context, url) {
  const page = await context.newPage();
  await page.goto(url + '#/flame', { waitUntil: 'commit' });
  await page.waitForSelector('main#view[data-drawn]', { timeout: 120000 });
  const ms = Number(await page.getAttribute('main#view', 'data-drawn'));
  const fetched = Number(await page.getAttribute('main#view', 'data-fetched'));
  const frames = await page.evaluate(() => document.querySelector('.summary').textContent);
  await page.close();
  return { ms, fetched, frames };
}

async function measure() {
  const runs = Number(args.runs || 5);
  const context = await launchBrowser();
  const cold = [];
  const warm = [];
  const draw = [];
  let summary = '';
  for (let r = 0; r < 3; r++) {
    const t0 = Date.now();
    const w = await startWeb([args.measure]);
    const load = Date.now() - t0;
    const first = await timeFlame(context, w.url);
    cold.push(first.ms);
    summary = first.frames;
    for (let i = 0; i < runs; i++) {
      const t = await timeFlame(context, w.url);
      warm.push(t.ms);
      draw.push(t.ms - t.fetched);
    }
    console.log(`server start (reading + symbolizing the profile): ${load} ms; first page: ${first.ms.toFixed(0)} ms`);
    await stopWeb(w);
  }
  await context.close();
  console.log(`flame graph: ${summary}`);
  console.log(`navigation to flame graph drawn, first load after start (tree computed): median ${median(cold).toFixed(0)} ms of ${cold.map((x) => x.toFixed(0)).join(', ')}`);
  console.log(`navigation to flame graph drawn, later loads (tree cached): median ${median(warm).toFixed(0)} ms over ${warm.length} loads`);
  console.log(`of which from the tree received to drawn (JSON parsed, laid out, painted): median ${median(draw).toFixed(0)} ms`);
  console.log(`load average while measuring: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs`);
}

function run(argv, opts = {}) {
  return spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120000, ...opts });
}

async function viewsTest() {
  // A real snapshot directory: the leaking program under `heapscope run`.
  const snaps = path.join(tmp, 'snaps');
  // 20 s: the 8 MB LRU decoy fills in 3 s, then churns; its sampled level
  // wanders for as long as its objects live (~3 s), which the trend test
  // takes for independent points. Over 12 s it passed for growing once in
  // CI under load (0 of 40 runs on a quiet machine); a longer flat part
  // after the fill makes that drift much less likely to pass for a trend.
  const r = run([args.heapscope, 'run', '--interval', '500ms', '--out', snaps, '--', args.program, '20']);
  check(r.status === 0, `heapscope run exits 0 (${r.status}): ${(r.stderr || '').slice(-400)}`);

  const web = await startWeb([snaps, '--limit', '4G']);
  const origin = new URL(web.url).origin;
  const context = await launchBrowser();
  const requests = [];
  context.on('request', (req) => requests.push(req.url()));
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(m.text()));

  // Leak trends (the default view of a snapshot directory).
  await page.goto(web.url);
  await waitReady(page, 'leaks');
  let text = await page.innerText('main');
  // The whole heap's verdict depends on where the program's 40 MB bursts
  // fall in the window; the suspects' verdicts do not.
  check(/heap in use .* is\s+(growing|plateau|transient|constant|shrinking)/s.test(text), 'leaks: the process heap has a verdict');
  // Sampled at the default rate: the page says how slow a leak it cannot see.
  check(/Heap leaks slower than about [\d.]+ (KiB|MiB)\/s cannot stand out/.test(text), 'leaks: the slowest visible heap leak is stated');
  // The time to the limit, from the resident memory the profiles carry.
  check(/limit 4\.00 GiB \(--limit\), [\d.]+ MiB resident, reached in \S+/.test(text), `leaks: the limit, the resident memory and the time to it (${(text.match(/limit[^\n]*/) || [''])[0]})`);
  // Each stack card: its kind, its unit, the head line and the whole stack.
  const cards = await page.$$eval('section.suspect[data-list=stack]', (els) => els.map((e) => ({
    kind: e.dataset.kind,
    unit: e.dataset.unit,
    head: e.querySelector('.card-head').innerText,
    text: e.innerText,
    stack: e.querySelector('ol.stack').textContent,
    badge: (e.querySelector('.badge.kind') || {}).textContent,
  })));
  check(cards.length >= 4, `leaks: ${cards.length} suspect cards`);
  const cacheCard = cards.find((c) => c.kind === 'heap' && c.text.includes('LeakIntoUnboundedCache'));
  // Frames carry their source lines (the scenarios are built with DWARF).
  check(cacheCard && /LeakIntoUnboundedCache[^\n]*leak_scenarios\.cc:\d+/.test(cacheCard.stack), `leaks: the stack shows source lines (${cacheCard && cacheCard.stack.slice(0, 200)})`);
  check(cacheCard && /growing/.test(cacheCard.text), 'leaks: LeakIntoUnboundedCache is a suspect, verdict growing');
  check(cacheCard && /\/h/.test(cacheCard.text) && /time to limit\s+\S+/.test(cacheCard.text), 'leaks: growth per hour and time to limit shown');
  // Resource kinds: the fd and thread leaks, counted, not sized.
  for (const [kind, fn, noun] of [['fd', 'LeakFileDescriptor', 'descriptors'], ['thread', 'ParkThreadForever', 'threads']]) {
    const c = cards.find((x) => x.kind === kind && x.stack.includes(fn));
    check(c && c.badge === kind && c.unit === 'count' && /growing/.test(c.head), `leaks: a ${kind} suspect card for ${fn} with its kind badge (${c && c.head})`);
    check(c && new RegExp(`in use now\\s+[\\d,]+ ${noun}`).test(c.text) && new RegExp(`growth\\s+[\\d.,]+ ${noun}/s · [\\d,]+/h`).test(c.text) && !/\d (B|KiB|MiB|GiB)\b/.test(c.text),
      `leaks: the ${kind} card counts ${noun}, no byte sizes (${c && c.text.replace(/\n/g, ' | ').slice(0, 200)})`);
  }
  // Each resource leak's own limit: the open-file limit (the runtime's
  // RLIMIT_NOFILE), the task limit (a cgroup's or the machine's), both in
  // the summary and on the suspects' cards.
  const dur = '[\\d.]+ (ms|s|min|h|days)';
  for (const [kind, fn, name] of [['fd', 'LeakFileDescriptor', "the open-file limit"], ['thread', 'ParkThreadForever', "the (cgroup's|system's) task limit"]]) {
    const c = cards.find((x) => x.kind === kind && x.stack.includes(fn));
    check(c && new RegExp(`time to limit\\s+${dur} to ${name} \\([\\d,]+\\)`).test(c.text), `leaks: the ${kind} card has its time to ${name} (${c && (c.text.match(/time to limit[^\n]*\n?[^\n]*/) || [''])[0]})`);
    const summary = await page.$eval(`span.resource[data-kind=${kind}]`, (e) => e.textContent).catch(() => '');
    check(new RegExp(`${name} [\\d,]+, reached in ${dur}`).test(summary), `leaks: the ${kind} summary names its limit and the time to it (${summary})`);
  }
  // The y axes (drawn on canvas; the chart notes its unit and tick labels).
  for (const [kind, noun] of [['fd', 'descriptors'], ['thread', 'threads']]) {
    const axis = await page.$eval(`section.suspect[data-list=stack][data-kind=${kind}] .chart`, (e) => ({ ...e.dataset })).catch(() => ({}));
    check(axis.unit === 'count' && axis.yLabel === noun && /^\d[\d,]*( \d[\d,]*)+$/.test(axis.yTicks || ''),
      `leaks: the ${kind} chart's y axis counts ${noun} (ticks ${axis.yTicks})`);
  }
  const heapAxis = await page.$eval('section.suspect[data-list=stack][data-kind=heap] .chart', (e) => ({ ...e.dataset }));
  check(heapAxis.unit === 'bytes' && /(KiB|MiB)/.test(heapAxis.yTicks), `leaks: a heap chart's y axis in bytes (ticks ${heapAxis.yTicks})`);
  const decoys = /FillBoundedLru|BoundedLru::Put|BuildReportBurst|BuildStartupTable|ChurnRequests|ReadConfigFile|StartWorkerPool|RunShortTask|MapScratchBuffer/;
  const leaks = /LeakIntoUnboundedCache|LeakListener|LeakSlowly|LeakFileDescriptor|ParkThreadForever|LeakMapping/;
  // A card belongs to the first scenario function its stack names (leaf first).
  const owners = cards.map((c) => { const m = c.stack.match(new RegExp(`${decoys.source}|${leaks.source}`)); return m ? m[0] : c.head; });
  check(owners.every((o) => leaks.test(o)), `leaks: no decoy in a suspect card (${owners.join(', ')})`);
  // RSS and where it goes.
  const rss = await page.$('section.card.rss');
  check(rss, 'leaks: the "Where resident memory goes" card');
  if (rss) {
    const parts = await rss.$$eval('ul.rss-legend li', (els) => els.map((e) => e.dataset.part));
    check(['heap', 'thread_stacks', 'code', 'other'].every((p) => parts.includes(p)), `leaks: RSS parts in the legend (${parts.join(', ')})`);
    const growth = await rss.$eval('p.rss-growth', (e) => e.textContent).catch(() => '');
    check(/^resident memory (grew|shrank|did not change)/.test(growth) && /live heap/.test(growth), `leaks: which RSS part grew (${growth})`);
    const drawn = await rss.$$eval('.uplot canvas', (els) => els.filter((e) => e.width > 300 && e.height > 100).length);
    check(drawn === 1, 'leaks: the RSS chart is drawn');
    // The chart's bands: the top of the stack is the sum of the parts.
    const series = await page.evaluate(async () => (await (await fetch('/api/leaks')).json()).rss_parts);
    const names = Object.keys(series);
    const heapShare = series.heap.map((v, i) => v / names.reduce((a, n) => a + (series[n][i] || 0), 0));
    check(names.length >= 6 && heapShare.every((x) => x > 0 && x < 1), `leaks: ${names.length} RSS parts, the heap a share of each snapshot's RSS`);
  }
  const totalLines = await page.$$eval('section.card.total .u-legend .u-series', (els) => els.map((e) => e.innerText.trim()).filter((t) => t && t !== 'time'));
  check(totalLines.includes('RSS'), `leaks: RSS drawn beside the heap in use (${totalLines.join(', ')})`);
  const charts = await page.$$eval('.uplot canvas', (els) => els.filter((e) => e.width > 100 && e.height > 50).length);
  check(charts >= cards.length + 2, `leaks: ${charts} charts drawn (total, RSS parts, one per suspect)`);
  await shot(page, 'leaks');

  // Flame graph: search.
  await page.goto(web.url + '#/flame');
  await waitReady(page, 'flame');
  await page.fill('#search', 'LeakIntoUnboundedCache');
  const matched = await page.textContent('#matched');
  const m = matched.match(/(\d+) frames? matched, .*\(([\d.]+)% of total\)/);
  check(m && Number(m[1]) >= 1 && Number(m[2]) > 1, `flame: search matches (${matched})`);
  await shot(page, 'flame-search');
  await page.fill('#search', '');
  // Hover the widest frame below the root for the tooltip.
  const box = await page.$eval('canvas.flame-canvas', (c) => { const r = c.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; });
  check(box.w > 800 && box.h > 60, `flame: canvas ${box.w}x${box.h}`);
  await page.mouse.move(box.x + box.w / 2, box.y + 18 * 1 + 9);
  const tip = await page.innerText('.tooltip');
  check(/inuse_space: .*\d.*% of total/.test(tip) && /inuse_objects: \d/.test(tip), `flame: tooltip with bytes, objects and share (${tip.replace(/\n/g, ' | ')})`);
  await shot(page, 'flame-hover');
  await page.check('#inverted');
  await shot(page, 'flame-inverted');
  await page.uncheck('#inverted');
  // Another sample type.
  await page.selectOption('#sample-type', 'alloc_space');
  await waitReady(page, 'flame');
  text = await page.innerText('main .summary');
  check(text.includes('alloc_space'), `flame: alloc_space selectable (${text})`);
  await page.selectOption('#sample-type', 'inuse_space');
  await waitReady(page, 'flame');
  // No inlines: the checkbox redraws the graph with what inlined frames
  // hold given to their out-of-line caller; no function the top table
  // marks (inline) is drawn then, though some are by default.
  await page.check('#noinlines');
  await waitReady(page, 'flame');
  check((await page.evaluate(() => location.hash)).includes('by=caller'), 'flame no inlines: kept in the address');
  text = await page.innerText('main .summary');
  check(text.includes('inlined functions counted in their callers'), `flame no inlines: the mode named (${text})`);
  const named = await page.evaluate(async () => {
    const get = async (q) => (await (await fetch('/api/' + q)).json());
    const top = await get('top?type=inuse_space&by=function');
    return {
      inline: top.rows.filter((r) => r.inline === '(inline)').map((r) => r.function),
      drawn: (await get('flame?type=inuse_space')).names,
      noInlines: (await get('flame?by=caller&type=inuse_space')).names,
    };
  });
  check(named.inline.some((n) => named.drawn.includes(n)), `flame: inlined functions drawn by default (${named.inline.length} in top)`);
  const left = named.inline.filter((n) => named.noInlines.includes(n));
  check(named.noInlines.length > 1 && left.length === 0, `flame no inlines: no inlined function drawn (${left.slice(0, 3).join(', ')})`);
  await shot(page, 'flame-no-inlines');
  await page.uncheck('#noinlines');
  await waitReady(page, 'flame');
  check(!(await page.evaluate(() => location.hash)).includes('by=caller'), 'flame: inlines back');

  // Top table: sort, then into the flame graph and the source view.
  await page.goto(web.url + '#/top');
  await waitReady(page, 'top');
  text = await page.innerText('main');
  check(text.includes('LeakIntoUnboundedCache'), 'top: LeakIntoUnboundedCache listed');
  await page.click('button.sort[data-sort=cum]');
  const cums = await page.$$eval('table.data tbody tr', (rows) => rows.slice(0, 5).map((r) => r.children[2].textContent));
  check(cums.length === 5, `top: sorted by cum: ${cums.join(', ')}`);
  await shot(page, 'top');
  await page.click('table.data tbody tr:has(a.fn:text-is("LeakIntoUnboundedCache(unsigned long)")) a.fn, table.data tbody tr:has(a.fn:has-text("LeakIntoUnboundedCache")) a.fn');
  await waitReady(page, 'flame');
  const zoomed = await page.textContent('#zoomed');
  check(zoomed.includes('LeakIntoUnboundedCache'), `top -> flame: zoomed to the function (${zoomed})`);
  check((await page.textContent('#matched')).match(/[1-9]\d* frames? matched/), 'top -> flame: its frames highlighted');
  await shot(page, 'flame-zoomed');
  await page.click('#reset');
  check((await page.textContent('#zoomed')) === '', 'flame: reset zoom');

  await page.goto(web.url + '#/top');
  await waitReady(page, 'top');
  await page.click('table.data tbody tr:has(a.fn:has-text("LeakIntoUnboundedCache")) a.to-source');
  await waitReady(page, 'source');
  text = await page.innerText('main');
  check(text.includes('LeakIntoUnboundedCache'), 'top -> source: the function is shown');
  check(text.includes('leak_scenarios.cc'), 'source: names the file');
  check(/unbounded_cache\)\[key\]/.test(text), 'source: the source line that allocates is shown');
  const hot = await page.$$eval('table.source tr.hot', (rows) => rows.map((r) => r.innerText));
  check(hot.length >= 1 && hot.some((r) => /\d+(\.\d+)? (KiB|MiB|B)/.test(r)), `source: bytes on ${hot.length} line(s)`);
  await shot(page, 'source');

  await page.goto(web.url + '#/top?by=line');
  await waitReady(page, 'top');
  const locs = await page.$$eval('table.data tbody span.loc', (els) => els.map((e) => e.textContent));
  check(locs.some((l) => /leak_scenarios\.cc:\d+/.test(l)), `top by line: file:line rows (${locs.slice(0, 2).join(', ')})`);
  await shot(page, 'top-by-line');

  // No inlines: what inlined frames hold goes to the out-of-line caller.
  await page.goto(web.url + '#/top?by=caller');
  await waitReady(page, 'top');
  text = await page.innerText('main');
  check(text.includes('LeakIntoUnboundedCache') && text.includes('inlined ones counted in their callers'),
    'top no inlines: rows and the mode named');
  const inl = await page.$$eval('table.data tbody span.muted', (els) => els.map((e) => e.textContent).filter((t) => /inline/.test(t)));
  check(inl.length === 0, `top no inlines: no (inline) rows (${inl.length})`);
  await page.goto(web.url + '#/top');
  await waitReady(page, 'top');
  const inlDefault = await page.$$eval('table.data tbody span.muted', (els) => els.map((e) => e.textContent).filter((t) => /inline/.test(t)));
  check(inlDefault.length > 0, `top: (inline) rows by default (${inlDefault.length}), so the check above can fail`);
  await page.goto(web.url + '#/top?by=caller');
  await waitReady(page, 'top');
  await shot(page, 'top-no-inlines');

  // Diff: first snapshot against the last.
  await page.goto(web.url + '#/diff');
  await waitReady(page, 'diff');
  text = await page.innerText('main');
  check(text.includes('What grew'), 'diff: table of what grew');
  const grew = await page.$$eval('table.data tbody tr', (rows) => rows.map((r) => r.innerText));
  const row = grew.find((r) => r.includes('LeakIntoUnboundedCache'));
  check(row && /\+\d+(\.\d+)? MiB/.test(row), `diff: LeakIntoUnboundedCache grew (${row})`);
  check(await page.$('canvas.flame-canvas'), 'diff: differential flame graph drawn');
  await shot(page, 'diff');

  // Dark theme.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(web.url + '#/flame');
  await waitReady(page, 'flame');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  check(bg !== 'rgb(255, 255, 255)', `dark theme background ${bg}`);
  await shot(page, 'flame-dark');
  await page.goto(web.url + '#/leaks');
  await waitReady(page, 'leaks');
  await shot(page, 'leaks-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  check(pageErrors.length === 0, `no script errors (${pageErrors.join('; ')})`);
  const outside = requests.filter((u) => !u.startsWith(origin + '/'));
  check(requests.length > 5 && outside.length === 0, `all ${requests.length} requests went to ${origin} (outside: ${outside.join(', ')})`);

  // The API answers bad requests with 4xx.
  for (const [p, want] of [['/api/flame?type=bogus', 400], ['/api/top?by=file', 400], ['/api/source', 400], ['/api/nothing', 404], ['/api/source?fn=nope', 404]]) {
    const res = await fetch(origin + p);
    const body = await res.json();
    check(res.status === want && typeof body.error === 'string', `${p}: ${res.status} ${body.error}`);
  }
  await stopWeb(web);

  // Offline files: the same views, no server, nothing fetched.
  const leaksHtml = path.join(tmp, 'leaks.html');
  const lr = run([args.heapscope, 'leaks', '--html', leaksHtml, snaps]);
  check(lr.status === 0 && fs.existsSync(leaksHtml), `heapscope leaks --html (${lr.status}) ${lr.stderr}`);
  const flameHtml = path.join(tmp, 'flame.html');
  const fr = run([args.heapscope, 'flame', '-o', flameHtml, path.join(snaps, 'heap.final.pb.gz')]);
  check(fr.status === 0 && fs.existsSync(flameHtml), `heapscope flame -o X.html (${fr.status}) ${fr.stderr}`);
  const offlineRequests = [];
  const off = await context.newPage();
  off.on('request', (req) => offlineRequests.push(req.url()));
  off.on('pageerror', (e) => pageErrors.push(String(e)));
  await off.goto('file://' + leaksHtml);
  await waitReady(off, 'leaks');
  text = await off.innerText('main');
  check(/LeakIntoUnboundedCache/.test(text) && /growing/.test(text), 'offline leaks page: suspects with verdicts');
  check(await off.$('section.card.rss ul.rss-legend li[data-part=heap]') && await off.$('section.suspect[data-kind=fd] .uplot') && await off.$('section.suspect[data-kind=thread] .uplot'),
    'offline leaks page: RSS parts, fd and thread suspects drawn');
  await shot(off, 'offline-leaks');
  // cgroup v2's memory.high, as the runtime records it where one is set
  // (this machine's cgroups may have none): the summary says when the
  // throttling starts, short of the limit.
  const highDir = path.join(tmp, 'snaps-high');
  fs.cpSync(snaps, highDir, { recursive: true });
  for (const f of fs.readdirSync(highDir).filter((n) => /^heap\..*\.pb\.gz$/.test(n))) {
    addProfileComment(path.join(highDir, f), 'heapscope: memory_high=1073741824');
  }
  const highHtml = path.join(tmp, 'leaks-high.html');
  const hr = run([args.heapscope, 'leaks', '--html', highHtml, '--limit', '4G', highDir]);
  check(hr.status === 0, `heapscope leaks --html with memory.high (${hr.status}) ${hr.stderr}`);
  await off.goto('file://' + highHtml);
  await waitReady(off, 'leaks');
  const highText = await off.$eval('.leak-summary .memory-high', (e) => e.textContent).catch(() => '');
  check(/^ · memory\.high 1\.00 GiB, reached in [\d.]+ (s|min|h|days)$/.test(highText), `leaks: memory.high and the time to it (${highText})`);
  const jr = run([args.heapscope, 'leaks', '--format', 'json', '--limit', '4G', highDir]);
  const hj = jr.status === 0 ? JSON.parse(jr.stdout) : {};
  check(hj.memory_high === 1073741824 && hj.time_to_memory_high_sec > 0 && hj.time_to_memory_high_sec < hj.time_to_limit_sec,
    `leaks JSON: memory.high before the limit (${hj.memory_high}, ${hj.time_to_memory_high_sec} s < ${hj.time_to_limit_sec} s)`);
  await off.goto('file://' + flameHtml + '#/flame');
  await waitReady(off, 'flame');
  await off.fill('#search', 'LeakListener');
  check(/[1-9]\d* frames? matched/.test(await off.textContent('#matched')), 'offline flame page: search works');
  await off.check('#noinlines');
  await waitReady(off, 'flame');
  check(await off.$('canvas.flame-canvas') && !(await off.$('main .error')), 'offline flame page: the no-inlines graph is in the file');
  await off.goto('file://' + flameHtml + '#/top');
  await waitReady(off, 'top');
  await off.click('table.data tbody tr:has(a.fn:has-text("LeakIntoUnboundedCache")) a.to-source');
  await waitReady(off, 'source');
  check(/unbounded_cache\)\[key\]/.test(await off.innerText('main')), 'offline flame page: source view of a leading function');
  await shot(off, 'offline-flame-source');
  const remote = offlineRequests.filter((u) => !u.startsWith('file://'));
  check(remote.length === 0, `offline pages request nothing but themselves (${remote.join(', ')})`);
  check(pageErrors.length === 0, `no script errors offline (${pageErrors.join('; ')})`);

  // A program whose malloc is its own: the trend view says the heap was
  // not profiled, not that 0 B is constant.
  if (args['own-malloc']) {
    const omDir = path.join(tmp, 'own-malloc');
    const om = spawnSync(args.heapscope, ['run', '--out', omDir, '--', args['own-malloc']],
      { env: { ...process.env, HEAPSCOPE_LIB: args.runtime }, encoding: 'utf8' });
    check(om.status === 0, `own_malloc under heapscope run (${om.status}: ${om.stderr.slice(-300)})`);
    const ow = await startWeb([omDir]);
    const op = await context.newPage();
    await op.goto(ow.url + '#/leaks');
    await waitReady(op, 'leaks');
    const omText = await op.innerText('main .leak-summary');
    check(/heap not profiled: malloc comes from \S*own_malloc/.test(omText) && !/heap in use/.test(omText),
      `own allocator: the trend view says the heap was not profiled (${omText})`);
    await op.close();
    await stopWeb(ow);
  }

  // A live endpoint: the trend view updates while the program runs.
  const live = spawn(args.program, ['40'], {
    env: { ...process.env, LD_PRELOAD: args.runtime, HEAPSCOPE_HTTP: '127.0.0.1:0', HEAPSCOPE_OUT: path.join(tmp, 'live'), HEAPSCOPE_FINAL: '0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(live);
  const endpoint = await new Promise((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error('no endpoint: ' + err)), 30000);
    live.stderr.on('data', (d) => {
      err += d;
      const mm = err.match(/serving (http:\/\/127\.0\.0\.1:\d+)/);
      if (mm) {
        clearTimeout(t);
        resolve(mm[1]);
      }
    });
  });
  const lw = await startWeb(['--every', '500ms', endpoint]);
  const lp = await context.newPage();
  await lp.goto(lw.url + '#/leaks');
  await waitReady(lp, 'leaks');
  const count = async () => Number(((await lp.innerText('main .leak-summary')).match(/(\d+) snapshots/) || [])[1]);
  const n0 = await count();
  await lp.waitForTimeout(4000);
  const n1 = await count();
  check(n1 > n0, `live: the trend view updates (${n0} -> ${n1} snapshots)`);
  check(/live, every 0.5s/.test(await lp.innerText('main .leak-summary')), 'live: says it is live');
  await lp.waitForTimeout(8000);
  await lp.waitForSelector('main#view[data-ready="1"]');
  const liveText = await lp.innerText('main');
  check(/growing/.test(liveText) && /LeakIntoUnboundedCache|LeakListener/.test(liveText), 'live: a leaking function is a growing suspect');
  const liveFd = await lp.$eval('section.suspect[data-list=stack][data-kind=fd]', (e) => e.innerText).catch(() => '');
  check(/LeakFileDescriptor/.test(liveFd) && /descriptors/.test(liveFd), 'live: the fd profile is polled beside the heap (a fd suspect card)');
  check(await lp.$('section.card.rss .uplot'), 'live: the RSS parts chart');
  const liveSources = await lp.evaluate(async () => (await (await fetch('/api/leaks')).json()).suspects.map((s) => s.sources || []));
  check(liveSources.some((src) => src.some((x) => /\.cc:\d+$/.test(x))), `live: suspects have source lines from DWARF, as in a report from files (${JSON.stringify(liveSources).slice(0, 200)})`);
  await shot(lp, 'live-leaks');
  await stopWeb(lw);
  live.kill('SIGTERM');

  // Bad input: one line, non-zero exit.
  for (const bad of [[path.join(tmp, 'nope.pb.gz')], [path.join(tmp, 'empty-dir')], ['https://example.invalid/x']]) {
    if (bad[0].endsWith('empty-dir')) fs.mkdirSync(bad[0]);
    const br = run([args.heapscope, 'web', ...bad]);
    const lines = br.stderr.trim().split('\n');
    check(br.status !== 0 && lines.length === 1 && lines[0].startsWith('heapscope: '), `web ${bad[0]}: exit ${br.status}, "${lines[0]}"`);
  }
  const br = run([args.heapscope, 'web', '--port', '99999', snaps]);
  check(br.status !== 0 && br.stderr.trim().split('\n').length === 1, `web --port 99999: exit ${br.status}, ${br.stderr.trim()}`);
  await context.close();
}

try {
  if (args.measure) await measure();
  else await viewsTest();
} catch (e) {
  failures.push(String(e && e.stack ? e.stack : e));
  console.log('FAIL:', e);
} finally {
  cleanup();
}
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log('all checks passed');
process.exit(0);
