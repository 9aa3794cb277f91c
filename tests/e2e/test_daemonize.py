"""A daemonizing program (fork, setsid, fork, stdio to /dev/null): the
original process's profile is exact and holds nothing of the daemon; the
daemon's own heap.PID.final.pb.gz holds its allocations, exact at rate 1,
and the inherited ones it still holds."""
import os
import sys
import time

from hstest import Env, check, finish


def main():
    env = Env(sys.argv)
    prog = env.args[0]
    out = env.outdir("daemon")
    marker = os.path.join(env.tmp, "daemon.pid")
    r = env.preload([prog, marker], out, {"HEAPSCOPE_RATE": "1"})
    check(r.returncode == 0 and r.stdout == "started\n", f"original process: {r.returncode} {r.stdout!r}")
    deadline = time.time() + 20
    while not os.path.exists(marker) and time.time() < deadline:
        time.sleep(0.05)
    if not check(os.path.exists(marker), "the daemon never finished"):
        finish(env, "test_daemonize")
    daemon_pid = int(open(marker).read())
    daemon_final = os.path.join(out, f"heap.{daemon_pid}.final.pb.gz")
    while not os.path.exists(daemon_final) and time.time() < deadline:
        time.sleep(0.05)
    check(os.path.exists(daemon_final), f"no {daemon_final}: {sorted(os.listdir(out))}")
    parent = {k.split("(")[0]: v for k, v in env.top(os.path.join(out, "heap.final.pb.gz"),
                                                      "inuse_space").items()}
    check(parent.get("ParentAlloc") == 6000, f"original process: ParentAlloc {parent.get('ParentAlloc')}")
    check("DaemonAlloc" not in parent, "the daemon's allocations are in the original process's profile")
    if os.path.exists(daemon_final):
        daemon = {k.split("(")[0]: v for k, v in env.top(daemon_final, "inuse_space").items()}
        check(daemon.get("DaemonAlloc") == 10000, f"daemon: DaemonAlloc {daemon.get('DaemonAlloc')}")
        check(daemon.get("ParentAlloc") == 6000,
              f"daemon: inherited ParentAlloc blocks {daemon.get('ParentAlloc')}, want 6000")
        env.go_pprof_top(daemon_final)
    finish(env, "test_daemonize")


if __name__ == "__main__":
    main()
