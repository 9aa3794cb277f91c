"""Children. A child forked without exec profiles its own heap (what it
inherited plus its own) into heap.<pid>.final.pb.gz, whether it ends with
exit(0) or _exit(0); the parent's heap.final.pb.gz stays exact and never
shows the child's function. With HEAPSCOPE_FOLLOW_FORK=0 the child writes
nothing. A program started by exec after fork, vfork or posix_spawn is
profiled on its own under its pid (also /bin/true, which allocates little),
and the parent's profile stays exact, also after a vfork child whose exec
failed ended with _exit(127). A forked child takes its own
periodic snapshots (heap.<pid>.NNNN.pb.gz, numbered from 1) and answers
the dump signal even when it has not allocated since the fork. Forking
over and over while another thread allocates and the dump thread writes
snapshots neither deadlocks nor mixes the children's files up. A program
forking a process per connection keeps the files of the newest
HEAPSCOPE_KEEP_CHILDREN ended ones (and all of those still running);
`heapscope run` says how many were deleted. A process that execs itself
in place (same pid) and a program run again with the same output
directory number their snapshots on after the files there, and `heapscope
leaks` takes the newest run's alone."""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

from hstest import (CornerEnv, LineReader, check, clean_env, finish, final_path, kill_quietly, listdir,
                    numbered_snapshots, snapshot_path, wait_for)

PARENT = {
    "ParentAlloc": (8000, 8000, 4, 4),
    "ParentAfter": (3000, 3000, 2, 2),
    "ChildAlloc": (0, 0, 0, 0),
    "LeafAlloc": (0, 0, 0, 0),
}
# The forked child inherits ParentAlloc's four blocks and frees one.
CHILD = {
    "ChildAlloc": (21000, 21000, 3, 3),
    "ParentAlloc": (6000, 8000, 3, 4),
    "ParentAfter": (0, 0, 0, 0),
}
LEAF = {
    "LeafAlloc": (5500, 5500, 5, 5),
    "ParentAlloc": (0, 0, 0, 0),
    "ChildAlloc": (0, 0, 0, 0),
}


def run_mode(env, prog, mode, extra=None):
    label = mode + (" " + " ".join(f"{k}={v}" for k, v in extra.items()) if extra else "")
    plain = env.plain([prog, mode])
    check(plain.returncode == 0, f"{label} without the runtime: status {plain.returncode}")
    out = env.outdir(re.sub(r"\W", "_", label))
    r = env.preload_input([prog, mode], out, dict({"HEAPSCOPE_RATE": "1"}, **(extra or {})))
    check(r.returncode == 0, f"{label}: exit status {r.returncode}: {r.stderr}")
    check(r.stdout == plain.stdout, f"{label}: output changed: {r.stdout!r} (was {plain.stdout!r})")
    m = re.fullmatch(r"fork_allocs: child pid (\d+)\n", r.stderr)
    check(m is not None, f"{label}: stderr is not just the child's pid: {r.stderr!r}")
    child = int(m.group(1)) if m else -1
    return label, out, child


def stderr_a_connection(env, prog):
    """An inetd-style server's child has its client's connection as stderr
    (vsftpd's connection processes): the runtime's messages must not go
    there, or the client reads them as the server's words. A local socket
    (journald's) is a log, and gets them."""
    bad = {"HEAPSCOPE_RATE": "bogus"}
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    client = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    local, local_peer = socket.socketpair()
    with srv, client, peer, local, local_peer:
        for label, end, far in (("tcp", client, peer), ("unix", local, local_peer)):
            out = env.outdir(f"stderr_{label}")
            r = subprocess.run([prog, "leaf"], env=env.preload_env(out, bad), stdout=subprocess.PIPE,
                               stderr=end.fileno(), text=True, timeout=60)
            check(r.returncode == 0 and r.stdout == "leaf: done\n",
                  f"stderr a {label} socket: {r.returncode} {r.stdout!r}")
            far.settimeout(0.5)
            got = b""
            try:
                while chunk := far.recv(4096):
                    got += chunk
            except socket.timeout:
                pass
            said = "ignoring HEAPSCOPE_RATE=bogus" in got.decode(errors="replace")
            if label == "tcp":
                check(got == b"", f"the runtime wrote into the program's connection: {got!r}")
            else:
                check(said, f"the runtime's warning did not reach a local socket: {got!r}")


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]

    for mode in ("fork-exit", "fork-_exit"):
        label, out, child = run_mode(env, prog, mode)
        env.check_exact(final_path(out), PARENT, label + ": parent")
        check("ChildAlloc" not in env.functions(final_path(out)) if os.path.exists(final_path(out))
              else True, f"{label}: the parent's profile names ChildAlloc")
        env.check_exact(final_path(out, child), CHILD, label + ": child")
        files = listdir(out)
        check(set(files) == {"heap.final.pb.gz", f"heap.{child}.final.pb.gz"},
              f"{label}: unexpected files {files}")

        label, out, child = run_mode(env, prog, mode, {"HEAPSCOPE_FOLLOW_FORK": "0"})
        env.check_exact(final_path(out), PARENT, label + ": parent")
        files = listdir(out)
        check(files == ["heap.final.pb.gz"], f"{label}: the child wrote files: {files}")

    for mode in ("fork-exec-self", "vfork-exec-self", "spawn-self"):
        label, out, child = run_mode(env, prog, mode)
        env.check_exact(final_path(out), PARENT, label + ": parent")
        env.check_exact(final_path(out, child), LEAF, label + ": exec'd program")
        files = listdir(out)
        check(set(files) == {"heap.final.pb.gz", f"heap.{child}.final.pb.gz"},
              f"{label}: unexpected files {files}")

    # A vfork child whose exec fails leaves with _exit(127), as vfork
    # allows; it shares the parent's memory, and the parent's final profile
    # must still be the parent's own, written when the parent ends.
    label, out, child = run_mode(env, prog, "vfork-exec-fail")
    env.check_exact(final_path(out), PARENT, label + ": parent")
    files = listdir(out)
    check(set(files) <= {"heap.final.pb.gz", f"heap.{child}.final.pb.gz"},
          f"{label}: unexpected files {files}")

    # A child made by the program's own clone system call (vsftpd's
    # connection processes) through syscall(): the hook runs the runtime's
    # fork handlers around it, and the child's profile is its own, as after
    # fork(). Before, it waited ten seconds for a dump thread it did not
    # have (at SIGTERM, at its seccomp filter) and wrote its final profile
    # under the parent's name.
    for mode in ("raw-clone", "raw-clone-term", "raw-clone-seccomp", "asm-clone"):
        start = time.monotonic()
        label, out, child = run_mode(env, prog, mode)
        took = time.monotonic() - start
        check(took < 5, f"{label}: took {took:.1f}s (the child waited for a dump thread)")
        env.check_exact(final_path(out), PARENT, label + ": parent")
        files = listdir(out)
        if mode in ("raw-clone", "raw-clone-term"):
            env.check_exact(final_path(out, child), CHILD, label + ": child")
            check(set(files) == {"heap.final.pb.gz", f"heap.{child}.final.pb.gz"},
                  f"{label}: unexpected files {files}")
        else:
            # In a seccomp sandbox without a thread of the runtime's own, or
            # made by the instruction itself (no fork handlers ran: the
            # runtime's per-process flags read off), the child writes
            # nothing.
            check(files == ["heap.final.pb.gz"], f"{label}: unexpected files {files}")

    # HEAPSCOPE_FOLLOW_FORK is about children forked without exec; a
    # program started by exec is profiled on its own all the same.
    label, out, child = run_mode(env, prog, "fork-exec-self", {"HEAPSCOPE_FOLLOW_FORK": "0"})
    env.check_exact(final_path(out), PARENT, label + ": parent")
    env.check_exact(final_path(out, child), LEAF, label + ": exec'd program")

    label, out, child = run_mode(env, prog, "fork-exec-true")
    env.check_exact(final_path(out), PARENT, label + ": parent")
    leaf = final_path(out, child)
    if check(os.path.exists(leaf), f"{label}: /bin/true wrote no {os.path.basename(leaf)}"):
        env.go_pprof_top(leaf)
    files = listdir(out)
    check(set(files) == {"heap.final.pb.gz", f"heap.{child}.final.pb.gz"},
          f"{label}: unexpected files {files}")

    # A forked child's own periodic snapshots.
    label, out, child = run_mode(env, prog, "fork-linger",
                                 {"HEAPSCOPE_INTERVAL": "100ms", "HEAPSCOPE_KEEP": "0"})
    seqs = numbered_snapshots(out, child)
    check(len(seqs) >= 2 and seqs == list(range(1, len(seqs) + 1)),
          f"{label}: the child's snapshots are not heap.{child}.0001... : {listdir(out)}")
    if seqs:
        env.check_exact(snapshot_path(out, seqs[-1], child), CHILD, label + ": child snapshot")
    check(numbered_snapshots(out), f"{label}: the parent took no snapshot while it waited")
    env.check_exact(final_path(out), PARENT, label + ": parent")
    env.check_exact(final_path(out, child), CHILD, label + ": child")

    # The dump signal reaches a forked child that has not allocated since
    # the fork (an idle worker of a pre-forking server).
    dump_idle_child(env, prog)

    # Fork storm: 30 children, one at a time, while a thread allocates and
    # frees without pause and the dump thread writes every 5 ms.
    label, out, _ = "fork-busy", env.outdir("fork-busy"), None
    plain = env.plain([prog, "fork-busy"])
    r = env.preload_input([prog, "fork-busy"], out, {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "5ms",
                                                     "HEAPSCOPE_KEEP": "3"}, timeout=50)
    check(r.returncode == 0, f"{label}: exit status {r.returncode}: {r.stderr}")
    check(r.stdout == plain.stdout, f"{label}: output changed: {r.stdout!r} (was {plain.stdout!r})")
    check(r.stderr == "", f"{label}: the runtime wrote to stderr: {r.stderr!r}")
    finals = sorted(glob.glob(os.path.join(out, "heap.*.final.pb.gz")))
    check(len(finals) == 30, f"{label}: {len(finals)} child profiles, want 30: {listdir(out)}")
    for f in finals[:3]:
        env.check_exact(f, {"ChildAlloc": (21000, 21000, 3, 3), "ParentAlloc": (8000, 8000, 4, 4),
                            "ParentAfter": (0, 0, 0, 0)}, f"{label}: {os.path.basename(f)}")
    for f in finals[3:]:
        got = env.values(f, ["ChildAlloc"])["ChildAlloc"]
        check(got == (21000, 21000, 3, 3), f"{label}: {os.path.basename(f)}: ChildAlloc {got}")
    env.check_exact(final_path(out), PARENT, label + ": parent")

    # At the default rate, forked children draw their own samples: the
    # same 200 allocations of distinct sizes (~26 samples expected) in 4
    # children and the parent. Sharing the parent's random state, all five
    # would sample the same blocks and report the same estimate; with their
    # own, two equal estimates need two equal sets of sampled blocks
    # (probability far below 1e-6).
    label, out = "fork-samples", env.outdir("fork-samples")
    r = env.preload_input([prog, "fork-samples"], out, {})
    check(r.returncode == 0 and r.stderr == "", f"{label}: {r.returncode} {r.stderr!r}")
    files = sorted(glob.glob(os.path.join(out, "heap.*final.pb.gz")))
    check(len(files) == 5, f"{label}: {listdir(out)}")
    est = [env.values(f, ["SampledChildAlloc"])["SampledChildAlloc"][1] for f in files]
    print(f"{label}: alloc_space estimates {est} (true {sum(65536 + 16 * i for i in range(200))})")
    check(len(set(est)) == len(est), f"{label}: processes sampled the same blocks: {est}")
    fork_many(env, prog)
    runs_in_one_directory(env, prog)
    stderr_a_connection(env, prog)
    finish(env, "test_fork")


def pids_with_files(out):
    pids = {}
    for name in listdir(out):
        m = re.fullmatch(r"(heap|fds|threadcreate|mmap)\.([1-9]\d*)\.(?!pb\.gz$).*", name)
        if m:
            pids.setdefault(int(m.group(2)), []).append(name)
    return pids


def fork_many(env, prog):
    # 100 children forked in turn, at most 20 of them kept, while the first
    # process and a long-lived worker take snapshots every 50 ms.
    label, out = "fork-many", env.outdir("fork-many")
    extra = {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "50ms", "HEAPSCOPE_KEEP_CHILDREN": "20"}
    r = env.preload_input([prog, "fork-many", "100"], out, extra)
    check(r.returncode == 0, f"{label}: exit status {r.returncode}: {r.stderr}")
    keeper = re.search(r"keeper pid (\d+)", r.stderr)
    children = [int(p) for p in re.findall(r"child pid (\d+)", r.stderr)]
    check(keeper is not None and len(children) == 100, f"{label}: stderr {r.stderr!r}")
    keeper = int(keeper.group(1)) if keeper else -1
    pids = pids_with_files(out)
    # The keeper ran from the first to the last: its oldest snapshots are
    # older than any child's files, and all stay.
    kept_seqs = numbered_snapshots(out, keeper)
    check(len(kept_seqs) >= 2 and os.path.exists(final_path(out, keeper)),
          f"{label}: the long-lived worker's files were deleted: {pids.get(keeper)}")
    # pids wrap around only past pid_max: fork order is age order here.
    short = sorted((p for p in pids if p != keeper), key=children.index)
    check(short == children[-20:],
          f"{label}: kept the files of {short}, want the newest 20: {children[-20:]}")
    for p in short:
        check(os.path.exists(final_path(out, p)), f"{label}: {p}: no final heap profile")
    deleted = open(os.path.join(out, "children-deleted.txt")).read().split()
    check(sum(int(n) for n in deleted) == 80,
          f"{label}: children-deleted.txt says {deleted}, want 80 in all")
    env.check_exact(final_path(out), {"ParentAlloc": (8000, 8000, 4, 4)}, label + ": parent")
    check(numbered_snapshots(out), f"{label}: the first process's snapshots are gone")
    r = env.run(["leaks", out])
    check(r.returncode == 0, f"{label}: heapscope leaks: {r.returncode} {r.stderr}")

    # 0 keeps every child's files.
    out = env.outdir("fork-many-all")
    extra = {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_KEEP_CHILDREN": "0"}
    r = env.preload_input([prog, "fork-many", "40"], out, extra)
    check(r.returncode == 0, f"{label} keep all: exit status {r.returncode}: {r.stderr}")
    check(len(pids_with_files(out)) == 41 and "children-deleted.txt" not in listdir(out),
          f"{label} keep all: {listdir(out)}")

    # `heapscope run --keep-children` says how many were deleted.
    out = env.outdir("fork-many-run")
    r = env.run(["run", "--rate", "1", "--keep-children", "5", "--out", out, "--", prog,
                 "fork-many", "30"], env=clean_env())
    check(r.returncode == 0, f"{label} run: exit status {r.returncode}: {r.stderr}")
    # 5 ended children and, once it has ended too, the keeper.
    check(re.search(r"heapscope: [56] processes started by the program wrote profiles too",
                    r.stderr) is not None and
          "heapscope: the files of 25 more that had ended were deleted" in r.stderr,
          f"{label} run: the summary does not say what was kept and deleted: {r.stderr}")
    r = env.run(["run", "--keep-children", "some", "--", prog, "fork-many", "1"], env=clean_env())
    check(r.returncode == 2 and r.stderr.count("\n") == 1 and "--keep-children some" in r.stderr,
          f"{label} run: a bad --keep-children: {r.returncode} {r.stderr!r}")


def dump_idle_child(env, prog):
    label = "fork-wait"
    out = env.outdir(label)
    p = env.spawn([prog, "fork-wait"], out, {"HEAPSCOPE_RATE": "1"})
    try:
        rd, ed = LineReader(p.stdout), LineReader(p.stderr)
        check(rd.readline() == "parent: allocated\n", f"{label}: parent not ready")
        check(rd.readline() == "child ready\n", f"{label}: child not ready")
        m = re.fullmatch(r"fork_allocs: child pid (\d+)\n", ed.readline() or "")
        if not check(m is not None, f"{label}: no child pid on stderr"):
            return
        child = int(m.group(1))
        os.kill(child, signal.SIGRTMIN + 7)
        prof = snapshot_path(out, 1, child)
        if check(wait_for(lambda: os.path.exists(prof), 5),
                 f"{label}: the dump signal sent to the forked child {child}, which has not "
                 f"allocated since fork, wrote no {os.path.basename(prof)} within 5 s "
                 f"(files: {listdir(out)})"):
            env.check_exact(prof, {"ParentAlloc": (8000, 8000, 4, 4)}, label + ": child snapshot")
        p.stdin.close()
        p.wait(timeout=20)
        check(p.returncode == 0, f"{label}: exit status {p.returncode}")
        env.check_exact(final_path(out, child), {"ParentAlloc": (8000, 8000, 4, 4)},
                        label + ": child final")
    finally:
        kill_quietly(p)



def runs_in_one_directory(env, prog):
    label, out = "exec-inplace", env.outdir("exec-inplace")
    extra = {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "50ms", "HEAPSCOPE_KEEP": "0"}
    r = env.preload_input([prog, "exec-inplace"], out, extra)
    check(r.returncode == 0 and "after exec: done" in r.stdout,
          f"{label}: exit status {r.returncode}: {r.stdout!r} {r.stderr!r}")
    seqs = numbered_snapshots(out)
    check(len(seqs) >= 6 and seqs == list(range(1, len(seqs) + 1)),
          f"{label}: the snapshots are not numbered on across the exec: {listdir(out)}")
    # In number order, the times increase: nothing was overwritten.
    times = [os.stat(snapshot_path(out, s)).st_mtime_ns for s in seqs]
    check(times == sorted(times), f"{label}: snapshot times out of order: {times}")
    before = [s for s in seqs if "ParentAlloc" in env.functions(snapshot_path(out, s))
              and "LeafAlloc" not in env.functions(snapshot_path(out, s))]
    after = [s for s in seqs if "LeafAlloc" in env.functions(snapshot_path(out, s))]
    check(before and after and max(before) < min(after) and len(before) + len(after) == len(seqs),
          f"{label}: snapshots before the exec {before}, after {after}")
    env.check_exact(final_path(out), {"LeafAlloc": (5500, 5500, 5, 5), "ParentAlloc": (0, 0, 0, 0)},
                    label + ": final")
    r = env.run(["leaks", "--format", "json", out])
    note = (f"left out {len(before)} snapshot{'s' if len(before) != 1 else ''} of an earlier run "
            "(the same process before it exec'd itself)")
    check(r.returncode == 0 and note in r.stderr,
          f"{label}: heapscope leaks does not leave the run before the exec out: {r.stderr}")
    if r.returncode == 0:
        got = json.loads(r.stdout)
        # The new run's numbered snapshots, and the one at exit unless the
        # report leaves it out as written after the teardown.
        check(got.get("snapshots") in (len(after), len(after) + 1),
              f"{label}: the report covers {got.get('snapshots')} snapshots, want those of "
              f"the run after the exec: {len(after)} and the final profile")

    # The same directory again, by another process: numbered on.
    label = "run again"
    r = env.preload_input([prog, "after-exec"], out, extra)
    check(r.returncode == 0, f"{label}: exit status {r.returncode}: {r.stderr}")
    again = numbered_snapshots(out)
    check(len(again) > len(seqs) and again == list(range(1, len(again) + 1)),
          f"{label}: the second run overwrote or skipped numbers: {listdir(out)}")
    r = env.run(["leaks", out])
    check(r.returncode == 0 and re.search(r"left out \d+ snapshots of an earlier run "
                                          r"\(pid \d+, another process\)", r.stderr),
          f"{label}: heapscope leaks does not leave the earlier runs out: {r.stderr}")

if __name__ == "__main__":
    main()
