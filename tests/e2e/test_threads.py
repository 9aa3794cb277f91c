"""Threads, in every-allocation mode: four producers allocate, four
consumers realloc and free those blocks on other threads (a queue in
between), while 200 short-lived threads start, allocate, free half and
exit one after another. The totals per function are exact, in use and
allocated, objects and bytes. Run three times: a lost update would show."""
import sys

from hstest import CornerEnv, check, finish, final_path

EXPECTED = {
    "Produce": (0, 8120000, 0, 80000),
    "ConsumerGrow": (0, 16240000, 0, 80000),
    "ProduceKept": (133200, 133200, 400, 400),
    "ShortLived": (123000, 246000, 1000, 2000),
}


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
    # Sampled, with threads: the output is unchanged and Go reads the profile.
    out = env.outdir("sampled")
    r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": "64K"})
    check(r.returncode == 0 and r.stdout == plain.stdout, f"64K: {r.returncode} {r.stdout!r}")
    env.go_pprof_top(final_path(out))
    finish(env, "test_threads")


if __name__ == "__main__":
    main()
