#!/usr/bin/env python3
"""What heapscope adds to a program's peak resident memory as its heap grows.

Runs bench-hold (a heap of 64 MiB, 256 MiB and 1 GiB of 16 B - 8 KiB objects,
held to the end) uninstrumented, at the default rate and at rate 1, several
times each, and reports the median extra peak RSS: at the default rate as a
fixed floor plus a share of the heap (a least-squares line through the
three sizes), at rate 1 as bytes per live object.

  python3 bench/memory_overhead.py [--build build] [--runs 3] [--output FILE]
"""
import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile

SCALES = [0.25, 1.0, 4.0]  # x 256 MiB
BASE_MIB = 256
OPS_RE = re.compile(r"ops=(\d+)")


def peak_rss_kb(argv, env):
    with tempfile.TemporaryDirectory() as tmp:
        rusage = os.path.join(tmp, "rusage")
        run_env = dict(env)
        if "HEAPSCOPE_OUT" in run_env:
            run_env["HEAPSCOPE_OUT"] = os.path.join(tmp, "out")
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rusage] + argv, env=run_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              check=False)
        if proc.returncode != 0:
            sys.exit(f"error: {' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
        with open(rusage, encoding="utf-8") as f:
            kb = int(f.read().split()[-1])
        m = OPS_RE.search(proc.stdout)
        return kb, int(m.group(1)) if m else 0


def fit(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - slope * mx, slope


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output")
    args = parser.parse_args()
    hold = os.path.join(args.build, "bin", "bench-hold")
    lib = os.path.abspath(os.path.join(args.build, "lib", "libheapscope.so"))
    for path in (hold, lib):
        if not os.path.exists(path):
            sys.exit(f"error: {path} not found (build bench-hold and heapscope_runtime)")
    if args.runs < 1:
        sys.exit("error: --runs wants at least 1")
    base_env = {k: v for k, v in os.environ.items()
                if k != "LD_PRELOAD" and not k.startswith("HEAPSCOPE_")}
    configs = {
        "baseline": base_env,
        "default": dict(base_env, LD_PRELOAD=lib, HEAPSCOPE_OUT="x"),
        "rate1": dict(base_env, LD_PRELOAD=lib, HEAPSCOPE_OUT="x", HEAPSCOPE_RATE="1"),
    }
    rss = {}
    objects = {}
    for scale in SCALES:
        for name, env in configs.items():
            samples = []
            for _ in range(args.runs):
                kb, ops = peak_rss_kb([hold, "--scale", str(scale)], env)
                samples.append(kb)
                objects[scale] = ops
            rss[(scale, name)] = statistics.median(samples)
            print(f"{BASE_MIB * scale:6.0f} MiB {name:8s} peak RSS {rss[(scale, name)] / 1024:8.1f} MiB",
                  file=sys.stderr)

    heap = [BASE_MIB * s for s in SCALES]
    extra_default = [(rss[(s, "default")] - rss[(s, "baseline")]) / 1024 for s in SCALES]
    extra_rate1 = [(rss[(s, "rate1")] - rss[(s, "baseline")]) / 1024 for s in SCALES]
    floor, slope = fit(heap, extra_default)
    per_object = fit([objects[s] for s in SCALES], [e * 1024 * 1024 for e in extra_rate1])[1]

    lines = [f"# heapscope's own memory, {datetime.date.today().isoformat()}", "",
             f"`python3 bench/memory_overhead.py --runs {args.runs}`: bench-hold keeps a heap of "
             "16 B - 8 KiB objects from 32 sites; peak RSS (GNU time) medians; extra = "
             "instrumented minus uninstrumented.", "",
             "| heap held | live objects | peak RSS plain | default rate: extra | share of heap "
             "| rate 1: extra | per live object |",
             "|---|---|---|---|---|---|---|"]
    for s, h, ed, e1 in zip(SCALES, heap, extra_default, extra_rate1):
        lines.append(f"| {h:.0f} MiB | {objects[s]} | {rss[(s, 'baseline')] / 1024:.1f} MiB "
                     f"| {ed:+.1f} MiB | {100 * ed / h:.2f}% | {e1:+.1f} MiB "
                     f"| {e1 * 1024 * 1024 / objects[s]:.0f} B |")
    lines += ["", f"Default rate: extra = {floor:.1f} MiB + {100 * slope:.2f}% of the heap "
              "(least squares over the three sizes).",
              f"Rate 1: {per_object:.0f} bytes per live object (slope over the three sizes)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
