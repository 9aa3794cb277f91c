"""The time until a cgroup's memory limit, end to end, in a real cgroup.

A leaking program (teardown_leak: 16 KiB every 10 ms) runs under
`heapscope run` inside a memory cgroup this test makes with a 512 MiB limit
(cgroup v1's memory controller, or v2's where that is where memory is).
The runtime records the limit in every heap profile (memory_limit=, read
by Go's pprof too); `heapscope leaks` takes it from there, with no
--limit, and projects the time from the resident memory the profiles
carry: (limit - resident) / heap growth. The run summary prints it;
--limit overrides it. The live endpoint's /metrics has it as a gauge
(promtool checks the exposition) and /debug/vars in its JSON. A program
the OOM killer ends in a 64 MiB cgroup is said to be, with its leak; a
SIGKILL from elsewhere is not. Needs root and a writable memory cgroup hierarchy:
exits 77 (skipped, as CTest shows it) when it cannot make one.

Usage: test_memory_limit.py HEAPSCOPE LIBHEAPSCOPE TEARDOWN_LEAK OOM_LEAK"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cgroups
from cgroups import entering, remove_cgroup
from hstest import (Env, LineReader, check, finish, final_path, http_request, kill_quietly,
                    runtime_comments, wait_serving)

LIMIT = 512 << 20


def oom_kill(env, oom_prog):
    """A program leaking 200 MB/s in a 64 MiB cgroup: the kernel's OOM
    killer ends it, `heapscope run` says so (and dies of the same signal),
    and the last snapshot names the leak. A SIGKILL sent by someone else
    (in the 512 MiB cgroup) is not called an OOM kill."""
    with memory_cgroup(f"heapscope-test-oom-{os.getpid()}", 64 << 20) as cgdir:
        if not check(cgdir is not None, "cannot make a second memory cgroup"):
            return
        out = env.outdir("oom")
        r = subprocess.run([env.heapscope, "run", "--interval", "100ms", "--out", out, "--",
                            oom_prog], capture_output=True, text=True, timeout=60,
                           preexec_fn=entering(cgdir))
        check(r.returncode == -9, f"heapscope run after the OOM kill: {r.returncode}")
        check("was killed by signal 9 (Killed) after" in r.stderr and
              ": by the kernel's OOM killer, its cgroup's memory limit (64MB) reached" in r.stderr,
              f"the summary does not name the OOM kill: {r.stderr[-3000:]!r}")
        check("LeakABlock" in r.stderr, f"the last snapshot's stacks: {r.stderr[-3000:]!r}")


def pressure_snapshots(env, oom_prog):
    """Snapshots ahead of the OOM kill: with periodic snapshots off
    (--interval 0), a leak of 20 MB/s in a 64 MiB cgroup still leaves
    profiles, written as resident memory passed 90%, 95% (and 98%) of the
    limit, each saying so (memory_pressure=); the run summary takes the
    last one, names the leak and says why the profile was written. With
    HEAPSCOPE_PRESSURE=0 there are none."""
    limit = 64 << 20
    with memory_cgroup(f"heapscope-test-pressure-{os.getpid()}", limit) as cgdir:
        if not check(cgdir is not None, "cannot make a memory cgroup for the pressure snapshots"):
            return
        out = env.outdir("pressure")
        r = subprocess.run([env.heapscope, "run", "--interval", "0", "--out", out, "--",
                            oom_prog, "50"], capture_output=True, text=True, timeout=60,
                           preexec_fn=entering(cgdir))
        check(r.returncode == -9 and ": by the kernel's OOM killer" in r.stderr,
              f"heapscope run of a slower leak: {r.returncode} {r.stderr[-2000:]!r}")
        snaps = sorted(f for f in os.listdir(out) if re.fullmatch(r"heap\.\d{4}\.pb\.gz", f)) \
            if os.path.isdir(out) else []
        levels = []
        for f in snaps:
            c = runtime_comments(env.go_pprof(["-raw"], os.path.join(out, f)))
            level = int(c.get("memory_pressure", "0"))
            rss = int(c.get("vm_rss", "0"))
            levels.append(level)
            # vm_rss is read as the profile is written, a moment after the
            # poll that saw the level, and the kernel reclaims file pages
            # (code) from a cgroup at its limit in between: some slack.
            check(level in (90, 95, 98) and rss * 100 >= 80 * limit,
                  f"{f}: memory_pressure={level} with vm_rss={rss} of the limit {limit}")
        check(len(levels) >= 2 and levels == sorted(set(levels)),
              f"pressure snapshots {snaps}: levels {levels}, want two or three of 90, 95, 98")
        if levels:
            check(f", written as the memory held (resident, or the cgroup's anon + shmem) passed "
                  f"{levels[-1]}% of the cgroup's memory "
                  f"limit\n" in r.stderr and "LeakABlock" in r.stderr,
                  f"the summary of the last pressure snapshot: {r.stderr[-3000:]!r}")
        # Turned off: no snapshot at all.
        off = env.outdir("pressure-off")
        r = subprocess.run([env.heapscope, "run", "--interval", "0", "--out", off, "--",
                            oom_prog, "50"], capture_output=True, text=True, timeout=60,
                           preexec_fn=entering(cgdir),
                           env=dict(os.environ, HEAPSCOPE_PRESSURE="0"))
        left = [f for f in os.listdir(off) if f.startswith("heap.")] if os.path.isdir(off) else []
        check(r.returncode == -9 and left == [],
              f"HEAPSCOPE_PRESSURE=0: {r.returncode}, files {left}")
        # The summary says why there is nothing (it once blamed a runtime
        # that never started).
        check("no profile written: the program was killed (SIGKILL" in r.stderr and
              "never started" not in r.stderr, f"HEAPSCOPE_PRESSURE=0: summary {r.stderr!r}")


def pressure_from_shmem(env, oom_prog):
    """Memory the process's resident size does not show: a program that
    writes 1 MiB into a tmpfs file every 100 ms (shmem, charged to the
    cgroup; its own heap grows 64 KiB a tick) in a 64 MiB cgroup. The
    pressure snapshots come from the cgroup's anon + shmem, well before the
    process's resident memory would reach a level (it never does here);
    before, none were written and the kill left nothing."""
    limit = 64 << 20
    with memory_cgroup(f"heapscope-test-shmem-{os.getpid()}", limit) as cgdir:
        if not check(cgdir is not None, "cannot make a memory cgroup for shmem"):
            return
        out = env.outdir("pressure-shmem")
        shm = f"/dev/shm/heapscope-test-{os.getpid()}"
        try:
            r = subprocess.run([env.heapscope, "run", "--interval", "0", "--out", out, "--",
                                oom_prog, "100", "shm", shm], capture_output=True, text=True,
                               timeout=60, preexec_fn=entering(cgdir))
        finally:
            if os.path.exists(shm):
                os.unlink(shm)
        check(r.returncode == -9, f"the shmem leak: status {r.returncode} {r.stderr[-2000:]!r}")
        snaps = sorted(f for f in os.listdir(out) if re.fullmatch(r"heap\.\d{4}\.pb\.gz", f)) \
            if os.path.isdir(out) else []
        levels = []
        for f in snaps:
            c = runtime_comments(env.go_pprof(["-raw"], os.path.join(out, f)))
            levels.append(int(c.get("memory_pressure", "0")))
            rss, held = int(c.get("vm_rss", "0")), int(c.get("cgroup_unreclaimable", "0"))
            check(rss * 100 < 60 * limit and held * 100 >= 80 * limit,
                  f"{f}: vm_rss={rss}, cgroup_unreclaimable={held} of the limit {limit}")
        check(levels and set(levels) <= {90, 95, 98} and levels == sorted(set(levels)),
              f"pressure snapshots from shmem {snaps}: levels {levels}, want some of 90, 95, 98")
        check("LeakASmallBlock" in r.stderr,
              f"the summary does not name the heap leak from the last snapshot: {r.stderr[-2000:]!r}")


def limit_set_later(env, oom_prog):
    """A limit lowered while the program runs (systemctl set-property
    MemoryMax=, docker update --memory) with no profile written meanwhile
    (--interval 0): the runtime reads the limit again every 2 s, so the
    snapshots ahead of the kill still come. Before, the pressure polls kept
    the limit read at start, 1 GiB here, and none came."""
    with memory_cgroup(f"heapscope-test-relimit-{os.getpid()}", 1 << 30) as cgdir:
        if not check(cgdir is not None, "cannot make a memory cgroup for a later limit"):
            return
        out = env.outdir("relimit")
        # 10 MB/s; the new limit, 120 MiB, is about 10 s away.
        p = subprocess.Popen([env.heapscope, "run", "--interval", "0", "--out", out, "--",
                              oom_prog, "100"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=entering(cgdir))
        try:
            line = p.stdout.readline()
            check(line.startswith("pid "), f"oom_leak's first line: {line!r}")
            time.sleep(1)
            name = "memory.limit_in_bytes"
            if not os.path.exists(os.path.join(cgdir, name)):
                name = "memory.max"
            with open(os.path.join(cgdir, name), "w") as f:
                f.write(str(120 << 20))
            _, err = p.communicate(timeout=60)
        finally:
            kill_quietly(p)
        snaps = sorted(f for f in os.listdir(out) if re.fullmatch(r"heap\.\d{4}\.pb\.gz", f)) \
            if os.path.isdir(out) else []
        levels = [int(runtime_comments(env.go_pprof(["-raw"], os.path.join(out, f)))
                      .get("memory_pressure", "0")) for f in snaps]
        check(p.returncode == -9 and levels and set(levels) <= {90, 95, 98},
              f"a limit lowered to 120 MiB while running: status {p.returncode}, pressure "
              f"snapshots {snaps} at {levels}; {err[-1500:]!r}")


def other_kill(env, oom_prog, cgdir):
    out = env.outdir("killed")
    p = subprocess.Popen([env.heapscope, "run", "--interval", "100ms", "--out", out, "--",
                          oom_prog], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=entering(cgdir))
    try:
        line = p.stdout.readline()
        check(line.startswith("pid "), f"oom_leak's first line: {line!r}")
        if line.startswith("pid "):
            time.sleep(0.3)
            os.kill(int(line.split()[1]), signal.SIGKILL)
        _, err = p.communicate(timeout=60)
        check(p.returncode == -9 and "was killed by signal 9 (Killed) after" in err and
              "OOM" not in err, f"a SIGKILL from elsewhere: {p.returncode} {err[-2000:]!r}")
    finally:
        kill_quietly(p)


def memory_files(limit):
    """The files that limit a memory cgroup to `limit`, without swap: v1's, v2's."""
    return ({"memory.limit_in_bytes": limit, "?memory.swappiness": 0},
            {"memory.max": limit, "?memory.swap.max": 0})


def make_cgroup(name, limit=LIMIT):
    """A new memory cgroup limited to `limit`, without swap: (directory,
    version), or None."""
    return cgroups.make_cgroup(name, "memory", *memory_files(limit))


def memory_cgroup(name, limit):
    """make_cgroup as a context: the directory (None when it cannot be
    made), removed afterwards."""
    return cgroups.cgroup(name, "memory", *memory_files(limit))


def main():
    env = Env(sys.argv)
    prog, oom_prog = env.args[0], env.args[1]
    made = make_cgroup(f"heapscope-test-{os.getpid()}")
    if made is None:
        print("test_memory_limit: SKIPPED: cannot make a memory cgroup here (needs root and a "
              "writable cgroup hierarchy with the memory controller)")
        env.cleanup()
        sys.exit(77)
    cgdir, version = made
    try:
        out = env.outdir("limited")
        enter = entering(cgdir)

        r = subprocess.run([env.heapscope, "run", "--rate", "1", "--interval", "200ms", "--out",
                            out, "--", prog, "3000"], capture_output=True, text=True, timeout=120,
                           preexec_fn=enter)
        check(r.returncode == 0 and r.stdout == "kept 300\n",
              f"heapscope run: {r.returncode} {r.stdout!r} {r.stderr[-2000:]!r}")
        summary = r.stderr
        # What the runtime recorded, as Go's pprof reads it.
        comments = runtime_comments(env.go_pprof(["-raw"], final_path(out)))
        check(comments.get("memory_limit") == str(LIMIT) and
              comments.get("cgroup_version") == str(version),
              f"the profile does not carry the cgroup's limit: {comments}")
        check(int(comments.get("cgroup_usage", "0")) > 0, f"cgroup_usage: {comments}")

        check("limit 512MB (the cgroup's memory limit)" in summary,
              f"the run summary names no limit: {summary[-3000:]!r}")

        r = env.run(["leaks", "--format", "json", out])
        check(r.returncode == 0, f"heapscope leaks: {r.stderr}")
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(j.get("limit") == LIMIT and j.get("limit_source") == "the cgroup's memory limit",
              f"limit {j.get('limit')} from {j.get('limit_source')!r}")
        heap = [x for x in j.get("suspects", []) if x["kind"] == "heap"]
        check(heap and heap[0]["frames"][0] == "RememberForever" and
              isinstance(heap[0]["time_to_limit_sec"], (int, float)) and
              heap[0]["time_to_limit_sec"] > 0, f"the suspect's own time to the limit: {heap[:1]}")
        resident, growth, ttl = (j.get("resident"), j.get("total_growth_per_sec"),
                                 j.get("time_to_limit_sec"))
        # A few MB resident, a leak of ~1.6 MB/s.
        check(isinstance(resident, int) and 1 << 20 < resident < 200 << 20,
              f"resident {resident}")
        check(isinstance(growth, (int, float)) and 0.8e6 < growth < 3.2e6,
              f"heap growth {growth}/s (16 KiB every 10 ms)")
        if isinstance(resident, int) and isinstance(growth, (int, float)) and growth > 0:
            want = (LIMIT - resident) / growth
            check(isinstance(ttl, (int, float)) and abs(ttl - want) <= 1e-6 * want,
                  f"time_to_limit_sec {ttl}, want (limit - resident) / growth = {want}")

        r = env.run(["leaks", "--format", "json", "--limit", "64M", out])
        j = json.loads(r.stdout) if r.returncode == 0 else {}
        check(j.get("limit") == 64 << 20 and j.get("limit_source") == "--limit",
              f"--limit does not override: {j.get('limit')} {j.get('limit_source')!r}")

        r = env.run(["leaks", out])
        check("limit 512MB (the cgroup's memory limit): " in r.stdout and
              "resident now; reached in about " in r.stdout and
              re.search(r"\n 1\. heap .*; the limit in about \S+ at this rate alone\n"
                        r"\s+RememberForever", r.stdout),
              f"the text report: {r.stdout[:2000]!r}")
        # The live endpoint, in the same cgroup.
        e = dict(os.environ, LD_PRELOAD=env.lib, HEAPSCOPE_HTTP="127.0.0.1:0",
                 HEAPSCOPE_OUT=env.outdir("live"), HEAPSCOPE_FINAL="0")
        p = subprocess.Popen([prog, "3000"], env=e, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, preexec_fn=enter)
        try:
            addr = wait_serving(LineReader(p.stderr))
            check(addr is not None, "the endpoint did not start")
            if addr:
                status, _, body = http_request(addr, "/metrics")
                text = body.decode()
                check(status == 200 and
                      f"\nheapscope_cgroup_memory_limit_bytes {LIMIT}\n" in text and
                      re.search(r"\nheapscope_cgroup_memory_usage_bytes [1-9]\d*\n", text) and
                      re.search(r"\nheapscope_cgroup_memory_unreclaimable_bytes [1-9]\d*\n", text),
                      f"/metrics: {status} {text[:3000]!r}")
                promtool = shutil.which("promtool")
                check(promtool is not None, "promtool is missing (the test command installs it)")
                if promtool:
                    r = subprocess.run([promtool, "check", "metrics"], input=text,
                                       capture_output=True, text=True, timeout=60)
                    check(r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "",
                          f"promtool check metrics: {r.returncode} {r.stdout} {r.stderr}")
                status, _, body = http_request(addr, "/debug/vars")
                hs = json.loads(body).get("heapscope", {}) if status == 200 else {}
                check(hs.get("cgroup_memory_limit_bytes") == LIMIT and
                      hs.get("cgroup_memory_usage_bytes", 0) > 0 and
                      hs.get("cgroup_memory_unreclaimable_bytes", 0) > 0, f"/debug/vars: {hs}")
            p.wait(timeout=30)
        finally:
            kill_quietly(p)
        other_kill(env, oom_prog, cgdir)
    finally:
        remove_cgroup(cgdir)
    oom_kill(env, oom_prog)
    pressure_snapshots(env, oom_prog)
    pressure_from_shmem(env, oom_prog)
    limit_set_later(env, oom_prog)
    finish(env, "test_memory_limit")


if __name__ == "__main__":
    main()
