"""Periodic snapshots: HEAPSCOPE_INTERVAL=100ms, HEAPSCOPE_KEEP=3 on a
program that keeps 10000 more bytes (GrowStep) every 100 ms for 1.5 s.
While it runs the snapshot numbers only go up and no more than KEEP (+1
while the oldest is being replaced) are on disk; at the end exactly the
newest 3 remain, numbered consecutively, no *.tmp is left, the in-use
space of GrowStep never decreases from one kept snapshot to the next and
is always a whole number of steps, and heap.final.pb.gz holds all of it.
HEAPSCOPE_KEEP=0 keeps every snapshot, from heap.0001.pb.gz on. A
snapshot that is due while the program ends never leaves a *.tmp behind
(80 short runs with HEAPSCOPE_INTERVAL=1ms, so the ends meet snapshots)."""
import os
import sys
import time

from hstest import (CornerEnv, check, finish, final_path, kill_quietly, listdir,
                    numbered_snapshots, snapshot_path)

STEPS = 15
STEP_BYTES = 10000


def grow_inuse(env, prof):
    return env.values(prof, ["GrowStep"])["GrowStep"]


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    plain = env.plain([prog, str(STEPS), "100"])
    check(plain.returncode == 0, f"without the runtime: exit status {plain.returncode}")

    out = env.outdir("keep3")
    p = env.spawn([prog, str(STEPS), "100"], out,
                  {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "100ms", "HEAPSCOPE_KEEP": "3"})
    try:
        # Watch the directory while the program runs (polling, never
        # waiting for a particular moment).
        highest = 0
        most_on_disk = 0
        went_down = []
        deadline = time.monotonic() + 30
        while p.poll() is None and time.monotonic() < deadline:
            seqs = numbered_snapshots(out)
            if seqs:
                if seqs[-1] < highest:
                    went_down.append((highest, seqs))
                highest = max(highest, seqs[-1])
            most_on_disk = max(most_on_disk, len(seqs))
            time.sleep(0.01)
        stdout, stderr = p.communicate(timeout=30)
    finally:
        kill_quietly(p)
    check(p.returncode == 0, f"exit status {p.returncode}: {stderr!r}")
    check(stdout.decode() == plain.stdout, f"output changed: {stdout!r}")
    check(stderr == b"", f"the runtime wrote to stderr: {stderr!r}")
    check(not went_down, f"snapshot numbers went down while the program ran: {went_down}")
    check(most_on_disk <= 4, f"{most_on_disk} snapshots on disk at once with HEAPSCOPE_KEEP=3")

    files = listdir(out)
    seqs = numbered_snapshots(out)
    check(not [f for f in files if f.endswith(".tmp")], f"temporary files left: {files}")
    check(len(seqs) == 3, f"HEAPSCOPE_KEEP=3 left {len(seqs)} snapshots: {files}")
    # 1.5 s at 100 ms: about 15 snapshots were taken; the newest 3 remain.
    check(seqs and seqs[-1] >= 8, f"only {seqs} after 1.5 s at 100 ms")
    check(seqs == list(range(seqs[0], seqs[0] + len(seqs))) if seqs else False,
          f"kept snapshots are not the newest, consecutive ones: {seqs}")
    check(seqs and seqs[-1] >= highest, f"the newest snapshot {seqs} is older than one seen ({highest})")
    expected_files = {os.path.basename(snapshot_path(out, s)) for s in seqs} | {"heap.final.pb.gz"}
    check(set(files) == expected_files, f"unexpected files: {files}")

    last = -1
    for s in seqs:
        prof = snapshot_path(out, s)
        iu, al, io, ao = grow_inuse(env, prof)
        print(f"heap.{s:04d}.pb.gz: GrowStep in use {iu} bytes in {io} objects")
        check(iu % STEP_BYTES == 0 and iu == io * STEP_BYTES and al == iu and ao == io,
              f"snapshot {s}: GrowStep {(iu, al, io, ao)} is not a whole number of steps")
        check(iu >= last, f"snapshot {s}: GrowStep in use went down from {last} to {iu}")
        check(0 < iu <= STEPS * STEP_BYTES, f"snapshot {s}: GrowStep in use {iu} out of range")
        last = iu
        text = env.go_pprof_all(prof)
        check("GrowStep" in text, f"go tool pprof -top of snapshot {s} does not show GrowStep")
    final = final_path(out)
    env.check_exact(final, {"GrowStep": (STEPS * STEP_BYTES, STEPS * STEP_BYTES, STEPS, STEPS),
                            "ChurnStep": (0, STEPS * 64 * 300, 0, STEPS * 64)}, "final")
    if os.path.exists(final):
        check(grow_inuse(env, final)[0] >= last, "the final profile holds less than the last snapshot")

    # HEAPSCOPE_KEEP=0: every snapshot stays, numbered from 1 without gaps.
    out = env.outdir("keep0")
    r = env.preload_input([prog, "5", "100"], out,
                          {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_INTERVAL": "100ms", "HEAPSCOPE_KEEP": "0"})
    check(r.returncode == 0, f"KEEP=0: exit status {r.returncode}: {r.stderr}")
    seqs = numbered_snapshots(out)
    check(len(seqs) >= 3 and seqs == list(range(1, len(seqs) + 1)),
          f"KEEP=0 did not keep every snapshot from 1 on: {listdir(out)}")
    check(os.path.exists(final_path(out)), "KEEP=0: no heap.final.pb.gz")

    # Exits meeting snapshots in progress: nothing half-written may stay.
    left = []
    runs = 80
    for i in range(runs):
        out = env.outdir(f"race-{i}")
        r = env.preload_input([prog, "3", "10"], out, {"HEAPSCOPE_RATE": "1",
                                                       "HEAPSCOPE_INTERVAL": "1ms",
                                                       "HEAPSCOPE_KEEP": "3"})
        check(r.returncode == 0, f"1ms run {i}: exit status {r.returncode}: {r.stderr}")
        tmp = [f for f in listdir(out) if f.endswith(".tmp")]
        if tmp:
            left.append(tmp)
        check(os.path.exists(final_path(out)), f"1ms run {i}: no heap.final.pb.gz")
    check(not left, f"{len(left)} of {runs} runs with HEAPSCOPE_INTERVAL=1ms left temporary files "
                    f"behind at exit (a periodic snapshot still being written when the process "
                    f"ended): {left}")
    finish(env, "test_snapshots")


if __name__ == "__main__":
    main()
