"""Stack capture: deep stacks kept whole up to the limit (128 frames, at
least the 64 promised), deeper ones truncated and marked, correct through
libstdc++ code without frame pointers, no frames of the profiler itself;
and the profile reads with function names in Go's pprof when the program's
binary is gone (names travel in the profile)."""
import os
import shutil
import subprocess
import sys

from hstest import Env, check, finish


def traces(env, prof):
    e = dict(os.environ, HOME=env.tmp, PPROF_TMPDIR=env.tmp, PPROF_BINARY_PATH=env.tmp)
    r = subprocess.run([env.go, "tool", "pprof", "-traces", "-sample_index=alloc_space", prof],
                       capture_output=True, text=True, timeout=120, env=e)
    check(r.returncode == 0, f"go tool pprof -traces failed: {r.stderr}")
    # Traces are separated by dashed lines; each lists frames leaf first.
    out = []
    for block in r.stdout.split("-----------+-------------------------------------------------------"):
        # "%10s   name": the value column, then the function name (with spaces).
        frames = [ln[11:].strip() for ln in block.strip("\n").splitlines()
                  if ln.strip() and not ln.startswith(("File:", "Build ID:", "heapscope:", "Type:",
                                                        "Time:", "Duration:"))]
        if frames:
            out.append((block, frames))
    return out


def main():
    env = Env(sys.argv)
    # Run a copy of the program and delete it before reading the profile:
    # function names must come from the profile itself.
    prog = os.path.join(env.tmp, "deep_stacks_copy")
    shutil.copy(env.args[0], prog)
    out = env.outdir("stacks")
    r = env.preload([prog], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 0 and r.stdout == "100 300\n", f"program changed: {r.returncode} {r.stdout!r}")
    os.remove(prog)
    prof = os.path.join(out, "heap.final.pb.gz")
    tr = traces(env, prof)

    def find(leaf_fn, size):
        for block, frames in tr:
            if any(f.startswith(leaf_fn) for f in frames[:3]) and size in block:
                return frames
        return None

    d100 = find("AllocAtDepth", "1.08kB")
    check(d100 is not None, "no trace for the 100-deep allocation")
    if d100:
        n = sum(1 for f in d100 if f.startswith("Recurse"))
        check(n == 100, f"100-deep stack: {n} Recurse frames, want 100 (under AllocAtDepth)")
        check(any(f == "main" for f in d100), "100-deep stack does not reach main")
        check(not any("heapscope" in f for f in d100), f"profiler frames in the stack: {d100[:5]}")
        check(d100[0].startswith("AllocAtDepth"), f"leaf is not AllocAtDepth: {d100[:3]}")
    d300 = find("AllocAtDepth", "3.25kB")
    check(d300 is not None, "no trace for the 300-deep allocation")
    if d300:
        check(len(d300) == 129, f"300-deep stack has {len(d300)} frames, want 128 + [truncated]")
        check(d300[-1] == "[truncated]", f"300-deep stack not marked truncated: ends {d300[-3:]}")
    s = find("CompareAndAllocate", "7.59kB")
    check(s is not None, "no trace for the allocation in the sort comparator")
    if s:
        check(any("SortWithAllocatingComparator" in f for f in s) and "main" in s,
              f"stack through libstdc++'s std::sort is broken: {s}")
    finish(env, "test_stacks")


if __name__ == "__main__":
    main()
