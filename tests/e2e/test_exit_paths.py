"""Every way out of a program writes heap.final.pb.gz with the program's
own exit status unchanged: return from main, exit(3), _exit(4), _Exit(5),
exit(6) called from a second thread, and a return from main while another
thread is still allocating. On return and exit() the final profile comes
after the atexit handlers and static destructors, so their frees (and an
allocation made in an atexit handler) count; after _exit/_Exit they never
ran. quick_exit(7) keeps its status and output (the README promises no
profile for it; one written must be readable). The program always runs:
an output directory that cannot be created costs one warning line, bad
HEAPSCOPE_* values one line each, and the defaults are used instead."""
import os
import sys

from hstest import CornerEnv, check, finish, final_path, listdir, runtime_comments

AFTER_HANDLERS = {
    "KeptAlloc": (10000, 10000, 4, 4),
    "AtexitFreedAlloc": (0, 1234, 0, 1),
    "StaticFreedAlloc": (0, 4321, 0, 1),
    "AtexitAlloc": (777, 777, 1, 1),
}
WITHOUT_HANDLERS = {
    "KeptAlloc": (10000, 10000, 4, 4),
    "AtexitFreedAlloc": (1234, 1234, 1, 1),
    "StaticFreedAlloc": (4321, 4321, 1, 1),
    "AtexitAlloc": (0, 0, 0, 0),
}
MODES = [
    ("return", 0, AFTER_HANDLERS),
    ("exit3", 3, AFTER_HANDLERS),
    ("thread-exit6", 6, AFTER_HANDLERS),
    ("busy-return", 0, AFTER_HANDLERS),
    ("_exit4", 4, WITHOUT_HANDLERS),
    ("_Exit5", 5, WITHOUT_HANDLERS),
]


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    for mode, status, expected in MODES + [("quick_exit7", 7, None)]:
        plain = env.plain([prog, mode])
        check(plain.returncode == status, f"{mode} without the runtime: status {plain.returncode}")
        out = env.outdir(mode)
        r = env.preload_input([prog, mode], out, {"HEAPSCOPE_RATE": "1"})
        check(r.returncode == status, f"{mode}: exit status {r.returncode}, want {status}: {r.stderr}")
        check(r.stdout == plain.stdout, f"{mode}: output changed: {r.stdout!r} (was {plain.stdout!r})")
        check(r.stderr == plain.stderr, f"{mode}: stderr changed: {r.stderr!r}")
        files = listdir(out)
        check(not [f for f in files if f.endswith(".tmp")], f"{mode}: *.tmp left: {files}")
        if expected is not None:
            env.check_exact(final_path(out), expected, mode)
        elif os.path.exists(final_path(out)):
            env.go_pprof_top(final_path(out))
            print(f"{mode}: a final profile was written")
        else:
            print(f"{mode}: no final profile (not promised)")

    plain = env.plain([prog, "exit3"])
    blocker = os.path.join(env.tmp, "a-file")
    open(blocker, "w").close()
    r = env.preload_input([prog, "exit3"], os.path.join(blocker, "sub"), {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 3 and r.stdout == plain.stdout,
          f"unwritable output: status {r.returncode}, output {r.stdout!r}")
    lines = r.stderr.splitlines()
    check(len(lines) == 1 and "cannot write" in r.stderr,
          f"unwritable output: expected one warning line, got {r.stderr!r}")

    out = env.outdir("bad-values")
    bad = {"HEAPSCOPE_RATE": "abc", "HEAPSCOPE_INTERVAL": "soon", "HEAPSCOPE_KEEP": "-1",
           "HEAPSCOPE_DUMP_SIGNAL": "FOO"}
    r = env.preload_input([prog, "exit3"], out, bad)
    check(r.returncode == 3 and r.stdout == plain.stdout,
          f"bad values: status {r.returncode}, output {r.stdout!r}")
    lines = r.stderr.splitlines()
    check(len(lines) == len(bad), f"bad values: expected {len(bad)} lines, got {r.stderr!r}")
    for k, v in bad.items():
        check(f"{k}={v}" in r.stderr, f"bad values: {k}={v} not reported: {r.stderr!r}")
    if check(os.path.exists(final_path(out)), "bad values: no final profile"):
        kv = runtime_comments(env.go_pprof_top(final_path(out)))
        check(kv.get("rate") == "524288", f"bad values: the default rate was not used: {kv}")
    finish(env, "test_exit_paths")


if __name__ == "__main__":
    main()
