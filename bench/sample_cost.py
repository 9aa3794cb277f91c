#!/usr/bin/env python3
"""Where heapscope's default-rate overhead goes: interposition or sampling.

Runs each workload uninstrumented, with the runtime preloaded but sampling
nothing (HEAPSCOPE_RATE far above anything the workload allocates: the
hooks, the counter, the call onward, and nothing else), and at the default
rate, interleaved, several times each. From the medians of CPU time
(user+sys) it reports what the hooks alone cost, what the samples cost
(the default rate less the hooks alone), the number of samples (from the
final profile's comment) and so the cost of one sample; beside it the
runtime's own timing of its recording work per sample (record_ns: the
walk, the tables, the counts, without the cache misses they cause the
program, so lower); and the bytes the workload allocates per CPU-second
(alloc_space of the final profile over the baseline's CPU time). The default rate's overhead is then about

    bytes allocated per CPU-second / 524288 * cost of one sample

which says how far a given program is from the 3% goal.

  python3 bench/sample_cost.py [--build build] [--runs 7] [--scale 0.5]
                               [--workloads mixed,churn,...] [--output FILE]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

WORKLOADS = ["mixed", "churn", "threads", "large", "server"]
NO_SAMPLES = str(1 << 44)  # 16 TiB mean distance: no workload here allocates that much
SAMPLES_RE = re.compile(r"heapscope: samples=(\d+)")
RECORD_RE = re.compile(r"record_ns=(\d+)")


def run(argv, env):
    """CPU seconds (user+sys) of argv, and (samples, alloc_space) of the
    final profile when the runtime was preloaded. The rusage comes from
    wait4 on the workload itself, so nothing else runs under the preload."""
    with tempfile.TemporaryDirectory() as tmp:
        run_env = dict(env)
        if "HEAPSCOPE_OUT" in run_env:
            run_env["HEAPSCOPE_OUT"] = os.path.join(tmp, "out")
        proc = subprocess.Popen(argv, env=run_env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        _, status, rusage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"error: {' '.join(argv)} failed ({proc.returncode})")
        totals = (None, None, None)
        if "HEAPSCOPE_OUT" in run_env:
            final = os.path.join(run_env["HEAPSCOPE_OUT"], "heap.final.pb.gz")
            if os.path.exists(final):
                totals = profile_totals(final)
        return rusage.ru_utime + rusage.ru_stime, totals


HEAPSCOPE_BIN = None


def profile_totals(profile):
    """(samples, alloc_space total) of a heapscope profile, through
    heapscope top's JSON (the runtime's comment line and the total)."""
    out = subprocess.run([HEAPSCOPE_BIN, "top", "--sample", "alloc_space", "-n", "1",
                          "--format", "json", profile], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"error: heapscope top {profile}: {out.stderr.strip()}")
    top = json.loads(out.stdout)
    line = next((c for c in top["comments"] if SAMPLES_RE.search(c)), "")
    m, r = SAMPLES_RE.search(line), RECORD_RE.search(line)
    return (int(m.group(1)) if m else None), top["total"], (int(r.group(1)) if r else None)


def main():
    global HEAPSCOPE_BIN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--output")
    args = parser.parse_args()
    lib = os.path.abspath(os.path.join(args.build, "lib", "libheapscope.so"))
    HEAPSCOPE_BIN = os.path.abspath(os.path.join(args.build, "bin", "heapscope"))
    for path in [lib, HEAPSCOPE_BIN]:
        if not os.path.exists(path):
            sys.exit(f"error: {path} not found (build it first: cmake --build {args.build})")
    configs = {
        "baseline": {},
        "hooks only": {"LD_PRELOAD": lib, "HEAPSCOPE_OUT": "x", "HEAPSCOPE_RATE": NO_SAMPLES},
        "default rate": {"LD_PRELOAD": lib, "HEAPSCOPE_OUT": "x"},
    }
    rows = []
    for w in args.workloads.split(","):
        binary = os.path.abspath(os.path.join(args.build, "bin", f"bench-{w}"))
        if not os.path.exists(binary):
            sys.exit(f"error: {binary} not found (cmake --build {args.build} --target bench-all)")
        argv = [binary, "--scale", str(args.scale)]
        cpu = {name: [] for name in configs}
        samples, allocated, recorded = [], [], []
        for i in range(args.runs):
            # Rotate the order each round so no configuration always runs first.
            names = list(configs)
            names = names[i % len(names):] + names[:i % len(names)]
            for name in names:
                env = dict(os.environ)
                env.pop("LD_PRELOAD", None)
                env.update(configs[name])
                seconds, (n_samples, alloc, record_ns) = run(argv, env)
                cpu[name].append(seconds)
                if name == "default rate" and n_samples is not None:
                    samples.append(n_samples)
                    allocated.append(alloc)
                    if record_ns is not None:
                        recorded.append(record_ns / n_samples / 1e3 if n_samples else 0)
            print(f"{w}: round {i + 1}/{args.runs}", file=sys.stderr)
        med = {name: statistics.median(v) for name, v in cpu.items()}
        n = statistics.median(samples) if samples else 0
        bytes_total = statistics.median(allocated) if allocated else 0
        sampling = med["default rate"] - med["hooks only"]
        rows.append({
            "workload": w,
            "baseline": med["baseline"],
            "hooks": med["hooks only"] / med["baseline"],
            "default": med["default rate"] / med["baseline"],
            "samples": n,
            "per_sample_us": sampling / n * 1e6 if n else float("nan"),
            "recorded_us": statistics.median(recorded) if recorded else float("nan"),
            "gb_per_cpu_s": bytes_total / med["baseline"] / 1e9,
        })
    lines = [
        f"# Where the default rate's overhead goes, {datetime.date.today().isoformat()}",
        "",
        f"`python3 bench/sample_cost.py --runs {args.runs} --scale {args.scale}`: median CPU time "
        "(user+sys) of interleaved runs; \"hooks only\" samples nothing "
        f"(HEAPSCOPE_RATE={NO_SAMPLES}). \"Per sample\" is (default rate - hooks only) / samples: "
        "meaningful only where the samples' share stands above the run-to-run noise (a few %), "
        "i.e. with tens of thousands of samples; \"recording per sample\" is the runtime's own "
        "TSC timing (record_ns), measured directly (a short run also pays each first sight of an "
        "address and the first touch of the tables) but blind to the cache misses the recording "
        "causes the program.",
        "",
        "| workload | baseline CPU s | hooks only | default rate | samples | per sample | "
        "recording per sample | allocated per CPU-s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['baseline']:.2f} | {r['hooks']:.3f}x | "
                     f"{r['default']:.3f}x | {r['samples']:,.0f} | {r['per_sample_us']:.2f} us | "
                     f"{r['recorded_us']:.2f} us | "
                     f"{r['gb_per_cpu_s']:.2f} GB |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
