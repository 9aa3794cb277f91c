"""`heapscope run` on a program that daemonizes (fork, setsid, fork, the
launcher exits 0) and leaves the daemon running.
Without --follow: heapscope run returns as soon as the launcher ends, with
its status, and its summary names the process left running (pid, name) and
where its profiles keep going; the daemon keeps writing heap.PID.* there.
With --follow: heapscope run waits for the daemon, passes SIGTERM sent to
it on to the daemon (outside its process group and session), and then
prints the daemon's own summary and leak report, which calls DaemonLeak
growing. A terminal's Ctrl-C (a pty, the daemon in a session of its own so
the terminal never reaches it) is passed on the same way. The daemon is
found also when the intermediate process is multi-threaded and its main
thread ends first (a zombie until its last thread has ended)."""
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import termios
import time

from hstest import (CornerEnv, LineReader, check, clean_env, finish, kill_quietly, listdir,
                    wait_for)


def read_pid(path, timeout=20):
    if not wait_for(lambda: os.path.exists(path), timeout):
        return None
    return int(open(path).read())


def alive(pid):
    """Running (not a zombie waiting for a parent that does not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def stop_quietly(pid):
    if pid is not None and alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def check_followed(env, err, pid, out, label):
    check(f"daemon_service left 1 process running (pid {pid} daemon_service), followed until it ended"
          in err, f"{label}: the summary does not say it followed pid {pid}: {err}")
    check(re.search(rf"pid {pid} daemon_service, left running by \S*daemon_service, exited with status 0 ",
                    err), f"{label}: no summary of the daemon's own end: {err}")
    check(f"heap.{pid}.final.pb.gz" in err, f"{label}: the daemon's final profile is not named: {err}")
    check(f"details: heapscope leaks --pid {pid} {out}" in err,
          f"{label}: no pointer to the daemon's leak report: {err}")
    # The daemon's leak report, within the run summary: DaemonLeak grows.
    report = err.split(f"pid {pid} daemon_service, left running", 1)[-1]
    trends = report.split("heapscope: leak trends", 1)
    check(len(trends) == 2 and "DaemonLeak" in trends[1],
          f"{label}: the daemon's leak report does not name DaemonLeak: {report}")
    r = env.run(["leaks", "--pid", str(pid), "--format", "json", out])
    check(r.returncode == 0, f"{label}: heapscope leaks --pid {pid}: {r.stderr}")
    if r.returncode == 0:
        suspects = json.loads(r.stdout)["suspects"]
        check(any(s["kind"] == "heap" and s["verdict"] == "growing" and "DaemonLeak" in s["frames"][0]
                  for s in suspects), f"{label}: DaemonLeak is not a growing suspect: {suspects}")


def follow(env, prog, base, label, stdin, preexec, end, close_after_start=None):
    """heapscope run --follow on the daemon; end(p) should end it through
    heapscope run after 4 s of following."""
    out = env.outdir(label)
    pid_file = os.path.join(env.tmp, label + ".pid")
    pid = None
    p = subprocess.Popen([env.heapscope] + base + ["--follow", "--out", out, "--", prog, pid_file,
                                                   "60"],
                         env=clean_env(), stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, preexec_fn=preexec)
    if close_after_start is not None:
        os.close(close_after_start)
    try:
        check(LineReader(p.stdout).readline() == "started\n", f"{label}: no started line")
        pid = read_pid(pid_file)
        check(pid is not None, f"{label}: the daemon wrote no pid file")
        time.sleep(4)
        check(p.poll() is None, f"{label}: heapscope run ended while the daemon ran: {p.poll()}")
        end(p)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            check(False, f"{label}: heapscope run did not pass the signal on to the daemon")
            return
        err = p.stderr.read().decode()
        check(p.returncode == 0, f"{label}: status {p.returncode}, want the launcher's 0")
        if pid is not None:
            check(not alive(pid), f"{label}: the daemon still runs")
            check_followed(env, err, pid, out, label)
    finally:
        kill_quietly(p)
        stop_quietly(pid)


def plain(env, prog, base, label, extra_args):
    """Without --follow: back at once, naming what was left running."""
    out = env.outdir(label)
    pid_file = os.path.join(env.tmp, label + ".pid")
    pid = None
    try:
        started = time.monotonic()
        r = subprocess.run([env.heapscope] + base + ["--out", out, "--", prog, pid_file, "60"] +
                           extra_args, capture_output=True, text=True, timeout=60, env=clean_env(),
                           stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
        pid = read_pid(pid_file)
        check(r.returncode == 0 and r.stdout == "started\n", f"{label}: {r.returncode} {r.stdout!r}")
        check(took < 15, f"{label}: heapscope run waited {took:.1f}s for the daemon without --follow")
        check(pid is not None and alive(pid), f"{label}: the daemon is not running")
        if pid is not None:
            check(f"daemon_service left 1 process running (pid {pid} daemon_service)" in r.stderr,
                  f"{label}: the summary does not name the daemon {pid}: {r.stderr}")
            check(f"heapscope leaks --pid {pid} {out}" in r.stderr,
                  f"{label}: the summary does not say how to see the daemon's leaks: {r.stderr}")
            check("heapscope run --follow" in r.stderr,
                  f"{label}: --follow is not suggested: {r.stderr}")
            check(wait_for(lambda: any(f.startswith(f"heap.{pid}.0002") for f in listdir(out)), 20),
                  f"{label}: the daemon writes no snapshots: {listdir(out)}")
            os.kill(pid, signal.SIGTERM)
            check(wait_for(lambda: os.path.exists(os.path.join(out, f"heap.{pid}.final.pb.gz")), 20),
                  f"{label}: the daemon wrote no final profile: {listdir(out)}")
    finally:
        stop_quietly(pid)


def two(env, prog, base):
    """Two processes left running, one of them not profiled (exec'd without
    LD_PRELOAD): each profiled one gets its own command, the other is said
    not to be profiled."""
    out = env.outdir("two")
    pid_file = os.path.join(env.tmp, "two.pid")
    pid = other = None
    try:
        r = subprocess.run([env.heapscope] + base + ["--out", out, "--", prog, pid_file, "60",
                                                     "two"], capture_output=True, text=True,
                           timeout=60, env=clean_env(), stdin=subprocess.DEVNULL)
        pid = read_pid(pid_file)
        other = read_pid(pid_file + ".2")
        check(r.returncode == 0, f"two: status {r.returncode}: {r.stderr}")
        check(pid is not None and other is not None, "two: the daemons wrote no pid files")
        if pid is not None and other is not None:
            line = next((l for l in r.stderr.splitlines() if " left 2 processes running (" in l), "")
            check(f"pid {pid} daemon_service" in line and f"pid {other} sleep" in line,
                  f"two: the summary does not name both daemons ({pid}, {other}): {r.stderr}")
            check(f"heapscope leaks --pid {pid} {out}" in line,
                  f"two: no leaks command for the profiled daemon: {r.stderr}")
            check(f"--pid {other}" not in r.stderr,
                  f"two: a leaks command for the daemon not profiled: {r.stderr}")
            check(f"pid {other} sleep: not profiled (the runtime is not loaded in it: it was "
                  "started without the runtime in LD_PRELOAD" in r.stderr,
                  f"two: the daemon not profiled is not said to be, and why: {r.stderr}")
    finally:
        stop_quietly(pid)
        stop_quietly(other)


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    base = ["run", "--rate", "1", "--interval", "250ms"]

    plain(env, prog, base, "plain", [])
    # The intermediate process still a zombie with a live thread when the
    # launcher has ended; the daemon comes 100 ms later.
    plain(env, prog, base, "threaded", ["threaded"])
    two(env, prog, base)

    # --follow, ended by SIGTERM sent to heapscope run.
    follow(env, prog, base, "follow", subprocess.DEVNULL, None,
           lambda p: p.send_signal(signal.SIGTERM))

    # --follow from a terminal: Ctrl-C.
    master, slave = os.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    try:
        follow(env, prog, base, "tty", slave, own_terminal, lambda p: os.write(master, b"\x03"),
               close_after_start=slave)
    finally:
        os.close(master)
    finish(env, "test_run_daemons")


if __name__ == "__main__":
    main()
