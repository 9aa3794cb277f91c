"""The time until a cgroup's task limit, end to end, in a real cgroup.

The leak scenarios (a thread parked forever every second, among others)
run under `heapscope run` inside a pids cgroup this test makes with
pids.max 120 (cgroup v1's pids controller, or v2's). The runtime records
the limit with the least room in every threads profile (task_limit=,
tasks=, task_limit_source=, read by Go's pprof too); `heapscope leaks`
projects the thread leak to it: (120 - tasks in the cgroup) / threads per
second, for the kind and for the suspect, in the JSON and the text. The
mapping leak's vm.max_map_count is the machine's. Needs root and a
writable pids hierarchy: exits 77 (skipped, as CTest shows it) when it
cannot make one.

Usage: test_task_limit.py HEAPSCOPE LIBHEAPSCOPE LEAK_SCENARIOS"""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroups
from hstest import Env, check, finish, runtime_comments

LIMIT = 120


def main():
    env = Env(sys.argv)
    prog = env.args[0]
    made = cgroups.make_cgroup(f"heapscope-test-pids-{os.getpid()}", "pids",
                               {"pids.max": LIMIT}, {"pids.max": LIMIT})
    if made is None:
        print("test_task_limit: SKIPPED: cannot make a pids cgroup here (needs root and a "
              "writable cgroup hierarchy with the pids controller)")
        env.cleanup()
        sys.exit(77)
    cgdir, version = made
    try:
        out = env.outdir("limited")
        r = subprocess.run([env.heapscope, "run", "--interval", "1s", "--out", out, "--", prog,
                            "12", "600000"], capture_output=True, text=True, timeout=90,
                           preexec_fn=cgroups.entering(cgdir))
        check(r.returncode == 0, f"heapscope run: {r.returncode} {r.stderr[-2000:]!r}")
        # What the runtime recorded, as Go's pprof reads it.
        raw = env.go_pprof(["-raw"], os.path.join(out, "threadcreate.final.pb.gz"))
        c = runtime_comments(raw)
        source = f"cgroup_v{version}"
        check(c.get("task_limit") == str(LIMIT) and c.get("task_limit_source") == source and
              0 < int(c.get("tasks", "0")) < LIMIT,
              f"threadcreate comments: {c}, want task_limit={LIMIT} task_limit_source={source}")

        j = env.run(["leaks", "--format", "json", out])
        check(j.returncode == 0, f"leaks --format json: {j.stderr}")
        data = json.loads(j.stdout) if j.returncode == 0 else {}
        kinds = {k["kind"]: k for k in data.get("resources", [])}
        th = kinds.get("thread", {})
        used = th.get("limit_used") or 0
        check(th.get("limit") == LIMIT and th.get("limit_name") == "the cgroup's task limit" and
              10 <= used < LIMIT, f"thread kind: {th}")
        # One thread a second: the rest of the room in about as many seconds.
        want = LIMIT - used
        ttl = th.get("time_to_limit_sec")
        check(isinstance(ttl, (int, float)) and 0.7 * want <= ttl <= 1.4 * want,
              f"thread time to the task limit {ttl}, want about {want} s")
        parked = [s for s in data.get("suspects", [])
                  if s["kind"] == "thread" and any("ParkThreadForever" in f for f in s["frames"])]
        check(len(parked) == 1 and isinstance(parked[0].get("time_to_limit_sec"), (int, float)) and
              0.7 * want <= parked[0]["time_to_limit_sec"] <= 1.4 * want,
              f"the parked threads' own time to the limit: {parked}")
        # The mappings' limit is the machine's.
        with open("/proc/sys/vm/max_map_count") as f:
            max_map_count = int(f.read())
        check(kinds.get("mmap", {}).get("limit") == max_map_count,
              f"mmap kind: {kinds.get('mmap')}, want vm.max_map_count {max_map_count}")

        text = env.run(["leaks", out]).stdout
        check(re.search(rf"\nthread: \d+ threads live now, .*; the cgroup's task limit \({LIMIT}, "
                        rf"{used} tasks in the cgroup now\) is reached in about \S+ at this rate\n",
                        text), f"text report's thread line: {text[:3000]}")
        check(re.search(r"\n *\d+\. thread .*; the cgroup's task limit in about \S+ at this rate "
                        r"alone\n", text), f"text report's thread suspect: {text[:3000]}")
    finally:
        cgroups.remove_cgroup(cgdir)
    finish(env, "test_task_limit")


if __name__ == "__main__":
    main()
