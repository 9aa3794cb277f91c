#!/usr/bin/env python3
"""Side-by-side overhead comparison of heapscope against the tools people use.

Runs every bench-<workload> under each configuration (uninstrumented,
heapscope, heaptrack, jemalloc and its profiler, tcmalloc and gperftools'
profiler), interleaving the configurations within each round so drift in the
machine's load affects all of them alike, and reports median wall time and
peak RSS as ratios against the matching reference (baseline glibc malloc,
jemalloc alone, or tcmalloc alone).

Usage: bench/run_bench.sh [--build DIR] [--runs N] [--quick] [--micro] ...
See bench/README.md. Standard library only (python3 >= 3.9).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import glob
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKLOADS = ["mixed", "churn", "threads", "large", "server"]
LIBDIR = "/usr/lib/x86_64-linux-gnu"
JEMALLOC = os.path.join(LIBDIR, "libjemalloc.so.2")
TCMALLOC = os.path.join(LIBDIR, "libtcmalloc.so.4")
# Variables that would leak one configuration's instrumentation into another.
SCRUBBED_ENV = ("LD_PRELOAD", "MALLOC_CONF", "HEAPPROFILE", "TCMALLOC_SAMPLE_PARAMETER",
                "HEAP_PROFILE_ALLOCATION_INTERVAL", "DUMP_HEAPTRACK_OUTPUT")
CHECKSUM_RE = re.compile(r"checksum=([0-9a-f]+)")
MAXRSS_RE = re.compile(r"^maxrss_kb=(\d+)$", re.M)
SIGNAL_RE = re.compile(r"^Command terminated by signal (\d+)$", re.M)


def find_gnu_time() -> Optional[str]:
    """GNU time, used to read each run's peak RSS (see Runner._run_in)."""
    path = "/usr/bin/time"
    if not os.access(path, os.X_OK):
        return None
    probe = subprocess.run([path, "-f", "maxrss_kb=%M", "true"], capture_output=True, text=True)
    return path if MAXRSS_RE.search(probe.stderr) else None


@dataclasses.dataclass
class Config:
    name: str
    label: str
    reference: Optional[str]  # Name of the configuration ratios are taken against.
    tool: str  # Availability group: base, heapscope, heaptrack, jemalloc, jeprof, tcmalloc, gperf.
    env: dict = dataclasses.field(default_factory=dict)
    wrapper: list = dataclasses.field(default_factory=list)
    # Glob (relative to the run's temp dir) that must match if the tool wrote its profile.
    output_glob: Optional[str] = None
    note: str = ""


def make_configs(heapscope_lib: str) -> list[Config]:
    je_prof = "prof:true,prof_final:true,prof_prefix:{tmp}/jeprof,lg_prof_sample:"
    return [
        Config("baseline", "baseline", None, "base"),
        Config("heapscope", "heapscope", "baseline", "heapscope",
               env={"LD_PRELOAD": heapscope_lib, "HEAPSCOPE_OUT": "{tmp}/heapscope"},
               output_glob="heapscope/**/*", note="default rate (524288 bytes)"),
        Config("heapscope-rate1", "heapscope rate=1", "baseline", "heapscope",
               env={"LD_PRELOAD": heapscope_lib, "HEAPSCOPE_OUT": "{tmp}/heapscope",
                    "HEAPSCOPE_RATE": "1"},
               output_glob="heapscope/**/*", note="every allocation"),
        Config("heaptrack", "heaptrack", "baseline", "heaptrack",
               wrapper=["heaptrack", "-o", "{tmp}/x"], output_glob="x.*",
               note="whole `heaptrack -o` run, including heaptrack_interpret and compression"),
        Config("jemalloc", "jemalloc", "baseline", "jemalloc", env={"LD_PRELOAD": JEMALLOC}),
        Config("jemalloc-prof19", "jemalloc prof 2^19", "jemalloc", "jeprof",
               env={"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": je_prof + "19"},
               output_glob="jeprof*.heap", note="prof:true,lg_prof_sample:19 (+prof_final dump)"),
        Config("jemalloc-prof0", "jemalloc prof all", "jemalloc", "jeprof",
               env={"LD_PRELOAD": JEMALLOC, "MALLOC_CONF": je_prof + "0"},
               output_glob="jeprof*.heap", note="prof:true,lg_prof_sample:0 (+prof_final dump)"),
        Config("tcmalloc", "tcmalloc", "baseline", "tcmalloc", env={"LD_PRELOAD": TCMALLOC}),
        Config("gperf-heapprof", "gperftools heap profiler", "tcmalloc", "gperf",
               env={"LD_PRELOAD": TCMALLOC, "HEAPPROFILE": "{tmp}/hp"},
               output_glob="hp*.heap", note="HEAPPROFILE: every allocation"),
        Config("tcmalloc-sample", "tcmalloc sample 512K", "tcmalloc", "tcmalloc",
               env={"LD_PRELOAD": TCMALLOC, "TCMALLOC_SAMPLE_PARAMETER": "524288"},
               note="TCMALLOC_SAMPLE_PARAMETER=524288"),
    ]


@dataclasses.dataclass
class RunResult:
    ok: bool
    wall_s: float
    maxrss_kb: int
    cpu_s: float
    checksum: Optional[str]
    error: str = ""
    stdout: str = ""
    warning: str = ""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Runner:
    def __init__(self, timeout_s: float, mem_limit_bytes: int, tmp_root: str,
                 gnu_time: Optional[str]):
        self.timeout_s = timeout_s
        self.mem_limit_bytes = mem_limit_bytes
        self.tmp_root = tmp_root
        self.gnu_time = gnu_time
        self.counter = 0

    def _watch(self, session: int, start: float, finished: threading.Event,
               killed_because: list[str]) -> None:
        """Kills the run's whole session on timeout or when it uses too much memory.

        The memory cap counts the resident memory of every process in the run
        (heaptrack_interpret included), so a tool that runs away is stopped
        before it pushes a shared machine into swap.
        """
        while not finished.wait(0.5):
            reason = ""
            if time.perf_counter() - start > self.timeout_s:
                reason = f"killed: timed out after {self.timeout_s:.0f} s"
            elif self.mem_limit_bytes > 0:
                rss = session_rss_bytes(session)
                if rss > self.mem_limit_bytes:
                    reason = (f"killed: processes of the run used {rss / (1 << 30):.1f} GiB, "
                              f"over the --mem-limit-gb cap of {self.mem_limit_bytes / (1 << 30):g}")
            if reason:
                killed_because.append(reason)
                try:
                    os.killpg(session, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                return

    def run(self, config: Config, command: list[str], expect_checksum: Optional[str] = None,
            check_output: bool = True) -> RunResult:
        self.counter += 1
        tmp = os.path.join(self.tmp_root, f"run{self.counter}")
        os.makedirs(tmp)
        try:
            return self._run_in(tmp, config, command, expect_checksum, check_output)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _run_in(self, tmp: str, config: Config, command: list[str],
                expect_checksum: Optional[str], check_output: bool) -> RunResult:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV
               and not k.startswith("HEAPSCOPE_")}
        for key, value in config.env.items():
            env[key] = value.replace("{tmp}", tmp)
        if "HEAPSCOPE_OUT" in config.env:
            os.makedirs(env["HEAPSCOPE_OUT"], exist_ok=True)
        argv = [part.replace("{tmp}", tmp) for part in config.wrapper] + command
        # Peak RSS comes from GNU time rather than from our own wait4: Linux
        # keeps the pre-exec high-water mark in ru_maxrss, so a child forked
        # from this (much larger) Python process would never report less than
        # the runner's own size. GNU time forks the command from a ~1 MB process.
        rusage_path = os.path.join(tmp, "rusage")
        if self.gnu_time:
            argv = [self.gnu_time, "-o", rusage_path, "-f", "maxrss_kb=%M"] + argv
        stdout_path = os.path.join(tmp, "stdout")
        stderr_path = os.path.join(tmp, "stderr")
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            start = time.perf_counter()
            try:
                process = subprocess.Popen(argv, env=env, stdout=out, stderr=err, cwd=tmp,
                                           stdin=subprocess.DEVNULL, start_new_session=True)
            except OSError as error:
                return RunResult(False, 0, 0, 0, None, error=f"cannot start: {error}")
            finished = threading.Event()
            killed_because: list[str] = []
            watcher = threading.Thread(target=self._watch, daemon=True,
                                       args=(process.pid, start, finished, killed_because))
            watcher.start()
            try:
                _, status, usage = os.wait4(process.pid, 0)
            except KeyboardInterrupt:
                # The run has its own session, so Ctrl-C did not reach it.
                os.killpg(process.pid, signal.SIGKILL)
                os.waitpid(process.pid, 0)
                raise
            finally:
                finished.set()
                watcher.join()
            wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        time_report = ""
        if self.gnu_time and os.path.exists(rusage_path):
            with open(rusage_path, "r", errors="replace") as f:
                time_report = f.read()
        maxrss_match = MAXRSS_RE.search(time_report)
        signal_match = SIGNAL_RE.search(time_report)
        if signal_match:
            process.returncode = -int(signal_match.group(1))
        # Either way ru_maxrss is the largest single process of the waited-for tree.
        maxrss_kb = int(maxrss_match.group(1)) if maxrss_match else usage.ru_maxrss
        result = RunResult(True, wall, maxrss_kb, usage.ru_utime + usage.ru_stime, None)
        with open(stdout_path, "r", errors="replace") as f:
            result.stdout = f.read()
        match = CHECKSUM_RE.search(result.stdout)
        result.checksum = match.group(1) if match else None
        if killed_because:
            result.ok, result.error = False, killed_because[0]
        elif process.returncode != 0:
            with open(stderr_path, "r", errors="replace") as f:
                tail = " | ".join(line.strip() for line in f.read().strip().splitlines()[-3:])
            how = (f"killed by signal {-process.returncode}" if process.returncode < 0
                   else f"exit status {process.returncode}")
            result.ok, result.error = False, f"{how}: {tail}" if tail else how
        elif expect_checksum is not None and result.checksum != expect_checksum:
            result.ok = False
            result.error = f"checksum {result.checksum} != baseline {expect_checksum}"
        if result.ok and check_output and config.output_glob:
            matches = glob.glob(os.path.join(tmp, config.output_glob), recursive=True)
            if not any(os.path.isfile(path) for path in matches):
                result.warning = f"wrote no profile matching {config.output_glob}"
        return result


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def session_rss_bytes(session: int) -> int:
    """Total resident memory of the processes in a session (one run)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # Exited meanwhile.
        fields = stat[stat.rfind(b")") + 2:].split()
        # After the command name: state ppid pgrp session ... rss is field 24 of stat(5).
        if len(fields) > 21 and int(fields[3]) == session:
            total += int(fields[21]) * PAGE_SIZE
    return total


def command_output(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def package_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        return "unknown"
    return command_output(["dpkg-query", "-W", "-f", "${Version}", package]) or "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def compiler_of(build: str) -> str:
    cache = os.path.join(build, "CMakeCache.txt")
    compiler, build_type = "", ""
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    compiler = line.split("=", 1)[1].strip()
                elif line.startswith("CMAKE_BUILD_TYPE:"):
                    build_type = line.split("=", 1)[1].strip()
    except OSError:
        return "unknown"
    version = command_output([compiler, "--version"]).splitlines()[:1] if compiler else []
    return f"{version[0] if version else compiler} ({build_type or 'no build type'})"


def file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def slug(text: str) -> str:
    text = re.sub(r"\(r\)|\(tm\)|cpu|processor|\d+-core", " ", text.lower())
    return "-".join(re.findall(r"[a-z0-9]+", text))[:40] or "machine"


def median(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def fmt_ratio(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


class Availability:
    """Which tools can run here; each unavailable tool has a reason."""

    def __init__(self):
        self.reasons: dict[str, str] = {}
        self.details: dict[str, str] = {}

    def ok(self, tool: str) -> bool:
        return tool not in self.reasons

    def fail(self, tool: str, reason: str) -> None:
        self.reasons.setdefault(tool, reason)


def probe_tools(runner: Runner, configs: dict[str, Config], build: str, heapscope_lib: str,
                wanted: set[str]) -> tuple[Availability, str]:
    """Checks each tool on a tiny run of bench-churn before the measurements."""
    available = Availability()
    probe = [os.path.join(build, "bin", "bench-churn"), "--scale", "0.01"]
    base = runner.run(configs["baseline"], probe)
    if not base.ok or base.checksum is None:
        sys.exit(f"error: bench-churn does not run uninstrumented: {base.error or 'no checksum'}")

    def check(tool: str, needs_output: bool) -> None:
        if tool not in wanted or not available.ok(tool):
            return
        config = next(c for c in configs.values() if c.tool == tool)
        result = runner.run(config, probe, expect_checksum=base.checksum)
        if not result.ok:
            available.fail(tool, f"probe run failed ({result.error})")
        elif needs_output and result.warning:
            available.fail(tool, f"probe run {result.warning}")

    if not os.path.exists(heapscope_lib):
        available.fail("heapscope", f"{heapscope_lib} does not exist (build target heapscope_runtime)")
    check("heapscope", False)
    if available.ok("heapscope") and "heapscope" in wanted:
        # A missing profile is reported per run rather than disabling heapscope.
        available.details["heapscope"] = f"{heapscope_lib} (sha256 {file_digest(heapscope_lib)})"
    if shutil.which("heaptrack") is None:
        available.fail("heaptrack", "heaptrack is not installed")
    check("heaptrack", True)
    for tool, lib in (("jemalloc", JEMALLOC), ("tcmalloc", TCMALLOC)):
        if not os.path.exists(lib):
            available.fail(tool, f"{lib} does not exist")
    if not available.ok("jemalloc"):
        available.fail("jeprof", available.reasons["jemalloc"])
    if not available.ok("tcmalloc"):
        available.fail("gperf", available.reasons["tcmalloc"])
    check("jemalloc", False)
    # Debian builds jemalloc with --enable-prof; prove it: prof_final must write a dump.
    check("jeprof", True)
    check("tcmalloc", False)
    check("gperf", True)
    return available, base.checksum


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Compare heapscope's overhead with other heap profilers, side by side.")
    parser.add_argument("--build", default=os.path.join(REPO, "build"),
                        help="CMake build directory (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs per configuration (default 5, or 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 1 run at scale 0.1 (unless --runs/--scale say otherwise)")
    parser.add_argument("--micro", action="store_true",
                        help="also run the bench-hooks microbenchmarks under each configuration")
    parser.add_argument("--scale", type=float, default=None,
                        help="--scale passed to every workload (default 1, or 0.1 with --quick)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated subset of: %(default)s")
    parser.add_argument("--threads", default="",
                        help="comma-separated thread counts: also run the threads workload with "
                             "each (rows threads-N), to show scaling, e.g. 8,32")
    parser.add_argument("--configs", default=None,
                        help="comma-separated subset of configurations (baseline and the "
                             "references needed are always added)")
    parser.add_argument("--timeout", type=float, default=3600,
                        help="seconds before a single run is killed (default %(default)s)")
    parser.add_argument("--mem-limit-gb", type=float, default=6,
                        help="kill a run whose processes together hold more resident memory "
                             "than this many GiB; 0 for no cap (default %(default)s)")
    parser.add_argument("--heapscope-lib", default=None,
                        help="runtime to preload (default: <build>/lib/libheapscope.so)")
    parser.add_argument("--output", default=None,
                        help="results file (default bench/results/<date>-<cpu>-<cores>c.md)")
    args = parser.parse_args()

    runs = args.runs if args.runs is not None else (1 if args.quick else 5)
    scale = args.scale if args.scale is not None else (0.1 if args.quick else 1.0)
    if runs < 1 or scale <= 0:
        parser.error("--runs must be >= 1 and --scale > 0")
    build = os.path.abspath(args.build)
    workloads = [w for w in args.workloads.split(",") if w]
    unknown = set(workloads) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    try:
        thread_counts = [int(t) for t in args.threads.split(",") if t]
    except ValueError:
        parser.error("--threads wants a comma-separated list of thread counts")
    if any(t < 1 or t > 1024 for t in thread_counts):
        parser.error("--threads: each count must be 1..1024")
    missing = [w for w in workloads if not os.access(os.path.join(build, "bin", f"bench-{w}"), os.X_OK)]
    if "churn" not in workloads and not os.access(os.path.join(build, "bin", "bench-churn"), os.X_OK):
        missing.append("churn")  # The tool probes use it.
    hooks = os.path.join(build, "bin", "bench-hooks")
    if missing or (args.micro and not os.access(hooks, os.X_OK)):
        names = [f"bench-{w}" for w in missing] + (["bench-hooks"] if args.micro else [])
        sys.exit(f"error: {', '.join(names)} not found in {build}/bin.\n"
                 f"Build them first:  cmake --build {build} --target bench-all")

    if thread_counts and not os.access(os.path.join(build, "bin", "bench-threads"), os.X_OK):
        sys.exit(f"error: bench-threads not found in {build}/bin")
    workloads += [f"threads-{t}" for t in thread_counts]

    heapscope_lib = os.path.abspath(args.heapscope_lib or os.path.join(build, "lib", "libheapscope.so"))
    all_configs = make_configs(heapscope_lib)
    configs = {c.name: c for c in all_configs}
    if args.configs:
        chosen = {c for c in args.configs.split(",") if c}
        unknown = chosen - set(configs)
        if unknown:
            parser.error(f"unknown configs: {', '.join(sorted(unknown))}; "
                         f"known: {', '.join(configs)}")
        chosen.add("baseline")
        for name in list(chosen):
            if configs[name].reference:
                chosen.add(configs[name].reference)
        all_configs = [c for c in all_configs if c.name in chosen]
        configs = {c.name: c for c in all_configs}

    gnu_time = find_gnu_time()
    if gnu_time is None:
        log("NOTE: GNU time (/usr/bin/time) not found; peak RSS falls back to wait4, which "
            "never reports less than this Python runner's own size")
    tmp_root = tempfile.mkdtemp(prefix="heapscope-bench-")
    runner = Runner(args.timeout, int(args.mem_limit_gb * (1 << 30)), tmp_root, gnu_time)
    try:
        return run_all(args, runner, build, workloads, all_configs, configs, heapscope_lib,
                       runs, scale, hooks)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        shutil.rmtree(tmp_root, ignore_errors=True)


def run_all(args, runner: Runner, build: str, workloads: list[str], all_configs: list[Config],
            configs: dict[str, Config], heapscope_lib: str, runs: int, scale: float,
            hooks: str) -> int:
    started = datetime.datetime.now()
    load_before = os.getloadavg()
    log(f"probing tools with bench-churn --scale 0.01 (results go to stdout and a file)...")
    available, _ = probe_tools(runner, configs, build, heapscope_lib,
                               {c.tool for c in all_configs})
    for tool, reason in available.reasons.items():
        if tool in {c.tool for c in all_configs}:
            log(f"NOTE: {tool} unavailable, its columns will read n/a: {reason}")
    active = [c for c in all_configs if available.ok(c.tool)]

    # results[workload][config] -> list of RunResult
    results: dict[str, dict[str, list[RunResult]]] = {w: {c.name: [] for c in all_configs}
                                                      for w in workloads}
    baseline_checksum: dict[str, str] = {}
    total = runs * len(workloads) * len(active)
    done = 0
    for round_index in range(runs):
        for workload in workloads:
            command = workload_command(build, workload, scale)
            # Rotate the order each round; baseline always runs first in the
            # first round to establish the reference checksum.
            order = active[round_index % len(active):] + active[:round_index % len(active)]
            if workload not in baseline_checksum:
                order = [configs["baseline"]] + [c for c in order if c.name != "baseline"]
            for config in order:
                done += 1
                result = runner.run(config, command, expect_checksum=baseline_checksum.get(workload))
                if config.name == "baseline" and result.ok and workload not in baseline_checksum:
                    baseline_checksum[workload] = result.checksum or ""
                results[workload][config.name].append(result)
                status = (f"{result.wall_s:7.2f} s {result.maxrss_kb / 1024:8.1f} MB"
                          if result.ok else f"FAILED: {result.error}")
                if result.warning:
                    status += f"  (warning: {result.warning})"
                log(f"[{done}/{total}] round {round_index + 1} {workload:8s} {config.label:26s} {status}")

    micro = run_micro(runner, active, hooks, runs, args.quick) if args.micro else None
    report = render_report(args, build, workloads, all_configs, configs, available, results, micro,
                           runs, scale, started, load_before, runner.gnu_time is not None)
    print(report)
    output = args.output
    if output is None:
        results_dir = os.path.join(REPO, "bench", "results")
        os.makedirs(results_dir, exist_ok=True)
        stem = f"{started:%Y-%m-%d}-{slug(cpu_model())}-{os.cpu_count()}c" + ("-quick" if args.quick else "")
        output = os.path.join(results_dir, stem + ".md")
        suffix = 2
        while os.path.exists(output):
            output = os.path.join(results_dir, f"{stem}-{suffix}.md")
            suffix += 1
    with open(output, "w") as f:
        f.write(report)
    log(f"wrote {output}")
    return 0


def workload_command(build: str, workload: str, scale: float) -> list[str]:
    """The command of a workload; threads-N is bench-threads with N threads."""
    name, _, threads = workload.partition("-")
    command = [os.path.join(build, "bin", f"bench-{name}"), "--scale", f"{scale:g}"]
    return command + (["--threads", threads] if threads else [])


def run_micro(runner: Runner, active: list[Config], hooks: str, runs: int,
              quick: bool) -> dict[str, dict[str, list[float]]]:
    """bench-hooks under each configuration: ns per operation, by benchmark."""
    min_time = "0.05" if quick else "0.3"
    command = [hooks, "--benchmark_format=json", f"--benchmark_min_time={min_time}"]
    micro: dict[str, dict[str, list[float]]] = {}
    for round_index in range(runs):
        order = active[round_index % len(active):] + active[:round_index % len(active)]
        for config in order:
            result = runner.run(config, command, check_output=False)
            if not result.ok:
                log(f"micro {config.label}: FAILED: {result.error}")
                continue
            # Wrappers such as heaptrack print around the JSON document.
            start = result.stdout.find("{")
            try:
                data = json.JSONDecoder().raw_decode(result.stdout[start:])[0] if start >= 0 else {}
            except json.JSONDecodeError as error:
                log(f"micro {config.label}: unreadable benchmark output ({error})")
                continue
            for bench in data.get("benchmarks", []):
                rate = bench.get("items_per_second")
                if rate:
                    micro.setdefault(bench["name"], {}).setdefault(config.name, []).append(1e9 / rate)
            log(f"micro round {round_index + 1} {config.label}: done")
    return micro


def render_report(args, build, workloads, all_configs, configs, available, results, micro, runs,
                  scale, started, load_before, runner_uses_time) -> str:
    lines = []
    title = "heapscope overhead benchmark" + (" (quick smoke run)" if args.quick else "")
    lines.append(f"# {title}, {started:%Y-%m-%d}")
    lines.append("")
    cores = os.cpu_count()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    glibc = os.confstr("CS_GNU_LIBC_VERSION") if "CS_GNU_LIBC_VERSION" in os.confstr_names else "unknown"
    heaptrack_version = command_output(["heaptrack", "--version"]) if shutil.which("heaptrack") else "not installed"
    lines += [
        f"- Machine: {cpu_model()}, {cores} logical CPUs ({affinity} usable), "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / (1 << 30):.0f} GiB RAM",
        f"- Kernel: {platform.system()} {platform.release()}; {glibc}",
        f"- Workloads built with: {compiler_of(build)}",
        f"- heapscope: {available.details.get('heapscope') or 'n/a: ' + available.reasons.get('heapscope', 'not selected')}",
        f"- heaptrack: {heaptrack_version}; jemalloc: {package_version('libjemalloc2')}; "
        f"gperftools: {package_version('libgoogle-perftools4')}",
        f"- {runs} run(s) per configuration, configurations interleaved and rotated each round; "
        f"workload --scale {scale:g}, default threads (threads-N rows: N threads); "
        f"load average at start "
        f"{load_before[0]:.2f}, at end {os.getloadavg()[0]:.2f} (other work on the machine "
        f"inflates wall times; CPU-time ratios are steadier)",
        "- Ratio = median of a configuration / median of its reference (baseline glibc malloc, "
        "jemalloc alone, or tcmalloc alone). Wall time covers the whole command (fork to exit, "
        "profile writing included). CPU s is user+sys of the whole process tree. Peak RSS is "
        "the largest single process of the run (ru_maxrss, read through "
        + ("GNU time" if runner_uses_time else "wait4 WITHOUT GNU time: floored at the runner's "
           "own size") + "; for heaptrack that can be heaptrack_interpret).",
    ]
    unavailable = [f"{tool}: {reason}" for tool, reason in available.reasons.items()
                   if tool in {c.tool for c in all_configs}]
    if unavailable:
        lines.append("- Not measured: " + "; ".join(unavailable))
    lines.append("")

    def medians(workload: str, name: str) -> tuple[Optional[float], Optional[float], int, int]:
        runs_list = results[workload][name]
        good = [r for r in runs_list if r.ok]
        return (median([r.wall_s for r in good]), median([r.maxrss_kb / 1024 for r in good]),
                len(good), len(runs_list))

    def median_cpu(workload: str, name: str) -> Optional[float]:
        return median([r.cpu_s for r in results[workload][name] if r.ok])

    def ratio(workload: str, config: Config) -> tuple[Optional[float], Optional[float]]:
        wall, rss, _, _ = medians(workload, config.name)
        ref_wall, ref_rss, _, _ = medians(workload, config.reference)
        time_ratio = wall / ref_wall if wall and ref_wall else None
        rss_ratio = rss / ref_rss if rss and ref_rss else None
        return time_ratio, rss_ratio

    def cell(workload: str, config: Config) -> str:
        if not available.ok(config.tool):
            return "n/a"
        _, _, good, total = medians(workload, config.name)
        if good == 0:
            return "fail" if total else "n/a"
        time_ratio, rss_ratio = ratio(workload, config)
        text = f"{fmt_ratio(time_ratio)} ({fmt_ratio(rss_ratio)})"
        return text if good == total else f"{text} [{good}/{total} ok]"

    compared = [c for c in all_configs if c.reference]
    lines.append("## Median wall-time ratio (peak-RSS ratio) against the reference")
    lines.append("")
    lines.append("| workload | " + " | ".join(c.label for c in compared) + " |")
    lines.append("|---|" + "---|" * len(compared))
    lines.append("| reference | " + " | ".join(configs[c.reference].label for c in compared) + " |")
    for workload in workloads:
        lines.append(f"| {workload} | " + " | ".join(cell(workload, c) for c in compared) + " |")
    lines.append("")

    lines.append("## Median CPU-time ratio (user+sys) against the reference")
    lines.append("")
    lines.append("Less sensitive than wall time to other load on the machine; blind to time spent "
                 "waiting (locks, I/O, a profiler's pipe).")
    lines.append("")
    lines.append("| workload | " + " | ".join(c.label for c in compared) + " |")
    lines.append("|---|" + "---|" * len(compared))
    for workload in workloads:
        cells = []
        for config in compared:
            cpu, ref_cpu = median_cpu(workload, config.name), median_cpu(workload, config.reference)
            if not available.ok(config.tool):
                cells.append("n/a")
            elif cpu is None:
                cells.append("fail" if results[workload][config.name] else "n/a")
            else:
                cells.append(fmt_ratio(cpu / ref_cpu if ref_cpu else None))
        lines.append(f"| {workload} | " + " | ".join(cells) + " |")
    lines.append("")

    lines.append("## Medians per workload")
    lines.append("")
    lines.append("| workload | configuration | wall s | time ratio | CPU s | peak RSS MB | RSS ratio "
                 "| runs ok |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for workload in workloads:
        for config in all_configs:
            wall, rss, good, total = medians(workload, config.name)
            if not available.ok(config.tool):
                lines.append(f"| {workload} | {config.label} | n/a | n/a | n/a | n/a | n/a | - |")
                continue
            time_ratio, rss_ratio = ratio(workload, config) if config.reference else (1.0, 1.0)
            cpu = median_cpu(workload, config.name)
            lines.append(f"| {workload} | {config.label} | "
                         f"{'fail' if wall is None else f'{wall:.3f}'} | {fmt_ratio(time_ratio)} | "
                         f"{'fail' if cpu is None else f'{cpu:.2f}'} | "
                         f"{'fail' if rss is None else f'{rss:.1f}'} | {fmt_ratio(rss_ratio)} | "
                         f"{good}/{total} |")
    lines.append("")

    problems = []
    for workload in workloads:
        for config in all_configs:
            seen = set()
            for r in results[workload][config.name]:
                message = r.error or r.warning
                if message and message not in seen:
                    seen.add(message)
                    problems.append(f"- {workload} / {config.label}: {message}")
    if problems:
        lines.append("## Failures and warnings")
        lines.append("")
        lines += problems
        lines.append("")

    if micro:
        micro_configs = [c for c in all_configs if any(c.name in v for v in micro.values())]
        lines.append("## bench-hooks: median ns per allocation+free (from items/s)")
        lines.append("")
        lines.append("| benchmark | " + " | ".join(c.label for c in micro_configs) + " |")
        lines.append("|---|" + "---|" * len(micro_configs))
        for name, by_config in micro.items():
            cells = []
            for config in micro_configs:
                value = median(by_config.get(config.name, []))
                cells.append("n/a" if value is None else f"{value:.1f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")

    lines.append("## Configurations")
    lines.append("")
    for config in all_configs:
        how = " ".join(f"{k}={v}" for k, v in config.env.items())
        if config.wrapper:
            how = (how + " " if how else "") + " ".join(config.wrapper) + " <cmd>"
        lines.append(f"- {config.label}: {how or 'plain run'}"
                     + (f" ({config.note})" if config.note else ""))
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
