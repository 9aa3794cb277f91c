"""The rest of the malloc family under the runtime: posix_memalign,
aligned_alloc, memalign (also with an alignment glibc rounds up), valloc,
pvalloc, reallocarray (and its overflow), realloc to 0 and across sizes,
calloc (zeroed, and its overflow: NULL with ENOMEM), malloc_usable_size,
nothrow and throwing operator new, strdup/strndup and a malloc wrapper
(xmalloc, in the heap profiles' drop_frames: what they allocate counts in
their caller). The program checks its own results;
its output and exit status must not change under the runtime, in
every-allocation mode (where each function's totals are exact), at a
low rate (every block with a header) and at rates where sampled objects
are tagged blocks (over glibc; page-aligned over other allocators).

pvalloc: the runtime records what pvalloc really hands out, the request
rounded up to a whole page (pvalloc(5000) -> 8192, pvalloc(1) -> 4096).

The profiler's own frames never show in a stack, also not when its
operator new fails and throws (or, for the nothrow form, catches)
std::bad_alloc."""
import os
import sys

from hstest import CornerEnv, check, finish

# (inuse_space, alloc_space, inuse_objects, alloc_objects), from the
# program's own comment.
EXPECTED = {
    "PosixMemalign": (4000, 4000, 2, 2),
    "AlignedAlloc": (3072, 3072, 3, 3),
    "Memalign": (700, 700, 1, 1),
    "OddAlignment": (300, 300, 2, 2),
    "Valloc": (5000, 5000, 1, 1),
    "Pvalloc": (12288, 12288, 2, 2),
    "Reallocarray": (2000, 3000, 1, 2),
    "ReallocZero": (0, 4000, 0, 1),
    "ReallocMove": (50, 100150, 1, 3),
    "CallocZero": (5000, 10000, 1, 2),
    "CallocOverflow": (0, 0, 0, 0),
    "UsableSize": (1000, 1000, 1, 1),
    "NothrowNew": (3000, 3000, 1, 1),
    "NewThrows": (0, 0, 0, 0),
    "Strdup": (100, 150, 1, 2),
    "Wrapper": (300, 300, 1, 1),
    "AlignedRealloc": (2000, 2500, 1, 2),
    "HugeMalloc": (0, 0, 0, 0),
    "LibcMalloc": (0, 0, 0, 0),
}


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    plain = env.plain([prog])
    check(plain.returncode == 0, f"without the runtime the program fails: {plain.stdout}")
    for name in EXPECTED:
        check(f"{name}: ok\n" in plain.stdout, f"without the runtime: {name} not ok: {plain.stdout}")

    out = env.outdir("exact")
    r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == plain.returncode, f"rate 1: exit status {r.returncode}: {r.stderr}")
    check(r.stdout == plain.stdout, f"rate 1: output changed:\n{r.stdout}\nwas:\n{plain.stdout}")
    check(r.stderr == "", f"rate 1: the runtime wrote to stderr: {r.stderr!r}")
    prof = os.path.join(out, "heap.final.pb.gz")
    env.check_exact(prof, EXPECTED, "rate 1")
    if os.path.exists(prof):
        own = sorted(fn for fn in env.top(prof, "alloc_space")
                     if fn.startswith(("heapscope::", "operator new", "operator delete")))
        check(not own, f"rate 1: the profiler's own frames are in the profile's stacks: {own}")
        wrappers = {fn: v for fn, v in env.top(prof, "alloc_space").items()
                    if fn.split("(")[0] in ("xmalloc", "strdup", "__strdup", "strndup", "__strndup")
                    and v != 0}
        check(not wrappers, f"rate 1: allocation wrappers hold flat values: {wrappers}")

    # 64K is the lowest rate at which sampled objects are tagged (blocks
    # 16 bytes or their alignment larger, the tag in front) instead of
    # every block having a header; with 300 rounds many of these calls are
    # sampled, realloc moves sampled blocks, frees and malloc_usable_size
    # read their tags.
    for rate in ("64K", "4K", "524288"):
        out = env.outdir("rate-" + rate)
        r = env.preload_input([prog, "300"], out, {"HEAPSCOPE_RATE": rate})
        check(r.returncode == plain.returncode, f"rate {rate}: exit status {r.returncode}: {r.stderr}")
        check(r.stdout == plain.stdout,
              f"rate {rate}: output changed:\n{r.stdout}\nwas:\n{plain.stdout}")
        prof = os.path.join(out, "heap.final.pb.gz")
        if check(os.path.exists(prof), f"rate {rate}: no final profile"):
            env.go_pprof_top(prof)
    finish(env, "test_alloc_family")


if __name__ == "__main__":
    main()
