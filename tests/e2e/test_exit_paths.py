"""Every way out of a program writes heap.final.pb.gz with the program's
own exit status unchanged: return from main, exit(3), _exit(4), _Exit(5),
exit(6) called from a second thread, a return from main while another
thread is still allocating, and the main thread ending first (by
pthread_exit, or cancelled) with the process ending when its last thread
does, as soon as without the runtime (its threads, the HTTP server's
included, do not keep the process alive). On return and exit() the final profile comes
after the atexit handlers and static destructors, so their frees (and an
allocation made in an atexit handler) count; after _exit/_Exit they never
ran. quick_exit(7) keeps its status and output (the README promises no
profile for it; one written must be readable). The program always runs:
an output directory that cannot be created costs one warning line, bad
HEAPSCOPE_* values one line each, and the defaults are used instead."""
import os
import re
import subprocess
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
# (label, mode, status, expected, extra environment). The main thread's
# end is seen at once, by pthread_exit or cancelled (a thread-specific data
# destructor); with an interval, also at the next periodic snapshot. With
# the HTTP server alone, no dump thread runs until the main thread ends.
# fork-thread-return: a forked child (followed, so with a dump thread of
# its own) whose only thread returns from its start routine must end too.
MODES = [
    ("return", "return", 0, AFTER_HANDLERS, {}),
    ("exit3", "exit3", 3, AFTER_HANDLERS, {}),
    ("thread-exit6", "thread-exit6", 6, AFTER_HANDLERS, {}),
    ("busy-return", "busy-return", 0, AFTER_HANDLERS, {}),
    ("_exit4", "_exit4", 4, WITHOUT_HANDLERS, {}),
    ("_Exit5", "_Exit5", 5, WITHOUT_HANDLERS, {}),
    ("main-pthread_exit", "main-pthread_exit", 0, AFTER_HANDLERS, {}),
    ("main-cancelled", "main-cancelled", 0, AFTER_HANDLERS, {}),
    ("main-cancelled-interval", "main-cancelled", 0, AFTER_HANDLERS,
     {"HEAPSCOPE_INTERVAL": "100ms"}),
    ("fork-thread-return", "fork-thread-return", 0, AFTER_HANDLERS, {}),
    ("main-pthread_exit-http", "main-pthread_exit", 0, AFTER_HANDLERS,
     {"HEAPSCOPE_HTTP": "127.0.0.1:0", "HEAPSCOPE_DUMP_SIGNAL": "0"}),
    ("quick_exit7", "quick_exit7", 7, None, {}),
]
SERVING = re.compile(r"^heapscope: serving http://\S+\n", re.M)


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    for label, mode, status, expected, extra in MODES:
        plain = env.plain([prog, mode])
        check(plain.returncode == status, f"{mode} without the runtime: status {plain.returncode}")
        out = env.outdir(label)
        try:
            # A second at most without the runtime: a process kept alive
            # (by the runtime's threads) runs into the timeout.
            r = env.preload_input([prog, mode], out, {"HEAPSCOPE_RATE": "1", **extra}, timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"{label}: still running after 30 s, kept alive")
            continue
        check(r.returncode == status, f"{label}: exit status {r.returncode}, want {status}: {r.stderr}")
        check(r.stdout == plain.stdout, f"{label}: output changed: {r.stdout!r} (was {plain.stdout!r})")
        stderr = SERVING.sub("", r.stderr) if "HEAPSCOPE_HTTP" in extra else r.stderr
        check(stderr == plain.stderr, f"{label}: stderr changed: {r.stderr!r}")
        files = listdir(out)
        check(not [f for f in files if f.endswith(".tmp")], f"{mode}: *.tmp left: {files}")
        if expected is not None:
            env.check_exact(final_path(out), expected, label)
        elif os.path.exists(final_path(out)):
            env.go_pprof_top(final_path(out))
            print(f"{label}: a final profile was written")
        else:
            print(f"{label}: no final profile (not promised)")

    plain = env.plain([prog, "exit3"])
    blocker = os.path.join(env.tmp, "a-file")
    open(blocker, "w").close()
    r = env.preload_input([prog, "exit3"], os.path.join(blocker, "sub"), {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 3 and r.stdout == plain.stdout,
          f"unwritable output: status {r.returncode}, output {r.stdout!r}")
    lines = r.stderr.splitlines()
    check(len(lines) == 1 and "cannot write" in r.stderr and ": Not a directory; " in r.stderr,
          f"unwritable output: expected one warning line with the reason, got {r.stderr!r}")

    # A file size limit of 0: the final profile cannot be written, and the
    # process is not killed by SIGXFSZ for trying (status 153 before), also
    # when stderr, where the warning goes, is a regular file.
    plain_fsize0 = env.plain([prog, "fsize0-exit3"])
    out = env.outdir("fsize0")
    r = env.preload_input([prog, "fsize0-exit3"], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 3 and r.stdout == plain_fsize0.stdout,
          f"file size limit 0: status {r.returncode}, output {r.stdout!r}: {r.stderr!r}")
    check(len(r.stderr.splitlines()) == 1 and ": File too large; " in r.stderr,
          f"file size limit 0: expected one warning line with the reason, got {r.stderr!r}")
    out = env.outdir("fsize0-file")
    with open(os.path.join(env.tmp, "fsize0.err"), "w+") as err:
        p = subprocess.run([prog, "fsize0-exit3"], env=env.preload_env(out, {"HEAPSCOPE_RATE": "1"}),
                           stdout=subprocess.PIPE, stderr=err, text=True, timeout=30)
        err.seek(0)
        logged = err.read()
    check(p.returncode == 3 and p.stdout == plain_fsize0.stdout and logged == "",
          f"file size limit 0, stderr a file: status {p.returncode}, output {p.stdout!r}, "
          f"stderr {logged!r}")

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
