"""A leak that the program's teardown frees (teardown_leak: a global cache
destroyed as the program exits) under `heapscope run`, every allocation
recorded, snapshots every 100 ms. The profile at exit holds none of it;
the trends are judged without that profile, so the run summary and
`heapscope leaks` name RememberForever as growing, with the bytes it held
while running, and nothing else (the bounded ring and the table built at
start are not growing). Without the profile at exit left out, the
teardown drop made the leak look like a temporary peak.

Usage: test_leaks_teardown.py HEAPSCOPE LIBHEAPSCOPE PROGRAM"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import Env, check, finish, final_path


def main():
    env = Env(sys.argv)
    prog = env.args[0]
    out = env.outdir("teardown")
    r = env.run(["run", "--rate", "1", "--interval", "100ms", "--out", out, "--", prog, "2500"],
                env=dict(os.environ, HEAPSCOPE_LIB=env.lib))
    check(r.returncode == 0 and r.stdout == "kept 250\n",
          f"heapscope run: {r.returncode} {r.stdout!r} {r.stderr[-2000:]!r}")
    summary = r.stderr
    check(os.path.exists(final_path(out)), "no final profile")
    held = env.top(final_path(out), "inuse_space")
    check(held.get("RememberForever", 0) == 0 and held.get("BuildTable", 0) == 0,
          f"the teardown did not free the cache and the table: {held}")
    check("heapscope: at the last snapshot before exit" in summary and
          "the program's teardown freed the rest" in summary,
          f"the summary does not say what was in use before the teardown: {summary[-3000:]!r}")
    # ... and by which stacks: the table of the last snapshot names the
    # cache, which the table at exit (after the teardown) cannot.
    table = summary.split("in use at the last snapshot before exit, by leading stacks:\n", 1)
    rows = table[1].split("heapscope:", 1)[0] if len(table) == 2 else ""
    check("RememberForever" in rows,
          f"the summary shows no stacks of the last snapshot before exit: {summary[-3000:]!r}")
    check("heapscope: judged while running" in summary,
          f"the summary does not say the profile at exit was left out: {summary[-3000:]!r}")
    check("leak suspects (growing)" in summary and "RememberForever" in summary,
          f"the summary names no leak: {summary[-3000:]!r}")

    r = env.run(["leaks", "--format", "json", out])
    check(r.returncode == 0, f"heapscope leaks: {r.stderr}")
    if r.returncode == 0:
        j = json.loads(r.stdout)
        check(j.get("running_only") is True, f"running_only: {j.get('running_only')}")
        heap = [s for s in j["suspects"] if s["kind"] == "heap"]
        check([s["frames"][0] for s in heap] == ["RememberForever"],
              f"heap suspects: {[s['frames'][:2] for s in heap]}")
        if heap:
            # 16 KiB every 10 ms: the last snapshot before exit holds most
            # of the 250 entries.
            check(heap[0]["inuse"] >= 150 * 16384,
                  f"RememberForever in use while running: {heap[0]['inuse']}")
    finish(env, "test_leaks_teardown")


if __name__ == "__main__":
    main()
