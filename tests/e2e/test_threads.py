"""Threads, in every-allocation mode: four producers allocate, four
consumers realloc and free those blocks on other threads (a queue in
between), while 200 short-lived threads start, allocate, free half and
exit one after another. The totals per function are exact, in use and
allocated, objects and bytes. Run three times: a lost update would show.
With glibc's separate debug symbols installed (libc6-dbg, under
/usr/lib/debug/.build-id), the runtime names glibc's local functions: the
threads' stacks end in start_thread, named in the profile as written."""
import os
import re
import subprocess
import sys

from hstest import CornerEnv, check, finish, final_path

EXPECTED = {
    "Produce": (0, 8120000, 0, 80000),
    "ConsumerGrow": (0, 16240000, 0, 80000),
    "ProduceKept": (133200, 133200, 400, 400),
    "ShortLived": (123000, 246000, 1000, 2000),
}


def libc_debug_symbols(env, profile):
    libc = "/lib/x86_64-linux-gnu/libc.so.6"
    if not os.path.exists(libc):
        print("note: no", libc, "; the debug symbols check is skipped")
        return
    notes = subprocess.run(["readelf", "-n", libc], capture_output=True, text=True).stdout
    m = re.search(r"Build ID: ([0-9a-f]+)", notes)
    check(m is not None, f"no build ID in {libc}")
    if m is None:
        return
    bid = m.group(1)
    debug = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
    check(os.path.exists(debug),
          f"{debug} missing: scripts/install-deps.sh test installs libc6-dbg")
    traces = env.go_pprof(["-traces", "-symbolize=none"], profile)
    check("start_thread" in traces,
          f"threads' stacks do not name start_thread: {traces[-800:]!r}")


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    plain = env.plain([prog])
    check(plain.returncode == 0, f"without the runtime: status {plain.returncode}")
    for i in range(3):
        out = env.outdir(f"run-{i}")
        r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": "1"})
        check(r.returncode == 0, f"run {i}: exit status {r.returncode}: {r.stderr}")
        check(r.stdout == plain.stdout, f"run {i}: output changed: {r.stdout!r}")
        check(r.stderr == "", f"run {i}: the runtime wrote to stderr: {r.stderr!r}")
        env.check_exact(final_path(out), EXPECTED, f"run {i}")
    libc_debug_symbols(env, final_path(out))
    # Sampled, with threads: the output is unchanged and Go reads the profile.
    out = env.outdir("sampled")
    r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": "64K"})
    check(r.returncode == 0 and r.stdout == plain.stdout, f"64K: {r.returncode} {r.stdout!r}")
    env.go_pprof_top(final_path(out))
    finish(env, "test_threads")


if __name__ == "__main__":
    main()
