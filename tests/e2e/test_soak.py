"""Soak: a churning multi-threaded program (soak_churn: 4 workers
allocating mixed sizes through the malloc family and new[], freeing across
threads, leaking one small block per round, short-lived threads coming and
going) runs under the runtime with periodic snapshots every 100 ms and the
live endpoint, which is polled for /metrics and /debug/pprof/heap all along.

Checks: no crash and no hang (the run is bounded by its own deadline); the
program's stdout equals the uninstrumented run's; the runtime writes
nothing to stderr and drops nothing; every poll answers; snapshots keep
coming; the leak is seen at its true size within sampling error; and the
profiler's own memory (heapscope_profiler_memory_bytes) is flat after
warm-up (the first quarter of the run, at least 3 s): its level (lowest
reading) over the last third of the rest exceeds its level over the first
third by at most 1% + 64 KiB, and no reading reaches twice the level.

HEAPSCOPE_SOAK_SECONDS sets the length (default 20); for a long soak run
the script directly, e.g.
  HEAPSCOPE_SOAK_SECONDS=3600 python3 tests/e2e/test_soak.py \
      build/bin/heapscope build/lib/libheapscope.so build/tests/bin/soak_churn
"""
import gzip
import math
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import (CornerEnv, LineReader, check, fail, final_path, finish, free_port, http_request,
                    kill_quietly, numbered_snapshots, runtime_comments, wait_for)

RATE = 16 * 1024
TOLERANCE_FRACTION = 0.01
TOLERANCE_BYTES = 64 * 1024


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? (\d+(?:\.\d+)?)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def dropped(text):
    return sum(float(v) for v in re.findall(r"^heapscope_samples_dropped_total\{[^}]*\} (\d+)$",
                                            text, re.M))


class Poller(threading.Thread):
    """Polls /metrics every 0.25 s and /debug/pprof/heap every second until
    stopped; records (time, profiler memory) and any failure."""

    def __init__(self, proc, hostport, heap_copy):
        super().__init__(daemon=True)
        self.proc = proc
        self.hostport = hostport
        self.heap_copy = heap_copy
        self.stop = threading.Event()
        self.memory = []
        self.errors = []
        self.metrics_ok = 0
        self.heap_ok = 0
        self.dropped = 0.0
        self.t0 = time.monotonic()
        self.ends_after = float("inf")

    def run(self):
        last_heap = 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            try:
                st, _, body = http_request(self.hostport, "/metrics", timeout=10)
                text = body.decode()
                mem = metric(text, "heapscope_profiler_memory_bytes")
                if st != 200 or mem is None:
                    self.errors.append(f"/metrics: status {st}, {text[:200]!r}")
                else:
                    self.metrics_ok += 1
                    self.memory.append((now - self.t0, int(mem)))
                    self.dropped = max(self.dropped, dropped(text))
                if now - last_heap >= 1.0:
                    last_heap = now
                    st, _, body = http_request(self.hostport, "/debug/pprof/heap", timeout=10)
                    if st != 200 or body[:2] != b"\x1f\x8b":
                        self.errors.append(f"/debug/pprof/heap: status {st}, {body[:80]!r}")
                    else:
                        gzip.decompress(body)  # a whole gzip stream
                        self.heap_ok += 1
                        with open(self.heap_copy, "wb") as f:
                            f.write(body)
            except (OSError, EOFError, ValueError) as e:
                # Refused or cut once the program has ended by itself is
                # fine. The program's sockets close before the kernel makes
                # it a zombie, so a reset can still find poll() None: an
                # error past the program's own run time (`ends_after`) is
                # its exit, not the endpoint's failure.
                at = time.monotonic()
                if (not self.stop.is_set() and self.proc.poll() is None and
                        at < self.ends_after):
                    self.errors.append(f"poll failed at {at - self.t0:.1f} s: {e!r}")
            self.stop.wait(0.25)


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    seconds = float(os.environ.get("HEAPSCOPE_SOAK_SECONDS", "20"))
    plain = env.plain([prog, "0"], timeout=120)
    check(plain.returncode == 0 and "corrupt=0" in plain.stdout,
          f"without the runtime: status {plain.returncode}, {plain.stdout!r} {plain.stderr!r}")

    out = env.outdir("soak")
    port = free_port()
    hostport = f"127.0.0.1:{port}"
    extra = {"HEAPSCOPE_RATE": str(RATE), "HEAPSCOPE_INTERVAL": "100ms",
             "HEAPSCOPE_HTTP": hostport}
    spawned = time.monotonic()
    p = env.spawn([prog, str(seconds)], out=out, extra=extra)
    poller = None
    try:
        so, se = LineReader(p.stdout), LineReader(p.stderr)

        def serving():
            try:
                return http_request(hostport, "/metrics", timeout=2)[0] == 200
            except OSError:
                return p.poll() is not None
        if not check(wait_for(serving, 20, step=0.05) and p.poll() is None,
                     f"the endpoint did not answer on {hostport}"):
            fail("no endpoint")
        poller = Poller(p, hostport, os.path.join(env.tmp, "live-heap.pb.gz"))
        # The program's clock starts after the spawn: it works until at
        # least spawned + seconds, then exits.
        poller.ends_after = spawned + seconds
        poller.start()
        # The program ends by itself after `seconds`; anything much later is a hang.
        deadline = time.monotonic() + seconds + 90
        while p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        poller.stop.set()
        poller.join(timeout=30)
        if not check(p.poll() is not None, f"still running {seconds + 90:.0f} s after start: hang"):
            fail("hang")
        stdout = so.rest(timeout=10)
        stderr = se.rest(timeout=10)
    finally:
        if poller is not None:
            poller.stop.set()
        kill_quietly(p)

    check(p.returncode == 0, f"exit status {p.returncode}; stderr {stderr[-2000:]!r}")
    check(stdout == plain.stdout, f"output changed: {stdout!r} vs {plain.stdout!r}")
    m = re.fullmatch(r"soak: rounds=(\d+) leaked=(\d+) leaked_bytes=(\d+) short_lived_threads=(\d+)\n",
                     stderr)
    if not check(m is not None, f"stderr is not just the program's line: {stderr[-2000:]!r}"):
        fail("unexpected stderr")
    rounds, leaked, leaked_bytes, threads = map(int, m.groups())
    print(f"soak: {seconds:.0f} s, {rounds} rounds, {leaked} blocks leaked ({leaked_bytes} bytes), "
          f"{threads} short-lived threads")

    # The endpoint answered all along.
    check(not poller.errors, f"{len(poller.errors)} failed polls, first: {poller.errors[:3]}")
    check(poller.metrics_ok >= max(4, seconds * 2), f"only {poller.metrics_ok} /metrics answers")
    check(poller.heap_ok >= max(2, seconds / 2), f"only {poller.heap_ok} /debug/pprof/heap answers")
    check(poller.dropped == 0, f"{poller.dropped} samples dropped")

    # Profiler memory: flat after warm-up. A dump maps its buffers while it
    # runs (two at once when the periodic writer and a request overlap), so
    # single readings may stand above the rest; the level is the lowest
    # reading of a window. The level over the last quarter may not exceed
    # the level over the quarter after warm-up by more than 1% + 64 KiB, and
    # no reading may reach twice that level.
    mem = poller.memory
    warm = max(3.0, seconds / 4)
    span = mem[-1][0] if mem else 0
    early = [v for t, v in mem if warm <= t < warm + max(1.0, (span - warm) / 3)]
    late = [v for t, v in mem if t >= span - max(1.0, (span - warm) / 3)]
    if check(len(early) >= 2 and len(late) >= 2, f"too few readings after warm-up: {mem}"):
        base, end, top = min(early), min(late), max(v for _, v in mem)
        limit = base * (1 + TOLERANCE_FRACTION) + TOLERANCE_BYTES
        print(f"soak: profiler memory {mem[0][1]} bytes at start, {base} after warm-up "
              f"({warm:.0f} s), {end} at the end, peak {top}; limit {limit:.0f}")
        check(end <= limit, f"profiler memory grew after warm-up: {base} -> {end} "
                            f"(limit {limit:.0f}); readings {mem}")
        check(top < 2 * base, f"profiler memory peaked at {top}, over twice its level {base}")

    # Snapshots kept coming every 100 ms (numbered up to about 10 per second;
    # half is plenty on a loaded machine), the newest ones are on disk.
    seqs = numbered_snapshots(out)
    check(seqs and seqs[-1] >= seconds * 10 * 0.5,
          f"periodic snapshots: {len(seqs)} on disk, newest #{seqs[-1] if seqs else None}")
    final = final_path(out)
    if check(os.path.exists(final), "heap.final.pb.gz was not written"):
        check_leak(env, final, leaked_bytes, RATE, "")
        text = env.go_pprof_top(final)
        kv = runtime_comments(text)
        check(kv.get("dropped_samples") == "0", f"final profile reports drops: {kv}")
        print(f"soak: final profile profiler_memory={kv.get('profiler_memory')}")
    live = os.path.join(env.tmp, "live-heap.pb.gz")
    if os.path.exists(live):
        env.go_pprof_top(live)
    tagged_soak(env, prog, plain, min(8.0, seconds))
    finish(env, "test_soak")


def tagged_soak(env, prog, plain, seconds):
    """The same churn at 64 KiB, the lowest rate at which sampled objects
    are tagged blocks (over glibc) rather than every block having a header:
    realloc, calloc, memalign, aligned_alloc and frees on other threads of
    tagged blocks, thousands a second. The program checks every block's
    contents before it frees it, so a block moved or freed wrongly shows
    as corrupt= or a crash; the leak is still seen at its size."""
    rate = 64 * 1024
    out = env.outdir("soak-64k")
    r = env.preload_input([prog, str(seconds)], out, {"HEAPSCOPE_RATE": str(rate)},
                          timeout=seconds + 90)
    check(r.returncode == 0, f"64K: exit status {r.returncode}; stderr {r.stderr[-2000:]!r}")
    check(r.stdout == plain.stdout, f"64K: output changed: {r.stdout!r} vs {plain.stdout!r}")
    m = re.fullmatch(r"soak: rounds=(\d+) leaked=(\d+) leaked_bytes=(\d+) short_lived_threads=(\d+)\n",
                     r.stderr)
    if not check(m is not None, f"64K: stderr is not just the program's line: {r.stderr[-2000:]!r}"):
        return
    leaked_bytes = int(m.group(3))
    final = final_path(out)
    if check(os.path.exists(final), "64K: heap.final.pb.gz was not written"):
        est = check_leak(env, final, leaked_bytes, rate, "64K: ")
        print(f"soak at 64K: {seconds:.0f} s, {m.group(1)} rounds, LeakBlock {est} of {leaked_bytes}")


def check_leak(env, final, leaked_bytes, rate, label):
    """The leak at its size in the final profile, within 5 sampling
    standard deviations; returns the estimate."""
    got = env.top(final, "inuse_space")
    est = sum(v for fn, v in got.items() if re.search(r"(^|::)LeakBlock(\(|$)", fn))
    sd = math.sqrt(leaked_bytes * rate)
    check(abs(est - leaked_bytes) <= 5 * sd + rate,
          f"{label}LeakBlock in use {est}, true {leaked_bytes} (sd {sd:.0f})")
    return est


if __name__ == "__main__":
    main()
