"""Symbols and formats end to end: real jemalloc heap_v2 dumps and real
gperftools heap profiles are read, symbolized from DWARF, converted for Go's
pprof; `list` and `top --lines` on a runtime-written profile; symbolization
of a moved binary through --symbols; the symbol cache's speed-up.

argv: heapscope, runtime library, format_allocs, exact_allocs."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import Env, check, clean_env, fail, finish  # noqa: E402

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"

env = Env(sys.argv)
format_allocs, exact_allocs = (os.path.abspath(a) for a in env.args[:2])
cache = os.path.join(env.tmp, "cache")
programs = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs")
with open(os.path.join(programs, "format_allocs.cc")) as f:
    alpha_line = next(i + 1 for i, t in enumerate(f) if "g_keep[i] = malloc(4096)" in t)


def hs(args, cache_dir=cache, stats=True, **kw):
    e = clean_env({"XDG_CACHE_HOME": cache_dir, "HEAPSCOPE_SYMBOL_STATS": "1" if stats else "0"})
    return env.run(args, env=e, **kw)


def top_json(profile, sample="inuse_space", extra=()):
    r = hs(["top", "--format", "json", "--sample", sample, "-n", "0", *extra, profile])
    check(r.returncode == 0, f"heapscope top {profile} failed: {r.stderr}")
    if r.returncode != 0:
        return {}
    return {row["function"].split("(")[0]: row for row in json.loads(r.stdout)["rows"]}


def check_legacy(kind, profile):
    rows = top_json(profile)
    check(rows.get("FormatAllocAlpha", {}).get("flat") == 32768,
          f"{kind}: FormatAllocAlpha should hold 32768 bytes: {sorted(rows)[:20]}")
    check(rows.get("FormatAllocBeta", {}).get("flat") == 6144,
          f"{kind}: FormatAllocBeta should hold 6144 bytes: {rows.get('FormatAllocBeta')}")
    objs = top_json(profile, "inuse_objects")
    check(objs.get("FormatAllocAlpha", {}).get("flat") == 8, f"{kind}: 8 objects in Alpha: {objs.get('FormatAllocAlpha')}")
    # convert: go tool pprof reads the result and names the functions.
    out = os.path.join(env.tmp, kind + ".pb.gz")
    r = hs(["convert", profile, "-o", out])
    check(r.returncode == 0 and os.path.exists(out), f"{kind}: convert failed: {r.stderr}")
    if r.returncode == 0:
        text = env.go_pprof_top(out, "inuse_space")
        check("FormatAllocAlpha" in text and "FormatAllocBeta" in text,
              f"{kind}: go tool pprof -top of the converted profile lacks the functions:\n{text}")
        m = re.search(r"^\s*32(?:768B|kB)\s.*FormatAllocAlpha", text, re.M)
        check(m is not None, f"{kind}: go tool pprof should give FormatAllocAlpha 32kB flat:\n{text}")
    # --lines: rows by file:line.
    lines = hs(["top", "--lines", "-n", "0", profile])
    check(re.search(rf"FormatAllocAlpha.* \S*format_allocs\.cc:{alpha_line}\b", lines.stdout) is not None,
          f"{kind}: top --lines should show format_allocs.cc:{alpha_line}:\n{lines.stdout}{lines.stderr}")


# 1. jemalloc's own heap_v2 dump (Debian's jemalloc is built with profiling).
if not os.path.exists(JEMALLOC):
    fail(f"{JEMALLOC} is missing: scripts/install-deps.sh test installs libjemalloc2")
je_dir = env.outdir("je")
os.makedirs(je_dir)
r = subprocess.run([format_allocs], capture_output=True, text=True, timeout=60, env=clean_env({
    "LD_PRELOAD": JEMALLOC,
    "MALLOC_CONF": f"prof:true,prof_final:true,lg_prof_sample:0,prof_prefix:{je_dir}/jeprof"}))
check(r.returncode == 0, f"format_allocs under jemalloc failed: {r.stderr}")
dumps = glob.glob(os.path.join(je_dir, "jeprof.*.heap"))
if not check(len(dumps) == 1, f"jemalloc wrote no heap_v2 dump (profiling disabled?): {os.listdir(je_dir)} {r.stderr}"):
    pass
else:
    with open(dumps[0]) as f:
        check(f.readline().startswith("heap_v2/"), "the jemalloc dump is not heap_v2")
    check_legacy("jemalloc", dumps[0])

# 2. gperftools' heap profiler (libtcmalloc.so.4 from libgoogle-perftools4).
if not os.path.exists(TCMALLOC):
    fail(f"{TCMALLOC} is missing: scripts/install-deps.sh test installs libgoogle-perftools4")
hp_dir = env.outdir("hp")
os.makedirs(hp_dir)
r = subprocess.run([format_allocs], capture_output=True, text=True, timeout=60, env=clean_env({
    "LD_PRELOAD": TCMALLOC, "HEAPPROFILE": os.path.join(hp_dir, "hp")}))
check(r.returncode == 0, f"format_allocs under tcmalloc failed: {r.stderr}")
hps = sorted(glob.glob(os.path.join(hp_dir, "hp.*.heap")))
if check(len(hps) >= 1, f"tcmalloc wrote no heap profile: {os.listdir(hp_dir)} {r.stderr}"):
    with open(hps[-1]) as f:
        check(f.readline().startswith("heap profile:"), "the gperftools profile has no header")
    check_legacy("gperftools", hps[-1])

# 3. A runtime-written profile of exact_allocs at rate 1: list and --lines.
run_dir = env.outdir("exact")
r = env.preload([exact_allocs], run_dir, {"HEAPSCOPE_RATE": "1"})
check(r.returncode == 0, f"exact_allocs failed: {r.stderr}")
final = os.path.join(run_dir, "heap.final.pb.gz")
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "programs", "exact_allocs.cc")
with open(src) as f:
    src_lines = f.read().split("\n")
malloc_line = next(i + 1 for i, t in enumerate(src_lines) if "g_sink[i] = malloc(1000)" in t)

r = hs(["list", "--format", "json", "AllocMalloc", final])
if check(r.returncode == 0, f"list failed: {r.stderr}"):
    data = json.loads(r.stdout)
    fns = [f for f in data["functions"] if f["function"].startswith("AllocMalloc")]
    if check(len(fns) == 1, f"list AllocMalloc should find one function: {[f['function'] for f in data['functions']]}"):
        by_line = {l["line"]: l for l in fns[0]["lines"]}
        got = by_line.get(malloc_line, {})
        check(got.get("flat") == 10000 and got.get("cum") == 10000,
              f"line {malloc_line} (malloc(1000)) should carry 10000 bytes: {got}")
        check(got.get("companion_flat") == 10, f"line {malloc_line} should carry 10 objects: {got}")
        check("malloc(1000)" in got.get("source", ""), f"the source text of line {malloc_line}: {got}")
        check(sum(l["flat"] for l in fns[0]["lines"]) == 10000, "AllocMalloc's lines sum to 10000")
r = hs(["list", "AllocMalloc", final])
check(r.returncode == 0 and "ROUTINE" in r.stdout and "malloc(1000)" in r.stdout,
      f"list text output: {r.stdout}{r.stderr}")
r = hs(["list", "(", final], stats=False)
check(r.returncode != 0 and r.stderr.startswith("heapscope: ") and r.stderr.count("\n") == 1,
      f"a bad regex is one line: {r.stderr!r}")

r = hs(["top", "--lines", "-n", "0", final])
check(re.search(rf"AllocMalloc.* \S*exact_allocs\.cc:{malloc_line}\b", r.stdout) is not None,
      f"top --lines should show exact_allocs.cc:{malloc_line}:\n{r.stdout}{r.stderr}")

# 4. The cache: the second run opens no binary. Timed (reported, not checked).
timing_cache = os.path.join(env.tmp, "timing-cache")
t0 = time.monotonic()
first = hs(["top", "--lines", final], cache_dir=timing_cache)
t1 = time.monotonic()
second = hs(["top", "--lines", final], cache_dir=timing_cache)
t2 = time.monotonic()
check(first.stdout == second.stdout, "cached symbols give the same report")
check(re.search(r", 0 binaries opened", second.stderr) is not None,
      f"the second run should open no binary: {second.stderr}")
print(f"symbolize exact_allocs: first run {1000 * (t1 - t0):.0f} ms, cached {1000 * (t2 - t1):.0f} ms")

# 5. A moved binary, found with --symbols (and only with it).
move_src = os.path.join(env.tmp, "orig")
os.makedirs(move_src)
moved_bin = os.path.join(move_src, "exact_allocs")
shutil.copy2(exact_allocs, moved_bin)
moved_out = env.outdir("moved")
r = env.preload([moved_bin], moved_out, {"HEAPSCOPE_RATE": "1"})
check(r.returncode == 0, f"the copied exact_allocs failed: {r.stderr}")
elsewhere = os.path.join(env.tmp, "elsewhere", "bin")
os.makedirs(elsewhere)
shutil.move(moved_bin, os.path.join(elsewhere, "exact_allocs"))
moved_final = os.path.join(moved_out, "heap.final.pb.gz")
r = hs(["top", "--lines", moved_final], cache_dir=os.path.join(env.tmp, "c-none"))
check("not found; give a directory holding it with --symbols DIR" in r.stderr,
      f"a missing binary is a warning naming --symbols: {r.stderr}")
check(r.returncode == 0 and "AllocMalloc" in r.stdout, "names from the profile remain without the binary")
r = hs(["top", "--lines", "--symbols", os.path.dirname(elsewhere), moved_final],
       cache_dir=os.path.join(env.tmp, "c-moved"))
check(re.search(rf"AllocMalloc.* \S*exact_allocs\.cc:{malloc_line}\b", r.stdout) is not None,
      f"--symbols finds the moved binary:\n{r.stdout}{r.stderr}")
# The page (flame -o X.html is `heapscope web` in one file) takes --symbols
# too: its source view then knows exact_allocs.cc.
for name, extra in (("without", []), ("with", ["--symbols", os.path.dirname(elsewhere)])):
    page = os.path.join(env.tmp, f"moved-{name}.html")
    r = hs(["flame", *extra, "-o", page, moved_final], cache_dir=os.path.join(env.tmp, f"c-page-{name}"))
    with open(page) as f:
        named = "exact_allocs.cc" in f.read()
    check(r.returncode == 0 and named == (name == "with"),
          f"flame -o page {name} --symbols: exact_allocs.cc in it: {named}; {r.stderr}")

# 6. Bad input: one line, non-zero exit.
bad = os.path.join(env.tmp, "bad.heap")
with open(bad, "w") as f:
    f.write("heap_v2/1\n@ 0xzz\n")
for cmd in (["top", bad], ["list", "x", bad], ["convert", bad, "-o", bad + ".pb.gz"]):
    r = hs(cmd, stats=False)
    check(r.returncode != 0 and r.stderr.startswith("heapscope: ") and r.stderr.count("\n") == 1,
          f"{cmd[0]} on a bad file: {r.returncode} {r.stderr!r}")

finish(env, "formats")
