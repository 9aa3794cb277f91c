"""Programs that bring their own allocation functions run under the
runtime exactly as without it: same output, same exit status, no block
freed by an allocator that did not make it.

- own_new arena: its own operator new(size_t) and operator delete(void*)
  over an arena that aborts on a foreign block, and every other form
  (sized delete, new[]/delete[], nothrow new and new[]) left to the C++
  library: the runtime's forms must call the program's pair, as the C++
  library's do.
- own_new malloc: the same pair over malloc and free: the runtime sees the
  allocations through the program's operator new, exactly (rate 1).
- own_malloc: its own malloc family over an arena (as Chromium has): the
  calls that reach the runtime (new[], nothrow and aligned new, sized
  delete, reallocarray, strdup) end in the program's functions, and the
  runtime says once that it cannot see this program's heap.
- canonical_plt: a program built without PIE that takes the addresses of
  malloc, free and operator new (as python3 and node do for malloc): its
  symbols are its PLT stubs, not allocators of its own. The runtime sees
  every allocation, exactly (rate 1), says nothing about shadowing, and
  its operator new does not call the stub (which leads back to it). With
  tcmalloc preloaded ahead of the runtime, the stubs lead to tcmalloc,
  and the runtime names it."""
import json
import os
import subprocess
import sys

from hstest import (HEAP_TYPES, CornerEnv, check, find_tcmalloc, finish, final_path,
                    runtime_comments, short_name)


def same_run(env, cmd, label, out, extra=None):
    plain = env.plain(cmd)
    check(plain.returncode == 0 and plain.stdout.startswith("ok "),
          f"{label}: uninstrumented run failed: {plain.returncode} {plain.stderr!r}")
    r = env.preload_input(cmd, out, extra={"HEAPSCOPE_RATE": "1", **(extra or {})})
    check(r.returncode == 0, f"{label}: status {r.returncode} under the runtime: {r.stderr!r}")
    check(r.stdout == plain.stdout,
          f"{label}: output {r.stdout!r} under the runtime, {plain.stdout!r} without")
    return r


def cumulative(env, profile, names):
    """{short function name: (inuse_space, alloc_space, inuse_objects,
    alloc_objects)}, cumulative: the allocations are made by the
    program's operator new, called from these functions."""
    got = {n: [0, 0, 0, 0] for n in names}
    for i, sample in enumerate(HEAP_TYPES):
        r = env.run(["top", "--format", "json", "--sample", sample, "-n", "100000", profile])
        check(r.returncode == 0, f"heapscope top failed: {r.stderr}")
        for row in json.loads(r.stdout)["rows"]:
            n = short_name(row["function"])
            if n in got:
                got[n][i] += row["cum"]
    return {n: tuple(v) for n, v in got.items()}


def main():
    env = CornerEnv(sys.argv)
    own_new, own_malloc, canonical_plt = (os.path.abspath(a) for a in env.args[:3])

    same_run(env, [own_new, "arena"], "own_new arena", env.outdir("new-arena"))

    out = env.outdir("new-malloc")
    same_run(env, [own_new, "malloc"], "own_new malloc", out)
    want = {"TrackedKeep": (480, 480, 10, 10), "TrackedChurn": (0, 9600, 0, 100)}
    if check(os.path.exists(final_path(out)), "own_new malloc: no final profile"):
        got = cumulative(env, final_path(out), want.keys())
        for fn, w in want.items():
            check(got[fn] == w, f"own_new malloc: {fn}: got {got[fn]}, want {w}")
        env.go_pprof_top(final_path(out))

    out = env.outdir("malloc")
    r = same_run(env, [own_malloc], "own_malloc", out)
    check(r.stderr.count("are not seen") == 1,
          f"own_malloc: the runtime did not say once that it cannot see the heap: {r.stderr!r}")
    if check(os.path.exists(final_path(out)), "own_malloc: no final profile"):
        got = env.values(final_path(out), ["main"])
        check(got["main"] == (0, 0, 0, 0), f"own_malloc: the profile shows {got['main']} in main")
        # The profile says why its heap is empty, and so do the run summary
        # and the leak report, rather than "0 in use" or "no leak".
        kv = runtime_comments(env.go_pprof_top(final_path(out)) or "")
        check(kv.get("heap_not_seen") == "1" and kv.get("malloc_from", "") != "",
              f"own_malloc: the profile does not say the heap was not seen: {kv}")
    out = env.outdir("malloc-run")
    r = env.run(["run", "--out", out, "--", own_malloc], env=dict(os.environ, HEAPSCOPE_LIB=env.lib))
    check(r.returncode == 0, f"own_malloc under heapscope run: {r.returncode} {r.stderr!r}")
    check("heapscope: the heap is not profiled: malloc comes from" in r.stderr and
          "in use at exit" not in r.stderr,
          f"own_malloc: the run summary does not say the heap was not profiled: {r.stderr!r}")
    r = env.run(["leaks", "--format", "json", out])
    check(r.returncode == 0 and json.loads(r.stdout).get("heap_not_seen"),
          f"own_malloc: heapscope leaks does not say the heap was not seen: {r.stdout[:500]!r}")

    out = env.outdir("canonical-plt")
    r = same_run(env, [canonical_plt], "canonical_plt", out)
    check(r.stderr == "", f"canonical_plt: the runtime wrote to stderr: {r.stderr!r}")
    env.check_exact(final_path(out), {"ViaPointer": (10000, 10000, 10, 10),
                                      "ViaCall": (10000, 10000, 20, 20),
                                      "ViaNew": (2300, 2300, 9, 9),
                                      "Churn": (0, 6400, 0, 100)}, "canonical_plt")
    # With an allocator preloaded ahead of the runtime, the stubs lead to it:
    # the runtime names it, once.
    tc = find_tcmalloc()
    if check(tc is not None, "libtcmalloc.so.4 not found (scripts/install-deps.sh test)"):
        e = env.preload_env(env.outdir("canonical-plt-tcmalloc"), {"HEAPSCOPE_RATE": "1"})
        e["LD_PRELOAD"] = f"{tc} {env.lib}"
        r = subprocess.run([canonical_plt], env=e, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0 and r.stdout.startswith("ok "), f"canonical_plt + tcmalloc: {r}")
        check(r.stderr.count("are not seen") == 1 and os.path.basename(tc) in r.stderr,
              f"canonical_plt + tcmalloc: the runtime did not name tcmalloc once: {r.stderr!r}")
    finish(env, "test_own_allocators")


if __name__ == "__main__":
    main()
