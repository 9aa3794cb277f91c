"""Every analyzer command on every kind of input: a profile the runtime
wrote, one Go's runtime/pprof wrote, a jemalloc heap_v2 dump and a
gperftools heap profile. Each command must succeed and name the program's
allocating function; `convert` output must be read by Go's pprof.

argv: heapscope, runtime library, exact_allocs, format_allocs, heapgen source dir."""
import glob
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import Env, check, clean_env, fail, finish  # noqa: E402

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc.so.4"


def make_inputs(env):
    exact_allocs, format_allocs, heapgen = (os.path.abspath(a) for a in env.args[:3])
    inputs = {}
    out = env.outdir("runtime")
    r = env.preload([exact_allocs], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 0, f"exact_allocs: {r.stderr}")
    inputs["runtime"] = (os.path.join(out, "heap.final.pb.gz"), "AllocMalloc", "alloc_space")

    gowork = env.outdir("go")
    os.makedirs(gowork)
    goenv = dict(os.environ, GOCACHE=os.path.join(gowork, "cache"), GOPATH=os.path.join(gowork, "path"),
                 GOFLAGS="-mod=mod", GO111MODULE="on", GOPROXY="off", HOME=gowork)
    binary = os.path.join(gowork, "heapgen")
    r = subprocess.run(["go", "build", "-o", binary, "."], cwd=heapgen, env=goenv,
                       capture_output=True, text=True, timeout=300)
    check(r.returncode == 0, f"go build heapgen: {r.stderr}")
    gprof = os.path.join(gowork, "heap.pb.gz")
    r = subprocess.run([binary, gprof], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and os.path.exists(gprof), f"heapgen: {r.stderr}")
    inputs["go"] = (gprof, "allocateLargeBuffers", "alloc_space")

    if not os.path.exists(JEMALLOC) or not os.path.exists(TCMALLOC):
        fail("jemalloc or tcmalloc missing: scripts/install-deps.sh test installs them")
    je = env.outdir("je")
    os.makedirs(je)
    subprocess.run([format_allocs], capture_output=True, timeout=60, env=clean_env({
        "LD_PRELOAD": JEMALLOC,
        "MALLOC_CONF": f"prof:true,prof_final:true,lg_prof_sample:0,prof_prefix:{je}/jeprof"}))
    dumps = glob.glob(os.path.join(je, "jeprof.*.heap"))
    if check(len(dumps) == 1, f"no jemalloc dump: {os.listdir(je)}"):
        inputs["jemalloc"] = (dumps[0], "FormatAllocAlpha", "inuse_space")
    hp = env.outdir("hp")
    os.makedirs(hp)
    subprocess.run([format_allocs], capture_output=True, timeout=60,
                   env=clean_env({"LD_PRELOAD": TCMALLOC, "HEAPPROFILE": os.path.join(hp, "hp")}))
    hps = sorted(glob.glob(os.path.join(hp, "hp.*.heap")))
    if check(len(hps) >= 1, f"no gperftools profile: {os.listdir(hp)}"):
        inputs["gperftools"] = (hps[-1], "FormatAllocAlpha", "inuse_space")
    return inputs


def main():
    env = Env(sys.argv)
    inputs = make_inputs(env)
    check(sorted(inputs) == ["go", "gperftools", "jemalloc", "runtime"], f"inputs made: {sorted(inputs)}")
    for kind, (path, fn, sample) in inputs.items():
        print(f"{kind}: {path}")
        def run(args, label):
            r = env.run(args, timeout=120)
            check(r.returncode == 0, f"{kind}: {label} failed ({r.returncode}): {r.stderr.strip()}")
            return r

        s = ["--sample", sample]
        r = run(["top"] + s + ["-n", "1000", path], "top")
        check(fn in r.stdout, f"{kind}: top does not name {fn}:\n{r.stdout}")
        r = run(["top", "--format", "json"] + s + [path], "top --format json")
        r = run(["tree"] + s + ["-n", "1000", path], "tree")
        check(fn in r.stdout, f"{kind}: tree does not name {fn}")
        r = run(["folded"] + s + [path], "folded")
        check(fn in r.stdout, f"{kind}: folded does not name {fn}")
        svg = os.path.join(env.tmp, f"{kind}.svg")
        run(["flame"] + s + ["-o", svg, path], "flame")
        check(os.path.exists(svg) and fn in open(svg).read(), f"{kind}: flame graph lacks {fn}")
        r = run(["diff"] + s + [path, path], "diff")
        r = run(["list"] + s + [fn, path], "list")
        check(fn in r.stdout, f"{kind}: list does not show {fn}:\n{r.stdout[:500]}")
        conv = os.path.join(env.tmp, f"{kind}.converted.pb.gz")
        run(["convert", path, "-o", conv], "convert")
        if os.path.exists(conv):
            text = env.go_pprof_top(conv, sample)
            check(fn in text, f"{kind}: go tool pprof does not name {fn} in the converted file:\n{text}")
    finish(env, "test_inputs")


if __name__ == "__main__":
    main()
