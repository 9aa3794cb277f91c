"""The analyzer's everyday views on profiles the runtime wrote for real
programs (HEAPSCOPE_RATE=1, so values are exact):
  - folded: "root;...;leaf value" lines sum to the profile's total in every
    sample type, root first, no zero lines; --focus/--ignore split the
    total exactly (and `top` filters the same way);
  - tree: the peek text and JSON name callers and callees with the values
    that flow through them;
  - diff: between the 2nd and the last snapshot of growing_program the
    growing function comes first, the steady one does not grow; two runs of
    one binary (other addresses) match by names and show no change in the
    program's own functions;
  - flame: the SVG parses as XML and names the functions; the HTML page
    (the page of `heapscope web` as one file) fetches nothing, embeds its
    data as JSON, and draws its flame graph in headless Chromium when
    /usr/bin/chromium exists; differential graphs too (e2e.web drives the
    page: search, zoom, top table, source view);
  - bad input (missing, truncated, unlike sample types, bad patterns, bad
    output names) ends with one "heapscope: ..." line and a non-zero exit.
"""
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from hstest import Env, check, fail, finish, numbered_snapshots, short_name, snapshot_path

HEAP_TYPES = ("inuse_space", "alloc_space", "inuse_objects", "alloc_objects")
EXACT = {  # function: inuse_space, from exact_allocs.cc
    "AllocMalloc": 10000, "AllocCalloc": 15000, "GrowRealloc": 51200,
    "AllocNewArray": 15000, "AllocAlignedNew": 1024,
}
LINE_RE = re.compile(r"^(.+) (-?\d+)$")


def ok(env, args, what):
    r = env.run(args)
    check(r.returncode == 0, f"{what}: exit status {r.returncode}: {r.stderr}")
    return r.stdout


def folded(env, args):
    """[(frames root first, value)] from `heapscope folded`."""
    out = ok(env, ["folded"] + args, "folded " + " ".join(args))
    rows = []
    for line in out.splitlines():
        m = LINE_RE.match(line)
        if not check(m is not None, f"folded line is not 'stack value': {line!r}"):
            continue
        rows.append((m.group(1).split(";"), int(m.group(2))))
    return rows


def top_total(env, profile, sample, extra=()):
    r = env.run(["top", "--format", "json", "--sample", sample, "-n", "1"] + list(extra) +
                [profile])
    check(r.returncode == 0, f"top failed: {r.stderr}")
    return json.loads(r.stdout)["total"] if r.returncode == 0 else None


def one_line_error(env, args, what, needle=None):
    r = env.run(args)
    lines = r.stderr.splitlines()
    check(r.returncode != 0, f"{what}: exit status 0")
    check(len(lines) == 1 and lines[0].startswith("heapscope: "),
          f"{what}: want one 'heapscope: ...' line on stderr, got {r.stderr!r}")
    if needle is not None:
        check(needle in r.stderr, f"{what}: {needle!r} not in {r.stderr!r}")
    check("Traceback" not in r.stderr and "terminate" not in r.stderr, f"{what}: crashed")


def check_folded(env, prof):
    for sample in HEAP_TYPES:
        rows = folded(env, ["--sample", sample, prof])
        total = top_total(env, prof, sample)
        check(sum(v for _, v in rows) == total,
              f"folded {sample}: lines sum to {sum(v for _, v in rows)}, top total {total}")
        check(all(v != 0 for _, v in rows), f"folded {sample}: a zero line")
        stacks = [";".join(f) for f, _ in rows]
        check(len(stacks) == len(set(stacks)), f"folded {sample}: a stack repeats")
    rows = folded(env, [prof])  # Default: inuse_space.
    for fn, want in EXACT.items():
        got = sum(v for f, v in rows if short_name(f[-1]) == fn)
        check(got == want, f"folded: stacks ending in {fn} hold {got}, want {want}")
        mains = [f for f, _ in rows if short_name(f[-1]) == fn]
        check(all("main" in map(short_name, f[:-1]) for f in mains),
              f"folded: {fn} stacks do not start from main (root first): {mains}")
    # --focus and --ignore split the total exactly.
    total = top_total(env, prof, "inuse_space")
    focused = folded(env, ["--focus", "^AllocMalloc", prof])
    check(sum(v for _, v in focused) == 10000, f"--focus ^AllocMalloc: {focused}")
    check(all(any(short_name(x) == "AllocMalloc" for x in f) for f, _ in focused),
          f"--focus kept a stack without AllocMalloc: {focused}")
    ignored = folded(env, ["--ignore", "^AllocMalloc", prof])
    check(sum(v for _, v in ignored) == total - 10000,
          f"--ignore ^AllocMalloc: sum {sum(v for _, v in ignored)}, want {total - 10000}")
    check(top_total(env, prof, "inuse_space", ["--focus", "^AllocMalloc"]) == 10000,
          "top --focus ^AllocMalloc does not total 10000")
    check(top_total(env, prof, "inuse_space", ["--ignore", "Alloc|Grow"]) ==
          total - sum(EXACT.values()), "top --ignore Alloc|Grow does not drop them all")
    # -o writes the same lines to a file.
    path = os.path.join(env.tmp, "out.folded")
    ok(env, ["folded", "-o", path, prof], "folded -o")
    with open(path) as f:
        check(f.read() == ok(env, ["folded", prof], "folded"), "folded -o differs from stdout")


def check_tree(env, prof):
    text = ok(env, ["tree", "-n", "100", prof], "tree")
    check("calls calls% + context" in text, f"tree: no pprof -peek header:\n{text}")
    check(re.search(r"\| AllocMalloc", text) is not None, f"tree: no AllocMalloc line:\n{text}")
    data = json.loads(ok(env, ["tree", "--format", "json", "-n", "0", prof], "tree json"))
    nodes = {short_name(n["function"]): n for n in data["nodes"]}
    cums = [abs(n["cum"]) for n in data["nodes"]]
    check(cums == sorted(cums, reverse=True), "tree: nodes are not by cum")
    if check("main" in nodes, f"tree: no main node: {list(nodes)}"):
        callees = {short_name(e["function"]): e["value"] for e in nodes["main"]["callees"]}
        for fn, want in EXACT.items():
            check(callees.get(fn) == want, f"tree: main -> {fn} is {callees.get(fn)}, want {want}")
    for fn, want in EXACT.items():
        n = nodes.get(fn)
        if check(n is not None, f"tree: no node {fn}"):
            check(n["flat"] == want and n["cum"] == want, f"tree: {fn}: {n}")
            callers = {short_name(e["function"]): e["value"] for e in n["callers"]}
            check(callers == {"main": want}, f"tree: callers of {fn}: {callers}")
    small = json.loads(ok(env, ["tree", "--format", "json", "-n", "2", prof], "tree -n 2"))
    check(len(small["nodes"]) == 2, f"tree -n 2 shows {len(small['nodes'])} nodes")


def run_growing(env, prog, name):
    out = env.outdir(name)
    r = env.preload([prog, "40", "50"], out,
                    {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "200ms", "HEAPSCOPE_KEEP": "0"})
    check(r.returncode == 0, f"growing_program: exit status {r.returncode}: {r.stderr}")
    return out


def check_diff(env, growing):
    out = run_growing(env, growing, "growing")
    seqs = numbered_snapshots(out)
    if not check(len(seqs) >= 4, f"growing_program wrote {len(seqs)} snapshots, want >= 4"):
        return
    base, new = snapshot_path(out, seqs[1]), snapshot_path(out, seqs[-1])
    data = json.loads(ok(env, ["diff", "--format", "json", "-n", "0", base, new], "diff json"))
    check(data["sample_type"] == "inuse_space", f"diff: sample type {data['sample_type']}")
    funcs = data["functions"]
    if check(funcs, "diff: no function changed"):
        check(short_name(funcs[0]["function"]) == "GrowLeak",
              f"diff: first function is {funcs[0]['function']}, want GrowLeak")
        check(funcs[0]["flat_delta"] > 0 and funcs[0]["flat_delta"] % 4096 == 0,
              f"diff: GrowLeak grew by {funcs[0]['flat_delta']}, want a multiple of 4096")
        check(funcs[0]["flat_delta"] == data["new_total"] - data["base_total"] or
              abs(data["new_total"] - data["base_total"] - funcs[0]["flat_delta"]) <= 1000,
              f"diff: total change {data['new_total'] - data['base_total']} is not GrowLeak's "
              f"{funcs[0]['flat_delta']}")
    for f in funcs:
        if short_name(f["function"]) in ("RefreshCache", "HoldTable"):
            check(abs(f["flat_delta"]) <= 1000, f"diff: steady {f['function']} changed: {f}")
    deltas = [f["flat_delta"] for f in funcs]
    grow = [d for d in deltas if d > 0 or d == 0]
    check(deltas[:len(grow)] == sorted(grow, reverse=True), f"diff: growth not first: {deltas}")
    stacks = data["stacks"]
    if check(stacks, "diff: no stack changed"):
        check(short_name(stacks[0]["frames"][-1]) == "GrowLeak",
              f"diff: first stack ends in {stacks[0]['frames'][-1]}")
        check("main" in map(short_name, stacks[0]["frames"]), "diff: stack does not reach main")
    text = ok(env, ["diff", base, new], "diff")
    after = text.split("Functions by growth", 1)[-1].splitlines()
    check(len(after) > 2 and short_name(after[2].split()[-1]) == "GrowLeak",
          f"diff text: GrowLeak is not the first function:\n{text}")
    check(text.splitlines()[0] == "Type: inuse_space", f"diff text header:\n{text}")
    # Flame graphs of the same pair: differential SVG and HTML.
    svg = os.path.join(env.tmp, "diff.svg")
    ok(env, ["flame", "--base", base, new, "-o", svg], "flame --base svg")
    root = parse_svg(svg)
    if root is not None:
        grow_fill = [g.find(SVG + "rect").get("fill") for g in root.iter(SVG + "g")
                     if (g.findtext(SVG + "title") or "").startswith("GrowLeak")]
        check(grow_fill == ["rgb(255,50,50)"],
              f"diff flame: GrowLeak should be the reddest frame, fills {grow_fill}")
    html = os.path.join(env.tmp, "diff.html")
    ok(env, ["flame", "--base", base, new, "-o", html], "flame --base html")
    page = check_html(env, html, "diff")
    if page is not None:
        diff = page.get("/api/diff?type=inuse_space", {})
        check(diff.get("base_total", 0) > 0 and diff["flame"]["nodes"][3] > 0,
              "diff html: no base values")
    return out


def check_across_runs(env, exact):
    a, b = env.outdir("run-a"), env.outdir("run-b")
    for d in (a, b):
        r = env.preload([exact], d, {"HEAPSCOPE_RATE": "1"})
        check(r.returncode == 0, f"exact_allocs: {r.stderr}")
    pa, pb = os.path.join(a, "heap.final.pb.gz"), os.path.join(b, "heap.final.pb.gz")
    for sample in HEAP_TYPES:
        data = json.loads(ok(env, ["diff", "--format", "json", "-n", "0", "--sample", sample,
                                   pa, pb], "diff across runs"))
        changed = {short_name(f["function"]) for f in data["functions"]}
        check(not changed & (set(EXACT) | {"FreedLoop"}),
              f"diff across runs ({sample}): the program's functions changed: {changed}")


SVG = "{http://www.w3.org/2000/svg}"


def parse_svg(path):
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as e:
        check(False, f"{path} does not parse as XML: {e}")
        return None


def check_flame(env, prof):
    svg = os.path.join(env.tmp, "flame.svg")
    ok(env, ["flame", "-o", svg, prof], "flame svg")
    root = parse_svg(svg)
    if root is not None:
        check(root.tag == SVG + "svg", f"flame: root element {root.tag}")
        titles = [t.text or "" for t in root.iter(SVG + "title")]
        for fn in EXACT:
            check(any(t.startswith(fn) for t in titles), f"flame svg: no frame for {fn}")
        heading = " ".join(t.text or "" for t in root.iter(SVG + "text") if t.get("class") == "title")
        check("inuse_space" in heading and "total" in heading, f"flame svg title: {heading!r}")
        rects = list(root.iter(SVG + "rect"))
        check(len(rects) > len(EXACT), f"flame svg: only {len(rects)} rectangles")
        with open(svg) as f:
            text = f.read()
        check("http://www.w3.org/2000/svg" in text and "href" not in text,
              "flame svg: links to something")
    html = os.path.join(env.tmp, "flame.html")
    ok(env, ["flame", "--sample", "alloc_space", "-o", html, prof], "flame html")
    page = check_html(env, html)
    if page is not None:
        info = page["/api/info"]
        check(info["default_type"] == "alloc_space", f"flame html: {info['default_type']}")
        tree = page["/api/flame?type=alloc_space"]
        check(tree["nodes"][1] == top_total(env, prof, "alloc_space"),
              f"flame html: the root holds {tree['nodes'][1]}")
        names = {short_name(n) for n in tree_names(tree)}
        check(set(EXACT) <= names, f"flame html: names {names}")
        check("/api/top?by=function&type=alloc_space" in page, "flame html: no top table")
    html = os.path.join(env.tmp, "inuse.html")
    ok(env, ["flame", "-o", html, prof], "flame html")
    page = check_html(env, html)
    if page is not None:
        check(any(k.startswith("/api/source?fn=") for k in page), "flame html: no source view")


def check_html(env, path, view="flame"):
    """The API answers the page embeds, keyed by request; None on failure."""
    with open(path) as f:
        text = f.read()
    remote = re.findall(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", text, re.I)
    check(not remote, f"{path}: refers to remote resources: {remote}")
    check("http://" not in text and "https://" not in text, f"{path}: contains a URL")
    check(re.search(r"<script[^>]*\ssrc=", text) is None, f"{path}: external script")
    check(re.search(r"<link\b", text) is None, f"{path}: a <link> element")
    check("default-src 'none'" in text, f"{path}: no Content-Security-Policy forbidding fetches")
    m = re.search(r'<script type="application/json" id="heapscope-data">(.*?)</script>', text, re.S)
    if not check(m is not None, f"{path}: no embedded data"):
        return None
    try:
        data = json.loads(m.group(1))
    except ValueError as e:
        check(False, f"{path}: embedded data is not JSON: {e}")
        return None
    if os.path.exists(CHROMIUM):
        dom = chromium_dom(env, path + "#/" + view)
        check(f'data-view="{view}"' in dom and 'data-ready="1"' in dom and "data-drawn" in dom,
              f"chromium did not draw the {view} view of {path}")
    else:
        print(f"note: {CHROMIUM} is not installed; {os.path.basename(path)} checked by parsing only")
    return data


def tree_names(tree):
    """Names of the frames of a flame tree (five numbers per node)."""
    return {tree["names"][tree["nodes"][i]] for i in range(0, len(tree["nodes"]), 5)}


CHROMIUM = "/usr/bin/chromium"


def chromium_dom(env, path, extra=()):
    """The page's DOM after its scripts ran in headless Chromium."""
    profile_dir = os.path.join(env.tmp, "chromium-profile")
    r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + profile_dir, "--virtual-time-budget=10000"] +
                       list(extra) + ["--dump-dom", "file://" + path],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HOME=env.tmp))
    check(r.returncode == 0, f"chromium on {path}: {r.stderr[-2000:]}")
    return r.stdout


def check_bad_inputs(env, prof):
    missing = os.path.join(env.tmp, "no-such-profile.pb.gz")
    for cmd in (["tree"], ["folded"], ["diff", prof], ["flame", "-o",
                                                        os.path.join(env.tmp, "x.svg")]):
        one_line_error(env, cmd + [missing], f"{cmd[0]} on a missing file", "no-such-profile")
    with open(prof, "rb") as f:
        raw = f.read()
    truncated = os.path.join(env.tmp, "truncated.pb.gz")
    with open(truncated, "wb") as f:
        f.write(raw[:len(raw) // 2])
    for cmd in (["tree"], ["folded"], ["diff", prof], ["flame", "-o",
                                                        os.path.join(env.tmp, "x.html")]):
        one_line_error(env, cmd + [truncated], f"{cmd[0]} on a truncated file")
    # Same profile, decompressed and cut inside the protobuf.
    cut = os.path.join(env.tmp, "cut.pb")
    with open(cut, "wb") as f:
        f.write(gzip.decompress(raw)[:-7])
    one_line_error(env, ["folded", cut], "folded on a cut profile.proto")
    cpu = os.path.join(env.tmp, "cpu.pb.gz")
    with open(cpu, "wb") as f:
        f.write(gzip.compress(cpu_profile()))
    one_line_error(env, ["diff", prof, cpu], "diff of heap and cpu profiles", "same sample type")
    one_line_error(env, ["diff", cpu, prof], "diff of cpu and heap profiles", "same sample type")
    one_line_error(env, ["flame", "--base", cpu, "-o", os.path.join(env.tmp, "d.svg"), prof],
                   "flame --base with another sample type", "same sample type")
    one_line_error(env, ["tree", "--sample", "cpu", prof], "tree --sample cpu", "inuse_space")
    one_line_error(env, ["folded", "--focus", "(oops", prof], "a bad --focus", "--focus")
    one_line_error(env, ["top", "--ignore", "[", prof], "top with a bad --ignore", "--ignore")
    one_line_error(env, ["flame", "-o", os.path.join(env.tmp, "out.png"), prof],
                   "flame -o out.png", ".svg or .html")
    one_line_error(env, ["flame", "-o", os.path.join(env.tmp, "no-dir", "out.svg"), prof],
                   "flame into a missing directory", "no-dir")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def cpu_profile():
    """A minimal valid CPU profile: types samples/count and cpu/nanoseconds,
    one location of function "spin" with one sample."""
    strings = ["", "samples", "count", "cpu", "nanoseconds", "spin"]
    msg = b""
    msg += field(1, varint(1 << 3) + varint(1) + varint(2 << 3) + varint(2))  # sample_type
    msg += field(1, varint(1 << 3) + varint(3) + varint(2 << 3) + varint(4))
    msg += field(2, field(1, varint(1)) + field(2, varint(1) + varint(10)))  # sample
    msg += field(4, varint(1 << 3) + varint(1) + field(4, varint(1 << 3) + varint(1)))  # location
    msg += field(5, varint(1 << 3) + varint(1) + varint(2 << 3) + varint(5))  # function
    for s in strings:
        msg += field(6, s.encode())
    return msg


def main():
    env = Env(sys.argv)
    exact, growing = env.args[0], env.args[1]
    out = env.outdir("exact")
    r = env.preload([exact], out, {"HEAPSCOPE_RATE": "1"})
    if r.returncode != 0:
        fail(f"exact_allocs under the runtime: exit status {r.returncode}: {r.stderr}")
    prof = os.path.join(out, "heap.final.pb.gz")
    if not os.path.exists(prof):
        fail(f"{prof} was not written")
    check_folded(env, prof)
    check_tree(env, prof)
    check_flame(env, prof)
    check_diff(env, growing)
    check_across_runs(env, exact)
    check_bad_inputs(env, prof)
    finish(env, "views")


if __name__ == "__main__":
    main()
