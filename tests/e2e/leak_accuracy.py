"""Accuracy of `heapscope leaks` over repeated runs of the leak scenarios
(the long mode of test_leaks.py; not run by CTest).

  python3 tests/e2e/leak_accuracy.py build/bin/heapscope \\
      build/lib/libheapscope.so build/tests/bin/leak_scenarios [--runs 10] \\
      [--parallel 2] [--seconds 25] [--rate 4K --slow 5000]

Each run is `heapscope run --interval 1s` of leak_scenarios for --seconds
at the default sampling rate (or --rate) with its slow leak at --slow
bytes/s (default 600 kB/s), as in test_leaks.py. Per run it prints the
leaks found growing (with the right kind) and the decoys flagged in the
final report, and the time to each leak's verdict: the shortest prefix of
the snapshot series (6, 7, ... snapshots) from which on the leak is called
growing in every longer prefix, as seconds from the first snapshot. It
also counts decoys flagged in any prefix (what live mode could announce).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_leaks import LEAKS, SLOW_RATE, judge


def leaks_json(heapscope, files):
    r = subprocess.run([heapscope, "leaks", "--format", "json", "-n", "0"] + files,
                       capture_output=True, text=True, timeout=120)
    return json.loads(r.stdout) if r.returncode == 0 else None


def one_run(args, i):
    out = tempfile.mkdtemp(prefix=f"hs-acc-{i}-")
    try:
        start = time.monotonic()
        rate = ["--rate", args.rate] if args.rate else []
        r = subprocess.run([args.heapscope, "run", "--interval", "1s", "--out", out] + rate +
                           ["--", args.program, str(args.seconds), str(args.slow)],
                           capture_output=True, text=True, timeout=args.seconds + 60,
                           env=dict(os.environ, HEAPSCOPE_LIB=args.lib))
        wall = time.monotonic() - start
        if r.returncode != 0:
            return {"run": i, "error": r.stderr[-500:]}
        files = sorted(f for f in os.listdir(out) if f.startswith("heap.") and f[5:9].isdigit())
        files = [os.path.join(out, f) for f in files]
        final = leaks_json(args.heapscope, [out])
        found, flagged = judge(final["suspects"])
        found_ok = {n for n in LEAKS if LEAKS[n] in found.get(n, ())}
        # Prefix analysis: growing at prefix k and at every longer prefix.
        per_prefix = []
        for k in range(6, len(files) + 1):
            d = leaks_json(args.heapscope, files[:k])
            f, fl = judge(d["suspects"])
            per_prefix.append((k, d["duration_sec"], {n for n in LEAKS if LEAKS[n] in f.get(n, ())},
                               fl))
        verdict_at = {}
        for n in LEAKS:
            t = None
            for k, dur, ok, _ in reversed(per_prefix):
                if n not in ok:
                    break
                t = (k, dur)
            verdict_at[n] = t
        early_flags = sorted({str(x) for _, _, _, fl in per_prefix for x in fl})
        return {"run": i, "wall": wall, "snapshots": len(files), "found": sorted(found_ok),
                "flagged": flagged, "verdict_at": verdict_at, "prefix_flags": early_flags}
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("heapscope")
    p.add_argument("lib")
    p.add_argument("program")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--parallel", type=int, default=2)
    p.add_argument("--seconds", type=float, default=25)
    p.add_argument("--rate", default="")
    p.add_argument("--slow", type=int, default=SLOW_RATE)
    args = p.parse_args()
    results = []
    with ThreadPoolExecutor(args.parallel) as ex:
        for res in ex.map(lambda i: one_run(args, i), range(args.runs)):
            results.append(res)
            print(json.dumps(res, default=list), flush=True)
    ok = [r for r in results if "error" not in r]
    print(f"\nruns: {len(results)} ({len(results) - len(ok)} failed to run)")
    for n in LEAKS:
        times = sorted(r["verdict_at"][n][1] for r in ok if r["verdict_at"][n])
        hits = sum(n in r["found"] for r in ok)
        med = times[len(times) // 2] if times else None
        print(f"  {n:24s} found {hits}/{len(ok)}; verdict stable from "
              f"{'%.1fs' % med if med is not None else '-'} (median), "
              f"max {'%.1fs' % times[-1] if times else '-'} after the first snapshot")
    print(f"  decoys flagged in final reports: {sum(len(r['flagged']) for r in ok)} "
          f"(runs with any: {sum(bool(r['flagged']) for r in ok)}/{len(ok)})")
    print(f"  decoys flagged in any prefix (6.. snapshots): "
          f"{sum(bool(r['prefix_flags']) for r in ok)}/{len(ok)} runs "
          f"{sorted({x for r in ok for x in r['prefix_flags']})}")


if __name__ == "__main__":
    main()
