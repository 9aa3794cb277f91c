"""Every-allocation mode is exact to the byte: malloc, calloc, realloc
growing one block, new[], aligned new, a loop of freed allocations and two
threads allocating from 8192 distinct stacks (past the 4096 a thread's
table of pending counts starts with, so the tables grow), on
return from main, exit() and _exit(), under LD_PRELOAD and `heapscope run`;
and with profiles written every few milliseconds while the two threads
allocate (the writer applies the threads' logged counts while they log
more). Every profile is also read by Go's `go tool pprof`."""
import glob
import os
import sys

from hstest import Env, check, finish, runtime_comments

# Expected (inuse_space, alloc_space, inuse_objects, alloc_objects) per
# allocating function, from the program's own comment.
EXPECTED = {
    "AllocMalloc": (10000, 10000, 10, 10),
    "AllocCalloc": (15000, 15000, 5, 5),
    "GrowRealloc": (51200, 102300, 1, 10),
    "AllocNewArray": (15000, 15000, 3, 3),
    "AllocAlignedNew": (1024, 1024, 4, 4),
    "FreedLoop": (0, 64000, 0, 1000),
    "ManyStacksLeaf": (262144, 524288, 8192, 16384),
}


def flat_by_short_name(table):
    out = {}
    for fn, v in table.items():
        short = fn.split("(")[0]
        out[short] = out.get(short, 0) + v
    return out


def check_profile(env, prof, label, expected=EXPECTED):
    if not check(os.path.exists(prof), f"{label}: {prof} was not written"):
        return
    tables = {s: flat_by_short_name(env.top(prof, s))
              for s in ("inuse_space", "alloc_space", "inuse_objects", "alloc_objects")}
    for fn, (iu, al, io, ao) in expected.items():
        got = tuple(tables[s].get(fn, 0) for s in
                    ("inuse_space", "alloc_space", "inuse_objects", "alloc_objects"))
        check(got == (iu, al, io, ao), f"{label}: {fn}: got {got}, want {(iu, al, io, ao)}")
    text = env.go_pprof_top(prof, "alloc_space")
    stacks = int(runtime_comments(text).get("stacks", "0"))
    check(stacks >= 8192, f"{label}: {stacks} stacks, want at least 8192 (ManyStacks)")
    for fn in EXPECTED:
        check(fn in text, f"{label}: go tool pprof -top does not show {fn}:\n{text}")


def main():
    env = Env(sys.argv)
    prog = env.args[0]
    for how in ("return", "exit", "_exit"):
        out = env.outdir("preload-" + how)
        r = env.preload([prog, how], out, {"HEAPSCOPE_RATE": "1"})
        check(r.returncode == 0, f"{how}: exit status {r.returncode}: {r.stderr}")
        check(r.stdout == f"exact_allocs done ({how})\n", f"{how}: output changed: {r.stdout!r}")
        check_profile(env, os.path.join(out, "heap.final.pb.gz"), f"LD_PRELOAD/{how}")

    # ManyStacks 40 times over (each round frees what the last one kept),
    # a profile every 2 ms meanwhile.
    rounds = 40
    out = env.outdir("flushing")
    r = env.preload([prog, "return", str(rounds)], out,
                    {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "2ms", "HEAPSCOPE_KEEP": "0"})
    check(r.returncode == 0, f"flushing: exit status {r.returncode}: {r.stderr}")
    periodic = glob.glob(os.path.join(out, "heap.[0-9]*.pb.gz"))
    check(len(periodic) >= 3, f"flushing: {len(periodic)} periodic profiles, want 3 or more")
    expected = dict(EXPECTED)
    expected["ManyStacksLeaf"] = (262144, rounds * 524288, 8192, rounds * 16384)
    check_profile(env, os.path.join(out, "heap.final.pb.gz"), "flushing", expected)

    out = env.outdir("run")
    r = env.run(["run", "--rate", "1", "--out", out, "--", prog, "_exit"])
    check(r.returncode == 0, f"heapscope run: exit status {r.returncode}: {r.stderr}")
    check("exact_allocs done (_exit)" in r.stdout, f"heapscope run: stdout lost: {r.stdout!r}")
    check("every allocation recorded" in r.stderr, f"heapscope run: summary missing: {r.stderr}")
    check("GrowRealloc" in r.stderr, f"heapscope run: summary does not name GrowRealloc: {r.stderr}")
    check_profile(env, os.path.join(out, "heap.final.pb.gz"), "heapscope run")
    finish(env, "test_exact")


if __name__ == "__main__":
    main()
