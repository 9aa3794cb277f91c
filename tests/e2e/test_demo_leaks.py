"""The bundled demo service under `heapscope run` (what scripts/demo.sh
prints, 20 s at the default rate): the leak report names its four leaks,
each with its kind, and nothing else.
  heap   demo::SessionCache::Remember, demo::EventBus::Subscribe
  fd     demo::AuditLog::OpenForPath
  thread demo::SpawnWatchdog (its ~200 bytes of heap per thread are too
         few samples to show; if they do, as heap, that is the same leak)
Decoys (ResponseCache::Put, ReportBuilder::BuildUsageReport,
GeoTable::Build, per-request parsing) must not be reported growing."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import Env, check, finish

LEAKS = {"SessionCache::Remember": {"heap"}, "EventBus::Subscribe": {"heap"},
         "AuditLog::OpenForPath": {"fd"}, "SpawnWatchdog": {"thread"}}


def main():
    env = Env(sys.argv)
    demo = env.args[0]
    out = env.outdir("demo")
    r = env.run(["run", "--out", out, "--", demo, "--duration", "20"], timeout=90)
    check(r.returncode == 0, f"demo: exit {r.returncode}: {r.stderr[-2000:]}")
    report = r.stderr[r.stderr.find("leak trends:"):]
    check("leak suspects (growing)" in report, f"no leak report:\n{r.stderr[-3000:]}")
    for name in LEAKS:
        check(name in report, f"the run summary does not name {name}:\n{report}")
    check(f"charts: heapscope web {out}" in report, f"no pointer to the page:\n{report}")
    j = env.run(["leaks", "--format", "json", "-n", "0", out])
    check(j.returncode == 0, f"leaks: {j.stderr}")
    data = json.loads(j.stdout)
    found = {}
    for s in data["suspects"]:
        owner = next((n for f in s["frames"] for n in LEAKS if n in f), None)
        check(owner is not None, f"not one of the demo's leaks: {s['kind']} {s['frames'][:4]}")
        if owner:
            found.setdefault(owner, set()).add(s["kind"])
    print("found:", {k: sorted(v) for k, v in found.items()})
    for name, kinds in LEAKS.items():
        check(kinds <= found.get(name, set()), f"{name} not reported as {kinds}: {found}")

    # The allocation plumbing (operator new, the allocators' allocate, the
    # containers' helpers that only allocate) is in the profile's
    # drop_frames, so no flat row of `heapscope top` names it, although it
    # expands inlined frames from DWARF. Matched as pprof matches: the name
    # up to its first "(" (a template argument holding one, as
    # std::function's, cuts it short and is not matched).
    plumbing = re.compile(r"operator new(\[\])?|std::__new_allocator<.*>::allocate|"
                          r"std::_Vector_base<.*>::_M_allocate|"
                          r"std::(__cxx11::)?basic_string<.*>::_M_create|"
                          r"std::__detail::_Hashtable_alloc<.*>::_M_allocate_buckets")
    flat = env.top(os.path.join(out, "heap.final.pb.gz"), "alloc_space")
    shown = [f for f, v in flat.items() if v > 0 and plumbing.fullmatch(f.split("(")[0].strip())]
    check(not shown, f"allocation plumbing holds flat values: {shown}")
    check(any("demo::" in f or "std::" in f for f, v in flat.items() if v > 0),
          f"no flat rows: {flat}")
    # --noinlines gives what inlined container internals hold to their
    # first out-of-line caller: the demo's own leaking functions.
    r = env.run(["top", "--noinlines", "--format", "json", "-n", "0", "--sample", "alloc_space",
                 os.path.join(out, "heap.final.pb.gz")])
    check(r.returncode == 0, f"top --noinlines: {r.stderr}")
    if r.returncode == 0:
        rows = {row["function"]: row["flat"] for row in json.loads(r.stdout)["rows"]}
        for name in ("SessionCache::Remember", "EventBus::Subscribe"):
            check(any(name in f and v > 0 for f, v in rows.items()),
                  f"top --noinlines: {name} holds nothing flat: {sorted(rows, key=rows.get)[-8:]}")
    # The views take it too: in `folded --noinlines` the demo's leaking
    # functions are leaves (stacks end in them), as in top's flat column.
    r = env.run(["folded", "--noinlines", "--sample", "alloc_space",
                 os.path.join(out, "heap.final.pb.gz")])
    check(r.returncode == 0, f"folded --noinlines: {r.stderr}")
    leaves = {line.rsplit(" ", 1)[0].split(";")[-1] for line in r.stdout.splitlines()}
    for name in ("SessionCache::Remember", "EventBus::Subscribe"):
        check(any(name in leaf for leaf in leaves),
              f"folded --noinlines: no stack ends in {name}: {sorted(leaves)[:8]}")
    finish(env, "test_demo_leaks")


if __name__ == "__main__":
    main()
