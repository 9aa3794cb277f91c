"""Termination by signal. A program blocked in pause() and sent SIGTERM,
SIGINT or SIGHUP writes heap.final.pb.gz (exact at rate 1 for what it
allocated before) and still dies of that very signal, as it does without
the runtime; also while three other threads allocate and free without
pause. A program that installs its own SIGTERM handler keeps it: the
handler runs, the program leaves main with status 0, and the final profile
is written at exit. A signal ignored from the start stays ignored.
HEAPSCOPE_FINAL=0 writes nothing."""
import os
import signal
import subprocess
import sys

from hstest import (CornerEnv, LineReader, check, clean_env, finish, final_path, kill_quietly,
                    listdir, wait_for)

KNOWN = {"KnownAlloc": (21000, 21000, 7, 7)}


def run_until_signal(env, prog, mode, sig, out=None, extra=None, preexec=None, label=""):
    """Starts the program, waits for its ready line, sends sig; returns
    (returncode, stdout, stderr)."""
    environ = env.preload_env(out, extra) if out is not None else clean_env()
    p = subprocess.Popen([prog, mode], env=environ, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec)
    try:
        rd = LineReader(p.stdout)
        first = rd.readline()
        check(first == "ready\n", f"{label}: no ready line, got {first!r}")
        os.kill(p.pid, sig)
        rest = rd.rest(timeout=30)
        p.wait(timeout=30)
        return p.returncode, first + rest, p.stderr.read().decode()
    finally:
        kill_quietly(p)


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        name = signal.Signals(sig).name
        prc, pout, _ = run_until_signal(env, prog, "pause", sig, label=f"{name} plain")
        check(prc == -sig, f"{name} without the runtime: status {prc}")
        out = env.outdir("pause-" + name)
        rc, sout, serr = run_until_signal(env, prog, "pause", sig, out, {"HEAPSCOPE_RATE": "1"},
                                          label=name)
        check(rc == -sig, f"{name}: the program did not die of {name}: status {rc}")
        check(sout == pout, f"{name}: output changed: {sout!r} (was {pout!r})")
        check(serr == "", f"{name}: the runtime wrote to stderr: {serr!r}")
        env.check_exact(final_path(out), KNOWN, name)
        check(not [f for f in listdir(out) if f.endswith(".tmp")], f"{name}: *.tmp left: {listdir(out)}")

    # Other threads busy in malloc/free when SIGTERM arrives.
    for i in range(3):
        out = env.outdir(f"busy-{i}")
        rc, sout, serr = run_until_signal(env, prog, "busy", signal.SIGTERM, out,
                                          {"HEAPSCOPE_RATE": "1"}, label=f"busy {i}")
        check(rc == -signal.SIGTERM, f"busy {i}: status {rc}, not killed by SIGTERM")
        check(serr == "", f"busy {i}: the runtime wrote to stderr: {serr!r}")
        text = env.check_exact(final_path(out), KNOWN, f"busy {i}")
        check(text is None or "BusyChurn" in text, f"busy {i}: BusyChurn missing from the profile")

    # The program's own SIGTERM handler.
    prc, pout, _ = run_until_signal(env, prog, "handler", signal.SIGTERM, label="handler plain")
    check(prc == 0 and "handler: SIGTERM received" in pout,
          f"handler without the runtime: status {prc}, output {pout!r}")
    out = env.outdir("handler")
    rc, sout, serr = run_until_signal(env, prog, "handler", signal.SIGTERM, out,
                                      {"HEAPSCOPE_RATE": "1"}, label="handler")
    check(rc == 0, f"handler: exit status {rc}, expected 0")
    check(sout == pout, f"handler: output changed: {sout!r} (was {pout!r})")
    env.check_exact(final_path(out), KNOWN, "handler")

    # SIGHUP ignored from the start (nohup): it stays ignored; SIGTERM
    # still ends the program with its final profile.
    out = env.outdir("nohup")
    p = subprocess.Popen([prog, "pause"], env=env.preload_env(out, {"HEAPSCOPE_RATE": "1"}),
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", "nohup: no ready line")
        os.kill(p.pid, signal.SIGHUP)
        check(not wait_for(lambda: p.poll() is not None, 0.5),
              f"nohup: an ignored SIGHUP ended the program ({p.returncode})")
        check(not os.path.exists(final_path(out)), "nohup: an ignored SIGHUP wrote the final profile")
        os.kill(p.pid, signal.SIGTERM)
        check(p.wait(timeout=30) == -signal.SIGTERM, f"nohup: status {p.returncode} after SIGTERM")
        env.check_exact(final_path(out), KNOWN, "nohup")
    finally:
        kill_quietly(p)

    # HEAPSCOPE_FINAL=0: dies of the signal, writes nothing.
    out = env.outdir("nofinal")
    rc, _, serr = run_until_signal(env, prog, "pause", signal.SIGTERM, out,
                                   {"HEAPSCOPE_FINAL": "0"}, label="HEAPSCOPE_FINAL=0")
    check(rc == -signal.SIGTERM, f"HEAPSCOPE_FINAL=0: status {rc}")
    check(not os.path.exists(final_path(out)), "HEAPSCOPE_FINAL=0: heap.final.pb.gz written")
    finish(env, "test_termination")


if __name__ == "__main__":
    main()
