"""In-use objects carry their age: the runtime splits each stack's in-use
values by age bucket, with a numeric "age" label in seconds (the bucket's
lower bound: 0, 1, 2, 3, 4, 6, 8, 12, ...), and leaves its alloc values on
an unlabelled sample. Go's pprof filters by it (-tagfocus=age=...), so does
`heapscope top --min-age`, and the totals are what they were: every
label-blind reader sees the same numbers.

leak_scenarios runs 7 s at the default rate: its 30 MB startup table is
about 7 s old at the end, the entries of its 8 MB LRU never live past 3 s.
Then the same at HEAPSCOPE_RATE=1, where the counts are exact and the ages
come from a sample of the objects (one per 128 KiB allocated, README "Live
objects and the free path") scaled to them: the same filters agree, and the
split adds up to the runtime's in-use total to the byte.
"""
import os
import re
import sys

from hstest import Env, check, finish, final_path, runtime_comments


def run(env, program, label, extra, exact):
    out = env.outdir(label)
    r = env.preload([program, "7"], out, extra)
    check(r.returncode == 0, f"{label}: leak_scenarios failed: {r.stderr[-2000:]}")
    profile = final_path(out)
    if not check(os.path.exists(profile), f"{label}: no heap.final.pb.gz"):
        return
    tags = env.go_pprof(["-tags", "-sample_index=inuse_space"], profile)
    check(re.search(r"^\s*age: Total", tags, re.M) is not None, f"{label}: no age tag:\n{tags}")

    old = env.go_pprof(["-top", "-nodefraction=0", "-sample_index=inuse_space",
                      "-tagfocus=age=5s:"], profile)
    check("BuildStartupTable" in old, f"{label}: the startup table is not 5 s old:\n{old}")
    check("BoundedLru" not in old, f"{label}: an LRU entry lived 5 s:\n{old}")
    young = env.go_pprof(["-top", "-nodefraction=0", "-sample_index=inuse_space",
                        "-tagfocus=age=:3s"], profile)
    check("BoundedLru" in young, f"{label}: no young LRU entries:\n{young}")
    check("BuildStartupTable" not in young, f"{label}: the startup table is young:\n{young}")

    # heapscope's own filter agrees with pprof's.
    r = env.run(["top", "--min-age", "5s", "-n", "0", profile])
    check(r.returncode == 0, f"top --min-age failed: {r.stderr}")
    check("BuildStartupTable" in r.stdout and "BoundedLru" not in r.stdout,
          f"{label}: top --min-age 5s:\n{r.stdout}")
    r = env.run(["top", "--min-age", "soon", profile])
    check(r.returncode == 1 and r.stderr.count("\n") == 1 and "--min-age" in r.stderr,
          f"a bad --min-age: status {r.returncode}, {r.stderr!r}")

    # Label-blind totals: the profile's in-use and alloc totals match the
    # runtime's own (counted without the split), to rounding.
    comments = runtime_comments(env.go_pprof(["-top"], profile))
    check("inuse_space" in comments, f"no inuse_space comment: {comments}")
    if "inuse_space" in comments:
        want = int(comments["inuse_space"])
        got = sum(env.top(profile, "inuse_space").values())
        tolerance = 0 if exact else max(64, want * 1e-4)
        check(abs(got - want) <= tolerance,
              f"{label}: in-use total {got} differs from the runtime's {want}")


def main():
    env = Env(sys.argv)
    program = env.args[0]
    run(env, program, "ages", None, exact=False)
    run(env, program, "ages-rate1", {"HEAPSCOPE_RATE": "1"}, exact=True)
    finish(env, "ages")


if __name__ == "__main__":
    main()
