"""Hard corners of the runtime, one scenario per CTest test:

  signal_hook      SIGALRM every 100 us, the handler mallocs and frees its
                   own block and frees blocks main hands it, main allocates
                   heavily: no deadlock, exact totals for main's functions
                   and the handler's, 4 runs
  blocked_signals  every signal blocked in every thread (the dump signal
                   and SIGTERM stay pending): periodic snapshots, exact
                   final profile, exit status unchanged
  unwind_escape    exceptions through 60 allocating frames (destructors
                   allocate while unwinding) and longjmp out of 60 frames
  tiny_stacks      threads with PTHREAD_STACK_MIN + 4 KiB stacks allocating
  detached_exit    detached threads allocating while the process exits,
                   50 times: no hang, no crash, a readable final profile
  static_init      allocations in static constructors (one with priority
                   101), atexit handlers, static and thread_local destructors
  namespaces       setns() into a mount namespace and unshare(CLONE_NEWUSER),
                   which the kernel allows a single-threaded process only:
                   same results as uninstrumented (the runtime's dump
                   thread ends for the call), periodic snapshots after it;
                   the same with the live endpoint on (its thread ends
                   too), which serves the heap after the calls
  fd_reuse         a program closes every descriptor past stderr, then
                   passes messages on a socketpair at the low numbers while
                   a signal handler allocates over code without unwind
                   tables (libunwind validates addresses through a pipe):
                   every message intact, as uninstrumented
  one_thread       a program that stops unless it has one thread (as
                   Chromium's zygote does): with HEAPSCOPE_INTERVAL=0 and
                   HEAPSCOPE_DUMP_SIGNAL=0 the runtime starts no thread,
                   the program runs as uninstrumented, and its final
                   profile is exact (with either on, it sees two threads);
                   a program it starts (fork, then exec) makes the same
                   check at once and passes with the runtime's defaults
                   (periodic snapshots and the dump signal on), as
                   Chromium's zygote does: the runtime starts its thread
                   there only at its first recorded event once the first
                   snapshot is due (or when it creates a thread); its
                   snapshots are written, and the dump signal sent before
                   the thread started is served
  drop_root        (as root) workers forked by a root process give up root
                   for nobody with setuid, setresuid and setreuid, as
                   nginx's do, and one chroots first, as haproxy does: each
                   worker's profiles are written into the output directory
                   and exact, named, with resident memory read from /proc
                   (the runtime shares the directory before the call:
                   sticky, writable by all; and holds it and /proc open), also
                   under a parent closed to nobody; the live endpoint of a
                   process that chroots names its frames; a link planted under
                   the name of a temporary file is never followed
  jit              a program that runs code it wrote into an anonymous
                   executable mapping (a JIT) and lists it in
                   /tmp/perf-PID.map at its end, as the JVM does: exact
                   totals through the JIT frame, the frame named in the
                   final profile as the map names it (the newest entry),
                   and the leak through it found over all snapshots, named
                   or not
  seccomp          a program that sandboxes itself as OpenSSH's
                   pre-authentication child does (a seccomp filter that
                   ends the thread making any system call but a few, a
                   file size limit of 0), with snapshots every 100 ms:
                   it ends as uninstrumented (it hung before, its main
                   thread ended inside the final profile's write), the
                   snapshots before the filter stay, exact. The same
                   filter installed as libseccomp does (chronyd, tor:
                   seccomp(2) through syscall(), which hung the same way),
                   without the size limit: the runtime's thread, which the
                   filter does not bind, goes on writing snapshots and
                   writes the final profile, exact; with
                   SECCOMP_FILTER_FLAG_TSYNC, which binds every thread, the
                   runtime stands aside as for the first
  jemalloc_static  jemalloc linked statically into the executable
  tcmalloc_first   LD_PRELOAD="libtcmalloc.so.4 libheapscope.so"
  tcmalloc_after   LD_PRELOAD="libheapscope.so libtcmalloc.so.4": exact totals
  own_zlib         a program that exports zlib's deflate functions and
                   libunwind's unw_backtrace of its own, broken, as
                   varnishd exports its changed zlib: the runtime uses its
                   own, its profiles are written and exact
  allocx           jemalloc's own API (mallocx and its kin, as BIND 9.18
                   allocates) with jemalloc behind the hooks: exact, each
                   block at its size class; the program's checks of its
                   blocks pass; large blocks freed by every form at the
                   default rate

Every program's output must equal its uninstrumented run's. With another
allocator in front (the last two), the program's malloc and new resolve to
that allocator before the runtime's hooks, so heapscope sees none of the
program's allocations; the tests check the program runs correctly, the
runtime still writes a readable profile, and what it shows is either
nothing or the exact truth for the program's functions, never something in
between.

Usage: test_corners.py HEAPSCOPE LIBHEAPSCOPE SCENARIO PROGRAM"""
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import (CornerEnv, LineReader, check, fail, final_path, find_tcmalloc, finish, listdir,
                    kill_quietly, numbered_snapshots, runtime_comments, short_name,
                    snapshot_path, wait_for)

RATE1 = {"HEAPSCOPE_RATE": "1"}


def same_output(label, plain, got):
    check(got.returncode == plain.returncode,
          f"{label}: exit status {got.returncode}, uninstrumented {plain.returncode}: {got.stderr!r}")
    check(got.stdout == plain.stdout, f"{label}: output {got.stdout!r}, uninstrumented {plain.stdout!r}")


def signal_hook(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stderr!r}")
    kept = 4000
    rounds = 400000
    handoffs = sum(1 for i in range(rounds) if i % 50 == 25)
    expected_main = (kept * 2048, sum(2048 + 16 * (i % 4) for i in range(rounds)), kept, rounds)
    for run in range(4):
        out = env.outdir(f"signal-{run}")
        try:
            r = env.preload_input([prog], out, RATE1, timeout=60)
        except subprocess.TimeoutExpired:
            check(False, f"run {run}: no exit within 60 s (deadlock in a hook?)")
            continue
        same_output(f"run {run}", plain, r)
        m = re.fullmatch(r"signals=(\d+) handler_frees=(\d+)\n", r.stderr)
        if not check(m is not None, f"run {run}: stderr {r.stderr!r}"):
            continue
        signals, handler_frees = int(m.group(1)), int(m.group(2))
        # Every allocation and free counts, the handler's too, wherever the
        # signal landed (most land inside a hook: the program does little
        # else): allocated once per signal, nothing of it left in use, and
        # the blocks the handler freed for main no longer in use.
        text = env.check_exact(final_path(out), {
            "MainAlloc": expected_main,
            "MainHandoff": (0, 64 * handoffs, 0, handoffs),
            "HandlerAlloc": (0, 48 * signals, 0, signals),
        }, f"run {run}")
        kv = runtime_comments(text or "")
        check(kv.get("dropped_samples") == "0", f"run {run}: drops {kv}")
        print(f"run {run}: {signals} signals, {handler_frees} blocks freed by the handler")


def blocked_signals(env, prog):
    def run(out):
        p = env.spawn([prog], out=out, extra=dict(RATE1, HEAPSCOPE_INTERVAL="50ms"))
        try:
            so = LineReader(p.stdout)
            first = so.readline(timeout=30)
            check(first == "ready\n", f"no ready line: {first!r}")
            for s in (signal.SIGRTMIN + 7, signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):
                os.kill(p.pid, s)
            rest = so.rest(timeout=60)
            p.wait(timeout=60)
            err = LineReader(p.stderr).rest(timeout=5)
            return p.returncode, first + rest, err
        finally:
            kill_quietly(p)

    plain_rc, plain_out, _ = run(None)
    check(plain_rc == 0 and "SIGTERM pending: yes" in plain_out,
          f"uninstrumented: {plain_rc} {plain_out!r}")
    out = env.outdir("blocked")
    rc, stdout, stderr = run(out)
    check(rc == plain_rc and stdout == plain_out, f"with the runtime: {rc} {stdout!r} {stderr!r}")
    check(stderr == "", f"the runtime wrote to stderr: {stderr!r}")
    seqs = numbered_snapshots(out)
    check(len(seqs) >= 4, f"periodic snapshots with every signal blocked: {seqs}")
    env.check_exact(final_path(out), {"BlockedWork": (270000, 2700000, 900, 9000)}, "blocked")


def namespaces(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stderr!r}")
    print("uninstrumented:", plain.stdout.strip().replace("\n", "; "))
    if "unshare user: ok" not in plain.stdout:
        print("note: this machine does not allow user namespaces; only the sameness of "
              "results is checked")
    out = env.outdir("namespaces")
    got = env.preload_input([prog], out, dict(RATE1, HEAPSCOPE_INTERVAL="50ms"))
    same_output("namespaces", plain, got)
    check(got.stderr == "", f"the runtime wrote to stderr: {got.stderr!r}")
    after = [s for s in numbered_snapshots(out)
             if "AfterNamespaces" in env.functions(snapshot_path(out, s))]
    check(len(after) >= 2, f"periodic snapshots after the calls: {after}")
    env.check_exact(final_path(out), {"BeforeNamespaces": (20000, 20000, 20, 20),
                                      "AfterNamespaces": (60000, 60000, 30, 30)}, "namespaces")

    # With the live endpoint on: its thread ends for the calls too, and
    # serves again after them.
    out = env.outdir("namespaces-http")
    p = env.spawn([prog], out=out, extra=dict(RATE1, HEAPSCOPE_INTERVAL="50ms",
                                              HEAPSCOPE_HTTP="127.0.0.1:0"))
    try:
        se = LineReader(p.stderr)
        first = se.readline(timeout=30)
        m = re.search(r"serving (http://\S+/debug/pprof/)", first)
        check(m is not None, f"namespaces, endpoint: no address: {first!r}")
        stdout = LineReader(p.stdout)
        lines = [stdout.readline(timeout=30) for _ in plain.stdout.splitlines()]
        check("".join(lines) == plain.stdout,
              f"namespaces, endpoint: {''.join(lines)!r}, uninstrumented {plain.stdout!r}")
        if m is not None:
            heap = os.path.join(env.tmp, "namespaces-heap.pb.gz")
            with urllib.request.urlopen(m.group(1) + "heap", timeout=10) as r, \
                    open(heap, "wb") as f:
                f.write(r.read())
            env.check_exact(heap, {"AfterNamespaces": (60000, 60000, 30, 30)},
                            "namespaces, endpoint after the calls")
        p.wait(timeout=30)
        check(p.returncode == 0, f"namespaces, endpoint: exit status {p.returncode}")
        rest = se.rest(timeout=5)
        check(rest == "", f"namespaces, endpoint: the runtime wrote to stderr: {rest!r}")
    finally:
        kill_quietly(p)


def fd_reuse(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stdout!r}")
    for run in range(3):
        out = env.outdir(f"fd-reuse-{run}")
        got = env.preload_input([prog], out, RATE1)
        same_output(f"fd_reuse run {run}", plain, got)
        check(got.stderr == "", f"the runtime wrote to stderr: {got.stderr!r}")
        check("AllocInHandler" in env.functions(final_path(out)),
              f"fd_reuse run {run}: the handler's allocations are not in the profile")


def one_thread(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0 and plain.stdout == "one thread\n",
          f"uninstrumented: {plain.returncode} {plain.stdout!r}")
    out = env.outdir("one-thread")
    got = env.preload_input([prog], out, dict(RATE1, HEAPSCOPE_INTERVAL="0",
                                              HEAPSCOPE_DUMP_SIGNAL="0"))
    same_output("one_thread", plain, got)
    check(got.stderr == "", f"the runtime wrote to stderr: {got.stderr!r}")
    env.check_exact(final_path(out), {"KeptOne": (2000, 2000, 4, 4)}, "one_thread")
    # The dump signal alone wants the thread.
    got = env.preload_input([prog], env.outdir("one-thread-signal"),
                            dict(RATE1, HEAPSCOPE_INTERVAL="0"))
    check(got.returncode == 3 and got.stdout == "2 threads: stopping\n",
          f"with the dump signal on: {got.returncode} {got.stdout!r}")

    # A program it starts checks at once and passes; the runtime's thread
    # starts there later, on time for its snapshots.
    cmd = [prog, "children", os.path.abspath(prog)]
    plain = env.plain(cmd)
    want = "exec child: one thread\n"
    check(plain.returncode == 0 and plain.stdout == want,
          f"uninstrumented children: {plain.returncode} {plain.stdout!r}")
    out = env.outdir("one-thread-children")
    got = env.preload_input(cmd, out, dict(RATE1, HEAPSCOPE_INTERVAL="500ms"))
    same_output("children", plain, got)
    check("exec child: 2 threads after 1.5 s" in got.stderr,
          f"the runtime's thread did not start in the child later: {got.stderr!r}")
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    pids = {f.split(".")[1] for f in files if re.fullmatch(r"heap\.\d+\.final\.pb\.gz", f)}
    check(len(pids) == 1, f"child final profiles: {files}")
    for pid in pids:
        # Thread at 0.5 s with a snapshot at once, then one at 1.0 s.
        snaps = [f for f in files if re.fullmatch(rf"heap\.{pid}\.\d{{4}}\.pb\.gz", f)]
        check(len(snaps) >= 2, f"child {pid}: snapshots {snaps} of {files}")
        if snaps:
            r = env.run(["top", "--format", "json", os.path.join(out, snaps[0])])
            check(r.returncode == 0, f"heapscope top {snaps[0]}: {r.stderr}")

    # The dump signal, sent before the thread started, is served at the
    # child's next allocations (0.5 s of them: before the lazy start's 1 s).
    out = env.outdir("one-thread-signal-child")
    got = env.preload_input([prog, "signal-child", os.path.abspath(prog)], out,
                            dict(RATE1, HEAPSCOPE_INTERVAL="0"))
    check(got.returncode == 0 and got.stdout == "exec child: one thread\n",
          f"signal child: {got.returncode} {got.stdout!r} {got.stderr!r}")
    files = sorted(os.listdir(out)) if os.path.isdir(out) else []
    snaps = [f for f in files if re.fullmatch(r"heap\.\d+\.0001\.pb\.gz", f)]
    check(len(snaps) == 1, f"the dump signal was not served in the child: {files}")


def unwind_escape(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stderr!r}")
    out = env.outdir("unwind")
    r = env.preload_input([prog], out, RATE1)
    same_output("rate 1", plain, r)
    check(r.stderr == "", f"rate 1: stderr {r.stderr!r}")
    env.check_exact(final_path(out), {
        "LevelAlloc": (0, 1200000, 0, 12000),
        "UnwindAlloc": (0, 384000, 0, 12000),
        "JumpAlloc": (0, 2400000, 0, 12000),
        "JumpKept": (3200, 3200, 200, 200),
    }, "rate 1")
    # The allocating frames are named in full: 60 levels of Throwing and
    # Jumping stay under the 128-frame limit.
    fns = env.functions(final_path(out))
    check({"Throwing", "Jumping", "ThrowRounds", "JumpRounds", "main"} <= fns,
          f"rate 1: frames missing from the stacks: {sorted(fns)}")
    # Sampled: stacks are taken while the C++ unwinder is running.
    out = env.outdir("unwind-sampled")
    r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": "4K"})
    same_output("4K", plain, r)
    env.go_pprof_top(final_path(out))


def tiny_stacks(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stdout!r}")
    sizes = [24 + 8 * (i % 8) for i in range(1000)]
    kept = [sizes[i] for i in range(0, 1000, 100)]
    expected = (8 * sum(kept), 8 * sum(sizes), 80, 8000)
    for rate in ("1", "4K"):
        out = env.outdir(f"tiny-{rate}")
        r = env.preload_input([prog], out, {"HEAPSCOPE_RATE": rate})
        same_output(f"rate {rate}", plain, r)
        check(r.stderr == "", f"rate {rate}: stderr {r.stderr!r}")
        if rate == "1":
            env.check_exact(final_path(out), {"TinyAlloc": expected}, "rate 1")
        else:
            env.go_pprof_top(final_path(out))


def detached_exit(env, prog):
    plain = {m: env.plain([prog, m]) for m in ("return", "exit")}
    check(plain["return"].returncode == 0 and plain["exit"].returncode == 2,
          f"uninstrumented: {plain['return'].returncode} {plain['exit'].returncode}")
    slowest = 0.0
    for i in range(50):
        mode = "return" if i % 2 == 0 else "exit"
        out = env.outdir(f"detached-{i}")
        rate = "1" if i % 4 < 2 else "64K"
        start = time.monotonic()
        try:
            r = env.preload_input([prog, mode], out, {"HEAPSCOPE_RATE": rate}, timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"run {i} ({mode}, rate {rate}): no exit within 30 s")
            continue
        slowest = max(slowest, time.monotonic() - start)
        same_output(f"run {i} ({mode}, rate {rate})", plain[mode], r)
        check(r.stderr == "", f"run {i}: stderr {r.stderr!r}")
        final = final_path(out)
        if check(os.path.exists(final), f"run {i}: no final profile"):
            if i % 5 == 0:
                env.top(final, "alloc_space")  # readable
    print(f"50 exits with detached threads allocating; slowest {slowest:.2f} s")


def static_init(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0, f"uninstrumented: {plain.returncode} {plain.stderr!r}")
    out = env.outdir("static")
    r = env.preload_input([prog], out, RATE1)
    same_output("rate 1", plain, r)
    check(r.stderr == "", f"stderr {r.stderr!r}")
    env.check_exact(final_path(out), {
        "CtorAlloc": (5000, 10000, 5, 10),
        "CtorFreed": (0, 500, 0, 1),
        "PrioAlloc": (111, 111, 1, 1),
        "AtexitAlloc": (333, 333, 1, 1),
        "DtorAlloc": (222, 222, 1, 1),
        "TlsAlloc": (0, 444, 0, 1),
        "MainAlloc": (100, 100, 1, 1),
    }, "static")


FOREIGN_TRUTH = {
    "ForeignAlloc": (0, 1000000, 0, 1000),
    "ForeignRealloc": (100000, 1000000, 100, 1000),
    "ForeignNew": (0, 200000, 0, 1000),
    "ForeignLarge": (8 << 20, 8 << 20, 1, 1),
}


def foreign(env, cmd, out, extra_env, label, exact=False):
    plain = env.plain(cmd)
    check(plain.returncode == 0, f"{label}: uninstrumented: {plain.returncode} {plain.stderr!r}")
    e = env.preload_env(out, RATE1)
    e.update(extra_env)
    try:
        r = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        check(False, f"{label}: no exit within 60 s (hang)")
        return
    same_output(label, plain, r)
    final = final_path(out)
    if not check(os.path.exists(final), f"{label}: no final profile; stderr {r.stderr!r}"):
        return
    if exact:
        env.check_exact(final, FOREIGN_TRUTH, label)
        return
    got = env.values(final, FOREIGN_TRUTH.keys())
    for fn, truth in FOREIGN_TRUTH.items():
        check(got[fn] in (truth, (0, 0, 0, 0)),
              f"{label}: {fn} shows {got[fn]}: neither nothing nor the truth {truth}")
    seen = "seen" if any(got[fn] != (0, 0, 0, 0) for fn in FOREIGN_TRUTH) else "not seen"
    if seen == "not seen":
        # Shadowed hooks must be reported, once, not left for the user to guess.
        check(r.stderr.count("are not seen") == 1,
              f"{label}: allocations not seen, but the runtime did not say so once: {r.stderr!r}")
    print(f"{label}: the program's allocations are {seen} by heapscope: {got}; "
          f"runtime stderr {r.stderr!r}")
    env.go_pprof_top(final)


def jemalloc_static(env, prog):
    foreign(env, [prog], env.outdir("jemalloc"), {}, "jemalloc linked statically")


def drop_root(env, prog):
    # Workers as nobody must reach the directory: the test's own is 0700.
    os.chmod(env.tmp, 0o755)
    jail = os.path.join(env.tmp, "jail")
    os.makedirs(jail)
    cmd = [prog, jail]
    plain = env.plain(cmd)
    if plain.stdout == "not root\n":
        print("note: not running as root; nothing to test (CI runs as root)")
        return
    check(plain.returncode == 0 and plain.stdout.count(": exit 0") == 4,
          f"uninstrumented: {plain.returncode} {plain.stdout!r}")
    print("uninstrumented:", plain.stdout.strip().replace("\n", "; "))

    def check_workers(out, label):
        pids = sorted({int(m.group(1)) for m in
                       (re.match(r"heap\.(\d+)\.final\.pb\.gz$", n) for n in os.listdir(out))
                       if m})
        check(len(pids) == 4, f"{label}: final profiles of the four workers: {pids}")
        for pid in pids:
            path = final_path(out, pid)
            check(os.stat(path).st_uid == 65534, f"{path} not written by the worker itself")
            env.check_exact(path, {"WorkerWork": (100000, 100000, 25, 25)},
                            f"{label} worker {pid}")
            check(len(numbered_snapshots(out, pid)) >= 2, f"{label}: periodic snapshots of {pid}")
            check(os.path.exists(os.path.join(out, f"fds.{pid}.final.pb.gz")),
                  f"{label} worker {pid}: no final descriptor profile")
            # Named by the runtime itself, as written (no binary at hand):
            # the chrooted worker read its symbol tables before the call.
            traces = env.go_pprof(["-traces", "-symbolize=none"], path)
            check("WorkerWork" in traces and "main" in traces,
                  f"{label} worker {pid}: frames not named in the profile: {traces[-400:]!r}")
            # /proc is read through the directory held before chroot.
            kv = runtime_comments(env.go_pprof_top(path))
            check(int(kv.get("vm_rss", "0")) > 0,
                  f"{label} worker {pid}: no resident memory in the profile: {kv}")
        check(not os.path.exists(os.path.join(jail, out.lstrip("/"))),
              f"{label}: the chrooted worker wrote inside its new root")

    out = env.outdir("drop-root")
    os.makedirs(out)
    # Someone else's link where the runtime writes its temporary file: it
    # must neither be followed nor keep the profile from being written.
    victim = os.path.join(env.tmp, "victim")
    with open(victim, "w") as f:
        f.write("untouched\n")
    planted = os.path.join(out, "heap.final.pb.gz.tmp")
    os.symlink(victim, planted)
    os.lchown(planted, 1234, 1234)
    got = env.preload_input(cmd, out, dict(RATE1, HEAPSCOPE_INTERVAL="50ms"))
    same_output("drop_root", plain, got)
    with open(victim, "rb") as f:
        check(f.read() == b"untouched\n", "the runtime wrote through a planted link")
    mode = os.stat(out).st_mode
    check(mode & 0o1777 == 0o1777, f"output directory mode {oct(mode)}: not shared")
    check(f"gives up root for uid 65534: made {out} writable by every user" in got.stderr,
          f"no word on sharing the directory: {got.stderr!r}")
    check("cannot" not in got.stderr, f"the runtime could not write: {got.stderr!r}")
    env.check_exact(final_path(out), {"MainWork": (30000, 30000, 10, 10)}, "drop_root main")
    check_workers(out, "drop_root")

    # Under a directory nobody cannot search: the workers still write
    # (through the directory they hold open); the runtime says that
    # programs they would start could not.
    closed = os.path.join(env.tmp, "closed")
    os.makedirs(closed, mode=0o700)
    os.chmod(closed, 0o700)
    out2 = os.path.join(closed, "out")
    got = env.preload_input(cmd, out2, dict(RATE1, HEAPSCOPE_INTERVAL="50ms"))
    same_output("drop_root, closed directory", plain, got)
    check(f"which cannot reach {out2} ({closed} is closed to it): the process goes on writing"
          in got.stderr, f"no word on the unreachable directory: {got.stderr!r}")
    check_workers(out2, "drop_root, closed directory")
    # One process, chroot first and then setuid: the closed parent is found
    # by walking up from the directory held open, not by its path (which
    # leads nowhere in the new root).
    out4 = os.path.join(closed, "out-jail")
    got = env.preload_input(cmd + ["jail"], out4, RATE1)
    check(got.returncode == 0 and got.stdout == "ready\n", f"jail: {got.returncode} {got.stdout!r}")
    check(f"which cannot reach {out4} ({closed} is closed to it)" in got.stderr,
          f"jail: no word on the unreachable directory: {got.stderr!r}")
    env.check_exact(final_path(out4), {"ServeWork": (88000, 88000, 22, 22)}, "jail")

    # The live endpoint of a process that chroots after it started: its
    # thread's symbol tables were read before the call.
    out3 = env.outdir("drop-root-http")
    p = env.spawn(cmd + ["serve"], out=out3,
                  extra=dict(RATE1, HEAPSCOPE_HTTP="127.0.0.1:0", HEAPSCOPE_FINAL="0"))
    try:
        so, se = LineReader(p.stdout), LineReader(p.stderr)
        url = None
        while url is None:
            line = se.readline(timeout=30)
            if not line:
                break
            m = re.search(r"serving (http://\S+/debug/pprof/)", line)
            if m:
                url = m.group(1)
        ready = so.readline(timeout=30)
        check(url is not None and ready == "ready\n", f"serve: {url} {ready!r}")
        if url is not None and ready == "ready\n":
            heap = os.path.join(env.tmp, "served-heap.pb.gz")
            with urllib.request.urlopen(url + "heap", timeout=30) as r, open(heap, "wb") as f:
                f.write(r.read())
            traces = env.go_pprof(["-traces", "-symbolize=none"], heap)
            check("ServeWork" in traces and "main" in traces,
                  f"the endpoint did not name frames after chroot: {traces[-600:]!r}")
        p.stdin.close()
        p.wait(timeout=30)
        check(p.returncode == 0, f"serve: exit status {p.returncode}")
    finally:
        kill_quietly(p)


def jit(env, prog):
    def run(extra_env):
        p = subprocess.Popen([prog], env=extra_env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            stdout, stderr = p.communicate(timeout=60)
        finally:
            kill_quietly(p)
            try:
                os.unlink(f"/tmp/perf-{p.pid}.map")
            except FileNotFoundError:
                pass
        return p.returncode, stdout, stderr

    rc, stdout, _ = run(None)
    if stdout == "not x86-64\n":
        print("note: not x86-64; nothing to test")
        return
    check(rc == 0 and stdout == "done\n", f"uninstrumented: {rc} {stdout!r}")
    out = env.outdir("jit")
    rc, stdout, stderr = run(env.preload_env(out, dict(RATE1, HEAPSCOPE_INTERVAL="50ms")))
    check(rc == 0 and stdout == "done\n", f"with the runtime: {rc} {stdout!r} {stderr!r}")
    check(stderr == "", f"the runtime wrote to stderr: {stderr!r}")
    env.check_exact(final_path(out), {"JitAlloc": (2000000, 2000000, 40, 40)}, "jit")
    traces = env.go_pprof(["-traces", "-symbolize=none"], final_path(out))
    check("JS:handleRequest app.js:12" in traces,
          f"the JIT frame is not named from the perf map: {traces[-600:]!r}")
    check("JS:oldHandler" not in traces, "an older perf map entry named the frame")
    seqs = numbered_snapshots(out)
    check(len(seqs) >= 10, f"periodic snapshots: {seqs}")
    early = env.go_pprof(["-traces", "-symbolize=none"], snapshot_path(out, seqs[0]))
    check("JS:handleRequest" not in early, "a snapshot named JIT code before the map")
    r = subprocess.run([env.heapscope, "leaks", "--format", "json", out], capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0, f"heapscope leaks: {r.stderr}")
    if r.returncode == 0:
        heap = [s for s in json.loads(r.stdout)["suspects"]
                if s["kind"] == "heap" and "JitAlloc" in s["frames"]]
        check(len(heap) == 1, f"one suspect through the JIT code: {heap}")
        if heap:
            check(heap[0]["inuse"] == 2000000 and
                  "JS:handleRequest app.js:12" in heap[0]["frames"],
                  f"the suspect: {heap[0]['inuse']} bytes, frames {heap[0]['frames']}")


def tcmalloc_first(env, prog):
    tc = find_tcmalloc()
    if tc is None:
        fail("libtcmalloc.so.4 not found: scripts/install-deps.sh test installs libgoogle-perftools4")
    foreign(env, [prog], env.outdir("tcmalloc"), {"LD_PRELOAD": f"{tc} {env.lib}"},
            "tcmalloc preloaded first")


def own_zlib(env, prog):
    """A program exporting functions named as the runtime's own
    dependencies' (zlib's deflate, libunwind's unw_backtrace), as varnishd
    exports its changed zlib: the runtime uses its own, and its profiles are
    written and exact (before, none was written)."""
    plain = env.plain([prog])
    check(plain.returncode == 0 and plain.stdout == "done\n", f"own_zlib uninstrumented: {plain!r}")
    for rate in (RATE1, {}):
        label = "own_zlib " + " ".join(f"{k}={v}" for k, v in rate.items())
        out = env.outdir(re.sub(r"\W", "_", label))
        got = env.preload_input([prog], out, dict(rate, HEAPSCOPE_INTERVAL="100ms"))
        same_output(label, plain, got)
        check(got.stderr == "", f"{label}: stderr {got.stderr!r}")
        if rate:
            env.check_exact(final_path(out), {"OwnZlibAlloc": (18000, 18000, 6, 6)}, label)
        else:
            check(os.path.exists(final_path(out)), f"{label}: no final profile")
            env.go_pprof_top(final_path(out))


def allocx(env, prog):
    """jemalloc's own API (mallocx, rallocx, xallocx, sallocx, dallocx,
    sdallocx), which BIND 9.18 allocates through, with jemalloc behind the
    hooks: exact in every-allocation mode, each block at its size class,
    and the program's checks of its blocks (alignment, zeroing, contents
    kept, usable size) pass; at the default rate (samples are page-aligned
    blocks) and at 4096 (every block has a header), thousands of large
    blocks freed by every form.
    Before, none of it was seen."""
    je = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if not os.path.exists(je):
        fail(f"{je} not found: scripts/install-deps.sh test installs libjemalloc2")
    for args, rate in (([], RATE1), (["many"], {}), (["many"], {"HEAPSCOPE_RATE": "4096"}),
                       (["many"], RATE1)):
        label = "allocx " + " ".join(args + [f"{k}={v}" for k, v in rate.items()])
        plain = env.plain([prog] + args, extra={"LD_PRELOAD": je})
        check(plain.returncode == 0 and plain.stdout.startswith("ok\n"),
              f"{label} uninstrumented: {plain.returncode} {plain.stdout!r} {plain.stderr!r}")
        out = env.outdir(re.sub(r"\W", "_", label))
        e = env.preload_env(out, rate)
        e["LD_PRELOAD"] = f"{env.lib} {je}"
        try:
            got = subprocess.run([prog] + args, env=e, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            check(False, f"{label}: no exit within 60 s")
            continue
        same_output(label, plain, got)
        check(got.stderr == "", f"{label}: stderr {got.stderr!r}")
        if args:
            check(os.path.exists(final_path(out)), f"{label}: no final profile")
            continue
        expected = {}
        for line in got.stdout.splitlines():
            parts = line.split()
            if parts and parts[0] == "expect":
                expected[parts[1]] = tuple(int(x) for x in parts[2:])
        check(len(expected) == 5, f"{label}: the program's expectations: {got.stdout!r}")
        env.check_exact(final_path(out), expected, label)


def jemalloc_after(env, prog):
    """jemalloc behind the hooks (LD_PRELOAD="libheapscope.so
    libjemalloc.so.2"): the heap is exact, and the mappings jemalloc makes
    for it (ForeignLarge's 8 MiB among them) stay out of the mmap profile,
    which holds the program's own mapping alone: before, the heap's growth
    showed a second time there, as an mmap leak in jemalloc's frames."""
    je = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"
    if not os.path.exists(je):
        fail(f"{je} not found: scripts/install-deps.sh test installs libjemalloc2")
    out = env.outdir("jemalloc-after")
    foreign(env, [prog], out, {"LD_PRELOAD": f"{env.lib} {je}"},
            "jemalloc preloaded after the runtime", exact=True)
    mmap_final = os.path.join(out, "mmap.final.pb.gz")
    if not check(os.path.exists(mmap_final), f"jemalloc after: no mmap profile in {os.listdir(out)}"):
        return
    r = env.run(["top", "--sample", "space", "-n", "100", "--format", "json", mmap_final])
    rows = json.loads(r.stdout).get("rows", []) if r.returncode == 0 else []
    flat = {short_name(x["function"]): x["flat"] for x in rows if x["flat"]}
    check(flat == {"KeepAMapping": 64 << 10},
          f"jemalloc after: the mmap profile holds {flat}, want KeepAMapping's 64 KiB alone")


def tcmalloc_after(env, prog):
    tc = find_tcmalloc()
    if tc is None:
        fail("libtcmalloc.so.4 not found: scripts/install-deps.sh test installs libgoogle-perftools4")
    # The runtime first: its hooks see everything and hand each call to tcmalloc.
    foreign(env, [prog], env.outdir("tcmalloc-after"), {"LD_PRELOAD": f"{env.lib} {tc}"},
            "tcmalloc preloaded after the runtime", exact=True)


def seccomp(env, prog):
    plain = env.plain([prog])
    check(plain.returncode == 0 and plain.stdout == "sandboxed\ndone\n",
          f"uninstrumented: {plain.returncode} {plain.stdout!r} {plain.stderr!r}")
    out = env.outdir("seccomp")
    try:
        got = env.preload_input([prog], out, dict(RATE1, HEAPSCOPE_INTERVAL="100ms"), timeout=30)
    except subprocess.TimeoutExpired:
        check(False, "seccomp: still running after 30 s (the runtime kept it alive)")
        return
    same_output("seccomp", plain, got)
    # A snapshot due between the file size limit and the filter cannot be
    # written, and says so once.
    check(got.stderr == "" or (len(got.stderr.splitlines()) == 1 and
                               ": File too large; profiles may be missing" in got.stderr),
          f"seccomp: the runtime wrote to stderr: {got.stderr!r}")
    seqs = numbered_snapshots(out)
    if check(seqs, f"seccomp: no snapshot before the filter: {listdir(out)}"):
        env.check_exact(snapshot_path(out, seqs[-1]), {"BeforeSandbox": (12000, 12000, 3, 3)},
                        "seccomp: last snapshot")
    check(not os.path.exists(final_path(out)), "seccomp: a final profile from inside the sandbox")

    before = {"BeforeSandbox": (12000, 12000, 3, 3)}
    in_sandbox = {"InSandbox": (0, sum(100 + i for i in range(1000)), 0, 1000)}
    for mode in ("syscall", "tsync"):
        label = f"seccomp {mode}"
        plain = env.plain([prog, mode])
        check(plain.returncode == 0 and plain.stdout == "sandboxed\ndone\n",
              f"{label} uninstrumented: {plain.returncode} {plain.stdout!r} {plain.stderr!r}")
        out = env.outdir(f"seccomp_{mode}")
        try:
            got = env.preload_input([prog, mode], out, dict(RATE1, HEAPSCOPE_INTERVAL="100ms"),
                                    timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"{label}: still running after 30 s")
            continue
        same_output(label, plain, got)
        check(got.stderr == "", f"{label}: the runtime wrote to stderr: {got.stderr!r}")
        seqs = numbered_snapshots(out)
        if not check(seqs, f"{label}: no snapshot: {listdir(out)}"):
            continue
        if mode == "syscall":
            env.check_exact(snapshot_path(out, seqs[-1]), dict(before, **in_sandbox),
                            f"{label}: the last snapshot, taken in the sandbox")
            env.check_exact(final_path(out), dict(before, **in_sandbox), f"{label}: final")
        else:
            env.check_exact(snapshot_path(out, seqs[-1]), before, f"{label}: last snapshot")
            check(not os.path.exists(final_path(out)), f"{label}: a final profile from the sandbox")


SCENARIOS = {f.__name__: f for f in (signal_hook, blocked_signals, namespaces, fd_reuse,
                                      one_thread, drop_root, jit, unwind_escape, tiny_stacks, detached_exit,
                                      static_init, jemalloc_static, tcmalloc_first,
                                      tcmalloc_after, jemalloc_after, seccomp, allocx,
                                      own_zlib)}


def main():
    env = CornerEnv(sys.argv)
    scenario = env.args[0]
    if scenario not in SCENARIOS:
        fail(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    SCENARIOS[scenario](env, env.args[1])
    finish(env, f"test_corners {scenario}")


if __name__ == "__main__":
    main()
