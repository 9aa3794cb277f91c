"""Where resident memory goes: a program holds 64 MiB of live heap (16
blocks of 4 MiB, every byte written), 8 parked threads with 2 MiB of their
stacks written, and a 32 MiB anonymous mapping, every page written. The RSS
breakdown over /debug/vars, /metrics and in the heap profile's comments
must show each within the tolerance stated below, and its parts must add up
to the resident size: exactly to the sum of Rss over /proc/self/smaps, and
to VmRSS, read by this script around the same moment, within a tolerance.
`heapscope run` must say which part grew."""
import json
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import (CornerEnv, LineReader, check, finish, http_request, kill_quietly, listdir,
                    runtime_comments, wait_for, wait_serving)

MIB = 1024 * 1024
KIB = 1024
PARTS = ("heap", "allocator_overhead", "allocator_free", "thread_stacks", "anon_mappings",
         "files", "code", "other")

# Tolerances, and why.
# Live heap: 16 blocks of 4 MiB sampled at a mean of 512 KiB; a block is
# missed with probability e^-8 (3e-4) and scaled by 1/(1-e^-8) when seen,
# so the estimate is 64 MiB (one miss in a run costs 4 MiB, allowed), plus
# the program's and libc's own small allocations (well under 2 MiB).
HEAP = (59 * MIB, 66 * MIB)
# Heap and allocator together: the 16 blocks are mmap'ed chunks of 4 MiB
# and a page (header, page rounding); arenas hold libc's and stdio's small
# blocks and a top chunk of at most a few hundred KiB.
HEAP_AND_ALLOCATOR = (64 * MIB, 69 * MIB)
# Thread stacks: 8 x 2 MiB written; above it each thread's top frames, its
# TLS and thread descriptor (tens of KiB), and the main thread's stack
# (under 1 MiB). The profiler's own threads are not the program's.
STACKS = (16 * MIB, 16 * MIB + 8 * 256 * KIB + 1 * MIB)
# The mapping: 32 MiB, exactly, resident; nothing else in the program maps
# anonymous memory through mmap itself.
MAPPINGS = (32 * MIB, 32 * MIB + 256 * KIB)
# Against VmRSS read by this script just before and just after: the reply
# buffers of the endpoint come and go in between, and VmRSS is kept in
# per-CPU counters that may lag by a few hundred KiB.
def vmrss_tolerance(v):
    return max(2 * MIB, v // 50)


def mib(v):
    return f"{v / MIB:.2f} MiB"


def vm_rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def within(label, name, v, lo_hi):
    lo, hi = lo_hi
    check(lo <= v <= hi, f"{label}: {name} {mib(v)} not within [{mib(lo)}, {mib(hi)}]")


def check_parts(label, parts, total, vm_before, vm_after):
    """parts: {name: bytes}; total: the resident size they must add up to."""
    check(set(parts) == set(PARTS), f"{label}: parts {sorted(parts)}, want {sorted(PARTS)}")
    if set(parts) != set(PARTS):
        return
    print(f"{label}: total {mib(total)}, VmRSS {mib(vm_before)}..{mib(vm_after)}: " +
          ", ".join(f"{k} {mib(parts[k])}" for k in PARTS))
    check(sum(parts.values()) == total,
          f"{label}: parts add up to {sum(parts.values())}, not {total}")
    lo, hi = min(vm_before, vm_after), max(vm_before, vm_after)
    tol = vmrss_tolerance(hi)
    check(lo - tol <= total <= hi + tol,
          f"{label}: resident {mib(total)} vs VmRSS {mib(lo)}..{mib(hi)} beyond {mib(tol)}")
    within(label, "heap", parts["heap"], HEAP)
    within(label, "heap+allocator",
           parts["heap"] + parts["allocator_overhead"] + parts["allocator_free"],
           HEAP_AND_ALLOCATOR)
    within(label, "thread_stacks", parts["thread_stacks"], STACKS)
    within(label, "anon_mappings", parts["anon_mappings"], MAPPINGS)
    check(parts["code"] > 0, f"{label}: no code")
    check(parts["files"] > 0, f"{label}: no file-backed memory")


def metrics_parts(text):
    parts = {}
    for m in re.finditer(r'^heapscope_rss_bytes\{part="(\w+)"\} (\d+)$', text, re.M):
        parts[m.group(1)] = int(m.group(2))
    return parts


def comment_parts(env, profile):
    kv = runtime_comments(env.go_pprof_top(profile))
    parts = {p: int(kv["rss_" + p]) for p in PARTS if "rss_" + p in kv}
    return parts, int(kv.get("rss", "-1")), int(kv.get("vm_rss", "-1")), kv.get("allocator")


def hold(env, prog):
    out = env.outdir("hold")
    proc = env.spawn([prog, "hold"], out, {"HEAPSCOPE_HTTP": "127.0.0.1:0"})
    try:
        stdout, stderr = LineReader(proc.stdout), LineReader(proc.stderr)
        line = stdout.readline(timeout=30) or ""
        if not check(line.startswith("ready"), f"hold: no ready line: {line!r}"):
            return
        pid = int(line.split()[1])
        hostport = wait_serving(stderr)
        if not check(hostport, f"hold: the endpoint did not start: {stderr.seen!r}"):
            return

        before = vm_rss(pid)
        status, headers, body = http_request(hostport, "/debug/vars")
        after = vm_rss(pid)
        check(status == 200, f"/debug/vars: status {status}")
        rb = json.loads(body)["rss_breakdown"]
        check(rb.get("allocator") == "glibc", f"/debug/vars: allocator {rb.get('allocator')}")
        check(rb.get("thread_stack_mappings", 0) >= 9,
              f"/debug/vars: {rb.get('thread_stack_mappings')} stack mappings, want 8 + main")
        check_parts("/debug/vars", rb["parts"], rb["resident_bytes"], before, after)
        check(abs(rb["vm_rss_bytes"] - rb["resident_bytes"]) <= vmrss_tolerance(after),
              f"/debug/vars: its own VmRSS {mib(rb['vm_rss_bytes'])} vs {mib(rb['resident_bytes'])}")

        before = vm_rss(pid)
        status, _, body = http_request(hostport, "/metrics")
        after = vm_rss(pid)
        check(status == 200, f"/metrics: status {status}")
        text = body.decode()
        check("# TYPE heapscope_rss_bytes gauge" in text, "/metrics: no heapscope_rss_bytes family")
        parts = metrics_parts(text)
        # /metrics has no total of its own: the parts are checked against VmRSS.
        check_parts("/metrics", parts, sum(parts.values()), before, after)

        # The heap profile's comments: a snapshot on the dump signal.
        before = vm_rss(pid)
        os.kill(pid, signal.SIGRTMIN + 7)
        snap = os.path.join(out, "heap.0001.pb.gz")
        wait_for(lambda: os.path.exists(snap), 20)
        after = vm_rss(pid)
        if check(os.path.exists(snap), f"no snapshot on the dump signal: {listdir(out)}"):
            parts, total, file_vm, alloc = comment_parts(env, snap)
            check(alloc == "glibc", f"heap.0001: allocator={alloc}")
            check_parts("heap.0001 comments", parts, total, min(before, file_vm),
                        max(after, file_vm))

        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        rest = stdout.rest(timeout=30)
        check(proc.wait(timeout=30) == 0, f"hold: exit status {proc.returncode}")
        check("done" in rest, f"hold: did not finish: {rest!r}")
    finally:
        kill_quietly(proc)
    # At the end everything was released: the heap, the stacks of the
    # joined threads and the mapping are gone from the breakdown.
    parts, total, _, _ = comment_parts(env, os.path.join(out, "heap.final.pb.gz"))
    if check(set(parts) == set(PARTS), f"heap.final: parts {parts}"):
        check(sum(parts.values()) == total, f"heap.final: parts do not add up to {total}")
        check(parts["heap"] < 4 * MIB, f"heap.final: heap {mib(parts['heap'])} after free")
        check(parts["anon_mappings"] == 0, f"heap.final: mappings {mib(parts['anon_mappings'])}")
        check(parts["thread_stacks"] < 2 * MIB,
              f"heap.final: stacks {mib(parts['thread_stacks'])} after join")


def run_summary(env, prog):
    """`heapscope run` says which part grew, first snapshot to exit."""
    out = env.outdir("run")
    r = env.run(["run", "--out", out, "--interval", "100ms", "--", prog, "grow"], timeout=120)
    check(r.returncode == 0, f"heapscope run: status {r.returncode}: {r.stderr}")
    err = r.stderr
    print(err)
    m = re.search(r"at exit, resident memory (\S+): live heap (\S+)", err)
    check(m is not None, f"heapscope run: no breakdown at exit in {err!r}")
    m = re.search(r"from heap\.\d{4}\.pb\.gz to exit, resident memory grew (\S+) \(.*?\), "
                  r"of which live heap (\S+) \(([\d.]+)%\), anonymous mappings (\S+) "
                  r"\(([\d.]+)%\), thread stacks (\S+)", err)
    if check(m is not None, f"heapscope run: the growth line does not lead with the heap, "
                            f"then the mapping, then the stacks: {err!r}"):
        # Grew by 64 + 32 + 16 MiB and a little: the heap's share is 64/112.
        share = float(m.group(3))
        check(50 <= share <= 62, f"heapscope run: live heap share {share}%, want about 57%")


def fragmented(env, prog):
    """glibc's mallinfo2 walks every free chunk with the arena locked, so
    after a read that took longer than HEAPSCOPE_MALLINFO_MAX (CPU time)
    the runtime waits 10 minutes before the next (MallinfoBackoffTest has
    the pauses), but for the final profile. Over
    200,000 free chunks (1 ms a read where the caches hold the heap, 20 ms
    where they do not), snapshots every 100 ms for 3 s (fresh readings are
    spaced 19 times a reading's length, so even on a loaded machine several
    come after the first slow one): at 100us the first read past it is
    warned about once and later snapshots have the allocator unknown, the
    final profile knows it again; 0 never reads it. At the default (10ms),
    over 20,000 free chunks (at most 2 ms), every profile knows it."""
    cases = (("100us", 400000, {"glibc", "unknown"}, "glibc", 1),
             (None, 40000, {"glibc"}, "glibc", 0),
             ("0", 400000, {"unknown"}, "unknown", 0))
    for limit, blocks, want_snaps, want_final, warnings in cases:
        label = f"HEAPSCOPE_MALLINFO_MAX={limit}" if limit is not None else "default limit"
        out = env.outdir("fragment-" + (limit or "default"))
        extra = {"HEAPSCOPE_INTERVAL": "100ms"}
        if limit is not None:
            extra["HEAPSCOPE_MALLINFO_MAX"] = limit
        r = env.preload_input([prog, "fragment", str(blocks)], out, extra, timeout=60)
        if not check(r.returncode == 0 and r.stdout == "done\n",
                     f"{label}: status {r.returncode}, {r.stdout!r}, {r.stderr!r}"):
            continue
        said = r.stderr.count("mallinfo2 held the heap's locks for")
        check(said == warnings, f"{label}: {said} warnings on stderr, want {warnings}: {r.stderr!r}")
        others = [l for l in r.stderr.splitlines() if "mallinfo2" not in l]
        check(not others, f"{label}: the runtime wrote to stderr: {others}")
        snaps = sorted(f for f in os.listdir(out) if re.fullmatch(r"heap\.\d{4}\.pb\.gz", f))
        seen = {comment_parts(env, os.path.join(out, f))[3] for f in snaps}
        check(seen == want_snaps,
              f"{label}: the snapshots say allocator={sorted(seen)}, want {sorted(want_snaps)}")
        _, _, _, alloc = comment_parts(env, os.path.join(out, "heap.final.pb.gz"))
        check(alloc == want_final, f"{label}: the final profile says allocator={alloc}, "
                                   f"want {want_final}")


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    plain = env.plain([prog, "hold"], input="go\n")
    check(plain.returncode == 0 and "done" in plain.stdout,
          f"hold without the runtime: status {plain.returncode}")
    hold(env, prog)
    run_summary(env, prog)
    fragmented(env, prog)
    finish(env, "rss")


if __name__ == "__main__":
    main()
