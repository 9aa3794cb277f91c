"""Snapshots on demand: the dump signal (SIGRTMIN+7 by default) and
`heapscope dump PID` each make the waiting program write the next
heap.NNNN.pb.gz, exact at rate 1 for what it holds at that moment, while
the program's own reads carry on undisturbed. HEAPSCOPE_DUMP_SIGNAL=USR2
works the same way (and `heapscope dump` finds it in the environment).
`heapscope dump` refuses, with one line on stderr and a non-zero status,
a process without the runtime (which must survive: the signal would kill
it), a process whose dump signal is off, a pid that does not exist and
something that is not a pid. A handler the program installs itself later
replaces the runtime's and is left alone. Dump signals landing while three
threads allocate without pause (inside the hooks) each give a snapshot."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from hstest import (CornerEnv, LineReader, check, clean_env, finish, final_path, kill_quietly,
                    numbered_snapshots, snapshot_path, wait_for)

KNOWN = (21000, 21000, 7, 7)


def grow_expected(n):
    return (5000 * n, 5000 * n, n, n)


def refuses(env, pid_arg, what, extra_env=None):
    r = env.run(["dump", str(pid_arg)], env=extra_env)
    lines = r.stderr.splitlines()
    check(r.returncode != 0, f"heapscope dump {what}: exit status 0")
    check(len(lines) == 1 and lines[0].startswith("heapscope"),
          f"heapscope dump {what}: expected one line on stderr, got {r.stderr!r}")
    check(r.stdout == "", f"heapscope dump {what}: wrote to stdout: {r.stdout!r}")
    return lines[0] if lines else ""


def session(env, prog, label, extra, senders):
    """Runs `signal_wait stdin`, and for each sender: one more `grow`, then
    the sender asks for a snapshot, which must appear and be exact."""
    out = env.outdir(label)
    p = env.spawn([prog, "stdin"], out, dict({"HEAPSCOPE_RATE": "1"}, **extra))
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", f"{label}: no ready line")
        for i, (how, send) in enumerate(senders, start=1):
            p.stdin.write(b"grow\n")
            p.stdin.flush()
            check(rd.readline() == f"grown {i}\n", f"{label}: no answer to grow {i}")
            send(p.pid)
            prof = snapshot_path(out, i)
            if not check(wait_for(lambda: os.path.exists(prof), 10),
                         f"{label}: {how}: {os.path.basename(prof)} did not appear within 10 s "
                         f"(files: {numbered_snapshots(out)})"):
                continue
            check(numbered_snapshots(out) == list(range(1, i + 1)),
                  f"{label}: {how}: snapshots {numbered_snapshots(out)} after {i} requests")
            env.check_exact(prof, {"KnownAlloc": KNOWN, "GrowOnce": grow_expected(i)},
                            f"{label}: {how}")
        p.stdin.close()
        rest = rd.rest()
        check(rest == "bye\n", f"{label}: program output after EOF: {rest!r}")
        check(p.wait(timeout=20) == 0, f"{label}: exit status {p.returncode}")
        err = p.stderr.read().decode()
        check(err == "", f"{label}: the runtime wrote to stderr: {err!r}")
        env.check_exact(final_path(out), {"KnownAlloc": KNOWN,
                                          "GrowOnce": grow_expected(len(senders))},
                        f"{label}: final")
        return rd.seen.decode()
    finally:
        kill_quietly(p)


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    static_child = os.path.abspath(env.args[1])
    plain = env.plain([prog, "stdin"], input="grow\ngrow\n")
    check(plain.returncode == 0, f"without the runtime: exit status {plain.returncode}")

    def by_kill(sig):
        return lambda pid: os.kill(pid, sig)

    def by_cli(pid):
        r = env.run(["dump", str(pid)])
        check(r.returncode == 0, f"heapscope dump {pid}: exit status {r.returncode}: {r.stderr}")

    seen = session(env, prog, "rtmin7", {},
                   [("kill -RTMIN+7", by_kill(signal.SIGRTMIN + 7)), ("heapscope dump", by_cli)])
    check(seen == plain.stdout, f"default signal: output changed: {seen!r}")
    seen = session(env, prog, "usr2", {"HEAPSCOPE_DUMP_SIGNAL": "USR2"},
                   [("kill -USR2", by_kill(signal.SIGUSR2)), ("heapscope dump", by_cli)])
    check(seen == plain.stdout, f"USR2: output changed: {seen!r}")
    # The other documented forms of HEAPSCOPE_DUMP_SIGNAL: RTMIN+N, a number.
    for value, sig in (("RTMIN+3", signal.SIGRTMIN + 3), (str(int(signal.SIGUSR1)), signal.SIGUSR1)):
        seen = session(env, prog, "sig-" + value.replace("+", "_"), {"HEAPSCOPE_DUMP_SIGNAL": value},
                       [(f"kill {int(sig)}", by_kill(sig)), ("heapscope dump", by_cli)])
        check(seen == plain.stdout, f"{value}: output changed: {seen!r}")

    # A process without the runtime: refused, and not killed.
    sleeper = subprocess.Popen(["sleep", "30"], env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    try:
        line = refuses(env, sleeper.pid, "of a process without the runtime")
        check("libheapscope" in line and "started without the runtime in LD_PRELOAD" in line,
              f"the refusal does not say why: {line!r}")
        died = wait_for(lambda: sleeper.poll() is not None, 0.5)
        check(not died, f"heapscope dump killed a process without the runtime ({sleeper.returncode})")
    finally:
        kill_quietly(sleeper)

    # Why the runtime is not in a process LD_PRELOAD named it to: a static
    # program, and one in secure-execution mode (file capabilities, as
    # squid's pinger has), where the loader ignores LD_PRELOAD.
    preload = dict(clean_env(), LD_PRELOAD=env.lib)
    cases = [([static_child, "0", "30"], "a static program", "static", None)]
    setcap = shutil.which("setcap")
    if os.geteuid() == 0 and setcap:
        # Run by nobody, for whom the capability is a gain (root gains
        # nothing, and the loader trusts it).
        capdir = tempfile.mkdtemp(prefix="hs-capsleep-")
        os.chmod(capdir, 0o755)
        capsleep = os.path.join(capdir, "capsleep")
        shutil.copy("/bin/sleep", capsleep)
        r = subprocess.run([setcap, "cap_net_raw+ep", capsleep], capture_output=True, text=True)
        if check(r.returncode == 0, f"setcap failed: {r.stderr}"):
            cases.append(([capsleep, "30"], "secure-execution mode", "capabilities",
                          lambda: os.setuid(65534)))
    else:
        capdir = None
        print("note: not root or no setcap: the secure-execution case is not run")
    for cmd, why, label, as_user in cases:
        p = subprocess.Popen(cmd, env=preload, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             preexec_fn=as_user)
        try:
            wait_for(lambda: os.path.exists(f"/proc/{p.pid}/exe") and
                     os.readlink(f"/proc/{p.pid}/exe") == os.path.realpath(cmd[0]), 5)
            line = refuses(env, p.pid, f"of a process without the runtime ({label})")
            check(why in line, f"{label}: the refusal does not say why: {line!r}")
        finally:
            kill_quietly(p)
    if capdir:
        shutil.rmtree(capdir, ignore_errors=True)

    # The dump signal switched off: refused, the process carries on.
    out = env.outdir("off")
    p = env.spawn([prog, "stdin"], out, {"HEAPSCOPE_DUMP_SIGNAL": "0"})
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", "signal off: no ready line")
        line = refuses(env, p.pid, "of a process with its dump signal off")
        check("off" in line, f"the refusal does not say the signal is off: {line!r}")
        p.stdin.write(b"grow\n")
        p.stdin.flush()
        check(rd.readline() == "grown 1\n", "signal off: the program stopped answering")
        p.stdin.close()
        check(p.wait(timeout=20) == 0, f"signal off: exit status {p.returncode}")
        check(numbered_snapshots(out) == [], f"signal off: snapshots written: {numbered_snapshots(out)}")
    finally:
        kill_quietly(p)

    # HEAPSCOPE_ENABLED=0: the runtime is loaded but records nothing and
    # installs no handler; `heapscope dump` must not kill the process.
    out = env.outdir("disabled")
    p = env.spawn([prog, "stdin"], out, {"HEAPSCOPE_ENABLED": "0"})
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", "disabled: no ready line")
        r = env.run(["dump", str(p.pid)])
        died = wait_for(lambda: p.poll() is not None, 0.5)
        check(not died, f"heapscope dump killed a process started with HEAPSCOPE_ENABLED=0 "
                        f"(status {p.returncode}; heapscope dump said {r.returncode}: {r.stderr.strip()!r})")
        if not died:
            p.stdin.write(b"grow\n")
            p.stdin.close()
            check(rd.rest() == "grown 1\nbye\n", "disabled: the program stopped answering")
            check(p.wait(timeout=20) == 0, f"disabled: exit status {p.returncode}")
    finally:
        kill_quietly(p)

    # A pid that does not exist, and something that is not a pid.
    gone = subprocess.Popen(["true"])
    gone.wait()
    refuses(env, gone.pid, "of a finished process")
    refuses(env, "not-a-pid", "of a word")

    # The program installs its own SIGUSR2 handler after start: the
    # runtime's is replaced and left alone; the program's handler runs and
    # no snapshot is written.
    out = env.outdir("own-handler")
    p = env.spawn([prog, "own-usr2"], out, {"HEAPSCOPE_DUMP_SIGNAL": "USR2"})
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", "own handler: no ready line")
        os.kill(p.pid, signal.SIGUSR2)
        # The handler has run once the program reports it.
        got = wait_for(lambda: (p.stdin.write(b"?\n"), p.stdin.flush(), rd.readline())[2]
                       == "usr2 seen 1\n", 10, step=0.05)
        check(got, "own handler: the program's SIGUSR2 handler did not run")
        time.sleep(0.3)  # a wrongly woken dump thread would have written by now
        check(numbered_snapshots(out) == [],
              f"own handler: the runtime still wrote snapshots: {numbered_snapshots(out)}")
        p.stdin.close()
        check(p.wait(timeout=20) == 0, f"own handler: exit status {p.returncode}")
        check(os.path.exists(final_path(out)), "own handler: no heap.final.pb.gz")
    finally:
        kill_quietly(p)

    # Dump signals while other threads are inside the hooks all the time.
    out = env.outdir("busy")
    p = env.spawn([prog, "busy"], out, {"HEAPSCOPE_RATE": "1"})
    try:
        rd = LineReader(p.stdout)
        check(rd.readline() == "ready\n", "busy: no ready line")
        for i in range(1, 11):
            os.kill(p.pid, signal.SIGRTMIN + 7)
            prof = snapshot_path(out, i)
            if not check(wait_for(lambda: os.path.exists(prof), 10),
                         f"busy: snapshot {i} did not appear ({numbered_snapshots(out)})"):
                break
            got = env.values(prof, ["KnownAlloc"])["KnownAlloc"]
            check(got == KNOWN, f"busy: snapshot {i}: KnownAlloc {got}")
        check(p.poll() is None, f"busy: the program ended ({p.returncode})")
        os.kill(p.pid, signal.SIGTERM)
        check(p.wait(timeout=30) == -signal.SIGTERM, f"busy: status {p.returncode}")
        err = p.stderr.read().decode()
        check(err == "", f"busy: the runtime wrote to stderr: {err!r}")
        env.check_exact(final_path(out), {"KnownAlloc": KNOWN}, "busy: final")
        env.go_pprof_top(snapshot_path(out, 10))
    finally:
        kill_quietly(p)
    finish(env, "test_dump_signal")


if __name__ == "__main__":
    main()
