#!/usr/bin/env python3
"""A/B of runtime builds on one workload: CPU and wall time against the
same program uninstrumented, the configurations interleaved in every round
so that drift in the machine's load falls on all of them alike.

Usage: bench/ab_runtime.py [--build DIR] [--workload mixed] [--rounds 5]
           [--scale 0.5] [--rate 1] [--threads N] [--interval D] LIB [LIB...]

Each LIB is a libheapscope.so (e.g. one built from another commit). Prints
per configuration the median user+sys CPU seconds and wall seconds and
their ratios to the uninstrumented run. Without --interval the runtime
writes no snapshot and no final profile (the hooks and the recording
alone); with it, a snapshot every D (HEAPSCOPE_INTERVAL) and the final
profile, as `heapscope run` has them. Standard library only.
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_once(cmd, env):
    start = time.monotonic()
    with open(os.devnull, "w") as null:
        p = subprocess.Popen(cmd, env=env, stdout=null, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(p.pid, 0)
        err = p.stderr.read().decode(errors="replace")
        p.stderr.close()
    wall = time.monotonic() - start
    if status != 0:
        sys.exit(f"ab_runtime: {' '.join(cmd)} failed (status {status}): {err[-500:]}")
    return usage.ru_utime + usage.ru_stime, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--workload", default="mixed")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scale", default="0.5")
    ap.add_argument("--rate", default="1")
    ap.add_argument("--threads", default=None, help="--threads N for the workload")
    ap.add_argument("--interval", default=None,
                    help="HEAPSCOPE_INTERVAL: snapshots every D, and the final profile")
    ap.add_argument("libs", nargs="+")
    a = ap.parse_args()
    prog = os.path.join(a.build, "bin", f"bench-{a.workload}")
    if not os.access(prog, os.X_OK):
        sys.exit(f"ab_runtime: no {prog} (build the bench targets)")
    for lib in a.libs:
        if not os.path.exists(lib):
            sys.exit(f"ab_runtime: no such runtime: {lib}")
    cmd = [prog, "--scale", a.scale] + (["--threads", a.threads] if a.threads else [])
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("HEAPSCOPE_")
                and k != "LD_PRELOAD"}
    configs = [("uninstrumented", None)] + [(lib, lib) for lib in a.libs]
    cpu = {name: [] for name, _ in configs}
    wall = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory(prefix="ab-runtime-") as tmp:
        for r in range(a.rounds):
            for i, (name, lib) in enumerate(configs):
                env = dict(base_env)
                if lib:
                    env.update(LD_PRELOAD=os.path.abspath(lib), HEAPSCOPE_RATE=a.rate,
                               HEAPSCOPE_OUT=os.path.join(tmp, f"{r}-{i}"))
                    if a.interval:
                        env["HEAPSCOPE_INTERVAL"] = a.interval
                    else:
                        env["HEAPSCOPE_FINAL"] = "0"
                c, w = run_once(cmd, env)
                cpu[name].append(c)
                wall[name].append(w)
            print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    base_c = statistics.median(cpu["uninstrumented"])
    base_w = statistics.median(wall["uninstrumented"])
    snapshots = (f", HEAPSCOPE_INTERVAL={a.interval} and the final profile" if a.interval
                 else ", no profiles written")
    print(f"{' '.join(os.path.basename(c) for c in cmd)}, HEAPSCOPE_RATE={a.rate}{snapshots}, "
          f"{a.rounds} interleaved rounds, medians")
    print(f"{'configuration':<48} {'CPU s':>8} {'ratio':>7} {'wall s':>8} {'ratio':>7}")
    for name, _ in configs:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(f"{name:<48} {c:8.2f} {c / base_c:6.2f}x {w:8.2f} {w / base_w:6.2f}x")


if __name__ == "__main__":
    main()
