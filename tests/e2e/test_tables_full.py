"""Full tables never hurt the program. HEAPSCOPE_MAX_STACKS=3 with 300
distinct stacks, HEAPSCOPE_MAX_LIVE=10 with 200 objects of 64 KiB at a
rate of 64 KiB, and both limits at once: the program's output and exit
status are unchanged, stderr holds exactly one warning naming the table
(and the variable to raise), and the profile's
`heapscope: samples=... dropped_samples=N` comment reports N > 0, in the
right counter; Go's pprof still reads it.
With the default limits the same program drops nothing, is exact, and its
stacks deeper than 128 frames end in a [truncated] frame; 1200 distinct
allocating functions (more than the profile writer's tables start with
room for) are each exact and each a row of Go's pprof.

Below a rate of 64 KiB (and in every-allocation mode) blocks carry their
stack and size in a header and the live table is only for the objects'
ages: the live limit is tried at 64 KiB, where the table is a sampled
object's only record, and at rate 2 a full table must drop nothing, leave
the counts exact, say once that objects go without ages, and count them
(`objects_without_age=N` in the profile).
"""
import os
import re
import subprocess
import sys

from hstest import CornerEnv, check, finish, final_path, runtime_comments

CASES = [
    # label, mode, env, counter that must be > 0, words of the warning
    ("MAX_STACKS=3", "stacks", {"HEAPSCOPE_MAX_STACKS": "3"}, "dropped_stacks",
     ("stack table full", "HEAPSCOPE_MAX_STACKS")),
    # At 64 KiB (the lowest rate without block headers) the live table is
    # a sampled object's only record: 200 blocks of 64 KiB, ~126 sampled.
    ("MAX_LIVE=10", "large", {"HEAPSCOPE_MAX_LIVE": "10", "HEAPSCOPE_RATE": "64K"},
     "dropped_live", ("live object table full", "HEAPSCOPE_MAX_LIVE")),
    # Both limits at rate 2 (block headers): the stack table drops samples,
    # LiveMany's among them, so the live table never fills.
    ("both", "both", {"HEAPSCOPE_MAX_STACKS": "3", "HEAPSCOPE_MAX_LIVE": "10",
                      "HEAPSCOPE_RATE": "2"}, None,
     ("stack table full", "HEAPSCOPE_MAX_STACKS")),
]


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    for label, mode, extra, counter, words in CASES:
        plain = env.plain([prog, mode])
        out = env.outdir(re.sub(r"\W", "_", label))
        r = env.preload_input([prog, mode], out, dict({"HEAPSCOPE_RATE": "1"}, **extra))
        check(r.returncode == plain.returncode == 0, f"{label}: exit status {r.returncode}")
        check(r.stdout == plain.stdout, f"{label}: output changed: {r.stdout!r} (was {plain.stdout!r})")
        lines = r.stderr.splitlines()
        check(len(lines) == 1, f"{label}: expected exactly one warning line, got {r.stderr!r}")
        for w in words:
            check(w in r.stderr, f"{label}: the warning does not mention {w!r}: {r.stderr!r}")
        prof = final_path(out)
        if not check(os.path.exists(prof), f"{label}: no final profile"):
            continue
        kv = runtime_comments(env.go_pprof_top(prof))
        dropped = int(kv.get("dropped_samples", "-1"))
        print(f"{label}: samples={kv.get('samples')} dropped_samples={dropped} "
              f"dropped_stacks={kv.get('dropped_stacks')} dropped_live={kv.get('dropped_live')}")
        check(dropped > 0, f"{label}: dropped_samples={dropped} in {kv}")
        if counter:
            check(int(kv.get(counter, "0")) > 0, f"{label}: {counter} is not counted: {kv}")
            check(int(kv.get(counter, "0")) == dropped, f"{label}: drops counted elsewhere: {kv}")
        if "HEAPSCOPE_MAX_STACKS" in extra:
            check(int(kv.get("stacks", "99")) <= 3, f"{label}: more than 3 stacks kept: {kv}")
        # heapscope's own reader agrees.
        env.top(prof, "alloc_space")

    # Below 64 KiB blocks have headers, which keep a sample's stack and
    # size: a full live table costs the objects their ages, not their
    # counts, and drops nothing; one warning says so. At rate 2 a 48-byte
    # block is sampled with probability 1 - e^-24, so the counts are exact.
    out = env.outdir("live-headers")
    r = env.preload_input([prog, "live"], out, {"HEAPSCOPE_MAX_LIVE": "10", "HEAPSCOPE_RATE": "2"})
    check(r.returncode == 0, f"rate 2, MAX_LIVE=10: exit status {r.returncode}")
    check(len(r.stderr.splitlines()) == 1 and "HEAPSCOPE_MAX_LIVE" in r.stderr and
          "no age" in r.stderr, f"rate 2, MAX_LIVE=10: not one warning about ages: {r.stderr!r}")
    text = env.check_exact(final_path(out), {"LiveMany": (0, 240000, 0, 5000)},
                           "rate 2, MAX_LIVE=10")
    if text is not None:
        kv = runtime_comments(text)
        check(kv.get("dropped_samples") == "0", f"rate 2, MAX_LIVE=10: samples dropped: {kv}")
        # The objects that went without an age are counted (LiveMany's 5000
        # all live at once, against a table of 10 per shard).
        unaged = int(kv.get("objects_without_age", "0"))
        print(f"rate 2, MAX_LIVE=10: objects_without_age={unaged}")
        check(1000 <= unaged <= 5000,
              f"rate 2, MAX_LIVE=10: objects_without_age={unaged}, expected most of 5000: {kv}")

    # The default limits: nothing dropped, exact, deep stacks truncated.
    out = env.outdir("default")
    r = env.preload_input([prog, "stacks"], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 0 and r.stderr == "", f"default limits: {r.returncode} {r.stderr!r}")
    # (and ages for every object: no objects_without_age comment)
    text = env.check_exact(final_path(out), {"DeepLeaf": (19200, 19200, 300, 300)}, "default limits")
    if text is not None:
        kv = runtime_comments(text)
        check(kv.get("dropped_samples") == "0", f"default limits: samples dropped: {kv}")
        check("objects_without_age" not in kv, f"default limits: objects without age: {kv}")
        check("[truncated]" in text, "stacks deeper than 128 frames have no [truncated] frame")

    # More locations, functions and names than a profile's tables start
    # with room for (they grow as they fill): 1200 allocating functions,
    # exact together. Their names are pprof's short form, one "Site" for
    # all; each is its own function with its own symbol (system_name),
    # which Go's pprof -raw lists.
    out = env.outdir("sites")
    r = env.preload_input([prog, "sites"], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 0 and r.stderr == "", f"sites: {r.returncode} {r.stderr!r}")
    text = env.check_exact(final_path(out), {"Site": (738600, 738600, 1200, 1200)}, "sites")
    if text is not None:
        raw = subprocess.run([env.go, "tool", "pprof", "-raw", final_path(out)],
                             capture_output=True, text=True, timeout=120,
                             env=dict(os.environ, HOME=env.tmp, PPROF_TMPDIR=env.tmp)).stdout
        rows = set(re.findall(r" Site :0 s=0\(_Z4SiteILi(\d+)EEvv\)", raw))
        check(rows == {str(i) for i in range(1200)},
              f"sites: go tool pprof -raw lists {len(rows)} of the 1200 Site<N> symbols")
        # Whole stacks, not only their leaves: every Site<N> runs under
        # main and _start (frames the stacks share, looked up again and
        # again as the tables grow), which hold all of their 738600 bytes.
        r = subprocess.run([env.go, "tool", "pprof", "-top", "-unit=B", "-nodefraction=0",
                            final_path(out)], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, HOME=env.tmp, PPROF_TMPDIR=env.tmp))
        for fn in ("main", "_start"):
            m = re.search(r"^\s*\S+\s+\S+\s+\S+\s+(\d+)B\s+\S+\s+" + fn + "$", r.stdout,
                          re.M)
            check(m and int(m.group(1)) >= 738600,
                  f"sites: {fn} does not hold every site's bytes: {m and m.group(0)}")
    finish(env, "test_tables_full")


if __name__ == "__main__":
    main()
