"""`heapscope run` as a transparent wrapper: stdin, stdout and the
program's own stderr pass through; the exit status passes through (7 ->
7); a program killed by SIGKILL makes `heapscope run` report it and die of
SIGKILL too (status -9 to Python, 137 to a shell), its summary taken from
the newest periodic snapshot when there is no final profile; SIGTERM, SIGINT and
SIGHUP sent to `heapscope run` itself reach the program, which writes its
final profile and dies of the signal, and so does the wrapper. Failures of
the wrapper itself are one clear line: a program that does not exist
(status 127, nothing created) and bad options (status 2). Profiles go to
the output directory as named where `heapscope run` started, also when
the program changes its working directory. A statically linked program,
which the runtime cannot be preloaded into, still runs and passes its
status through, with a warning before and a plain account after (no
profile, and why) instead of a file error; so does a set-user-ID program
that the loader runs in secure-execution mode. Processes the program starts
(here a shell's child) are named in the summary with their totals and
files. Partial files of writers that are gone (killed while writing) are
removed at the end."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

from hstest import CornerEnv, LineReader, check, clean_env, finish, final_path, kill_quietly


def one_line(r, label, *words):
    lines = r.stderr.splitlines()
    check(len(lines) == 1, f"{label}: expected one line on stderr, got {r.stderr!r}")
    for w in words:
        check(w in r.stderr, f"{label}: stderr does not mention {w!r}: {r.stderr!r}")


def setuid_program(env, hs, run_child):
    d = tempfile.mkdtemp(dir=env.tmp)
    os.chmod(env.tmp, 0o711)  # the program, as uid 65534, must reach d
    os.chmod(d, 0o777)
    prog = os.path.join(d, "run_child_setuid")
    shutil.copy(run_child, prog)
    try:
        os.chown(prog, 65534, 65534)
        os.chmod(prog, 0o4755)
    except PermissionError:
        print("note: cannot make a set-user-ID file here; skipped")
        return
    direct = os.path.join(d, "direct")
    os.mkdir(direct)
    os.chmod(direct, 0o777)
    e = clean_env({"LD_PRELOAD": env.lib, "HEAPSCOPE_OUT": direct})
    subprocess.run([prog, "status", "0"], env=e, capture_output=True, timeout=60)
    loaded = os.listdir(direct) != []
    print(f"set-user-ID: the loader {'honours' if loaded else 'ignores'} LD_PRELOAD here")
    r = subprocess.run([hs, "run", "--out", os.path.join(d, "out"), "--", prog, "status", "4"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.returncode == 4, f"set-user-ID: status {r.returncode}, want 4: {r.stderr}")
    first = r.stderr.splitlines()[0] if r.stderr else ""
    if loaded:
        check("set-user-ID" not in first, f"set-user-ID: warned, yet it is profiled: {r.stderr!r}")
    else:
        check(first.startswith("heapscope: run: ") and prog in first and "set-user-ID" in first
              and "LD_PRELOAD" in first, f"set-user-ID: no warning before the run: {r.stderr!r}")
        check("no profile written" in r.stderr, f"set-user-ID: summary: {r.stderr!r}")


def main():
    env = CornerEnv(sys.argv)
    run_child, signal_wait, static_child = (os.path.abspath(a) for a in env.args[:3])
    hs = env.heapscope

    # stdin -> program -> stdout, exact profile of what it kept.
    lines = [f"line {i} " + "x" * (i % 50) + "\n" for i in range(2000)]
    text = "".join(lines)
    plain = env.plain([run_child, "echo"], input=text)
    out = env.outdir("echo")
    r = subprocess.run([hs, "run", "--rate", "1", "--out", out, "--", run_child, "echo"],
                       env=clean_env(), input=text, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"echo: status {r.returncode}: {r.stderr}")
    check(r.stdout == plain.stdout, "echo: stdout differs from the program's own")
    check("every allocation recorded" in r.stderr, f"echo: no summary: {r.stderr}")
    kept = sum(len(s) + 1 for s in lines)
    env.check_exact(final_path(out), {"EchoKeep": (kept, kept, len(lines), len(lines))}, "echo")

    # The program's own stderr comes first, then the summary.
    r = subprocess.run([hs, "run", "--out", env.outdir("stderr"), "--", run_child, "stderr"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and r.stdout == "to stdout\n", f"stderr mode: {r.returncode} {r.stdout!r}")
    check(r.stderr.startswith("to stderr\n"), f"the program's stderr was not passed first: {r.stderr!r}")

    # Exit status, and the default output directory ./heapscope-PROGRAM-PID.
    cwd = tempfile.mkdtemp(dir=env.tmp)
    r = subprocess.run([hs, "run", "--", run_child, "status", "7"], env=clean_env(), cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 7, f"status 7: heapscope run exited {r.returncode}: {r.stderr}")
    check("exited with status 7" in r.stderr, f"status 7: summary does not say so: {r.stderr}")
    dirs = glob.glob(os.path.join(cwd, "heapscope-run_child-*"))
    check(len(dirs) == 1 and os.path.exists(final_path(dirs[0]) if dirs else ""),
          f"status 7: no ./heapscope-run_child-PID/heap.final.pb.gz: {os.listdir(cwd)}")
    if dirs:
        check(dirs[0].rsplit("-", 1)[1].isdigit(), f"status 7: directory without a pid: {dirs}")
        env.go_pprof_top(final_path(dirs[0]))

    # A program that changes its working directory (as daemons do): the
    # profiles still go to --out (or the default directory) as the user
    # named it, relative to where `heapscope run` was started, and the
    # summary finds them there.
    for args, pattern in ((["--out", "rel-out"], "rel-out"), ([], "heapscope-run_child-*")):
        cwd = tempfile.mkdtemp(dir=env.tmp)
        elsewhere = tempfile.mkdtemp(dir=env.tmp)
        r = subprocess.run([hs, "run", "--rate", "1"] + args + ["--", run_child, "chdir", elsewhere],
                           env=clean_env(), cwd=cwd, capture_output=True, text=True, timeout=60)
        label = "chdir " + (" ".join(args) or "(default --out)")
        check(r.returncode == 0 and r.stdout == f"working in {elsewhere}\n",
              f"{label}: status {r.returncode}, output {r.stdout!r}")
        found = glob.glob(os.path.join(cwd, pattern, "heap.final.pb.gz"))
        stray = glob.glob(os.path.join(elsewhere, "**", "*.pb.gz"), recursive=True)
        check(len(found) == 1, f"{label}: no {pattern}/heap.final.pb.gz under the directory "
                               f"heapscope run was started in; profiles went to {stray}")
        check("no final profile" not in r.stderr, f"{label}: the summary did not find the profile: "
                                                  f"{r.stderr.strip()!r}")
        if found:
            env.check_exact(found[0], {"AfterChdir": (8888, 8888, 2, 2)}, label)

    # Killed by SIGKILL: reported, and the wrapper dies of it as well.
    r = subprocess.run([hs, "run", "--out", env.outdir("kill9"), "--", run_child, "kill9"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.returncode == -signal.SIGKILL, f"kill9: heapscope run status {r.returncode}, want -9")
    check(r.stdout == "about to die\n", f"kill9: stdout {r.stdout!r}")
    check("killed by signal 9" in r.stderr, f"kill9: summary does not report the signal: {r.stderr}")
    r = subprocess.run(["sh", "-c", '"$@"; echo "status $?"', "sh", hs, "run", "--out",
                        env.outdir("kill9-sh"), "--", run_child, "kill9"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.stdout.endswith("status 137\n"), f"kill9: a shell sees {r.stdout!r}, want 137")

    # Killed after periodic snapshots: no final profile, so the summary
    # tells from the newest snapshot, and says so.
    r = subprocess.run([hs, "run", "--rate", "1", "--interval", "100ms", "--out",
                        env.outdir("kill9-late"), "--", run_child, "kill9-late"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.returncode == -signal.SIGKILL, f"kill9-late: status {r.returncode}, want -9")
    check(re.search(r"no final profile \(killed by SIGKILL, which runs no exit handler\): "
                    r"figures from the last snapshot, heap\.\d{4}\.pb\.gz",
                    r.stderr) is not None and "in use at the last snapshot" in r.stderr,
          f"kill9-late: the summary does not fall back to the last snapshot: {r.stderr}")
    kept = [l for l in r.stderr.splitlines() if "KeptBeforeKill" in l]
    check(len(kept) == 1 and re.match(r"^\s+8\.79kB\s.*\s3 objs\s+KeptBeforeKill", kept[0]),
          f"kill9-late: KeptBeforeKill (3 x 3000 bytes) not among the leading stacks: {r.stderr}")

    # Partial files (*.pb.gz.tmp) of processes killed while writing are
    # removed once their writer is gone: the program's own (no pid in the
    # name) once it has ended, another process's once its pid is gone.
    out = env.outdir("partials")
    os.makedirs(out)
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = ["heap.0042.pb.gz.tmp", f"heap.{gone.pid}.0001.pb.gz.tmp",
             f"fds.{gone.pid}.final.pb.gz.tmp"]
    kept = [f"heap.{os.getpid()}.0001.pb.gz.tmp", "notes.tmp"]
    for name in stale + kept:
        open(os.path.join(out, name), "w").close()
    r = subprocess.run([hs, "run", "--out", out, "--", run_child, "status", "0"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    left = sorted(os.listdir(out))
    check(r.returncode == 0, f"partials: status {r.returncode}: {r.stderr}")
    check(not [n for n in stale if n in left], f"partials: stale files kept: {left}")
    check(all(n in left for n in kept), f"partials: a file of a live process removed: {left}")
    check("removed 3 partial files left by processes ended while writing" in r.stderr,
          f"partials: the summary does not say what it removed: {r.stderr}")

    # Signals sent to the wrapper reach the program.
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        name = signal.Signals(sig).name
        out = env.outdir("forward-" + name)
        p = subprocess.Popen([hs, "run", "--rate", "1", "--out", out, "--", signal_wait, "pause"],
                             env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            rd = LineReader(p.stdout)
            check(rd.readline() == "ready\n", f"{name}: no ready line through heapscope run")
            os.kill(p.pid, sig)
            p.wait(timeout=30)
            err = p.stderr.read().decode()
            check(p.returncode == -sig, f"{name}: heapscope run status {p.returncode}, want {-sig}")
            check(f"killed by signal {int(sig)}" in err, f"{name}: summary: {err}")
            env.check_exact(final_path(out), {"KnownAlloc": (21000, 21000, 7, 7)},
                            f"{name} forwarded")
        finally:
            kill_quietly(p)

    # Processes the program starts write their own files, and the summary
    # names them with their totals (a shell script, a compiler driver...).
    out = env.outdir("children")
    r = subprocess.run([hs, "run", "--rate", "1", "--out", out, "--", "sh", "-c",
                        f"printf 'abc\\n' | {run_child} echo > /dev/null"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"children: status {r.returncode}: {r.stderr}")
    check("started by the program wrote profiles too" in r.stderr,
          f"children: the summary does not name the child processes: {r.stderr!r}")
    rows = re.findall(r"^  pid (\d+) run_child: in use at exit \S+ in [\d,]+ objects?, peak \S+, "
                      r"allocated \S+  \((heap\.\d+\.final\.pb\.gz)\)$", r.stderr, re.M)
    check(len(rows) == 1, f"children: no one row for run_child: {r.stderr!r}")
    if rows:
        pid, name = rows[0]
        check(name == f"heap.{pid}.final.pb.gz" and os.path.exists(os.path.join(out, name)),
              f"children: row names {name} for pid {pid}: {os.listdir(out)}")
        env.check_exact(os.path.join(out, name), {"EchoKeep": (5, 5, 1, 1)}, "children")
    # Children with no sampled allocation (--rate 1G: none is) are only
    # counted, by program.
    r = subprocess.run([hs, "run", "--rate", "1G", "--out", env.outdir("children-empty"), "--",
                        "sh", "-c", f"/bin/true; /bin/true; {run_child} status 0"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check(re.search(r"^  3 with no sampled allocation \((true x2, run_child|run_child, true x2)\)$",
                    r.stderr, re.M) is not None and "  pid " not in r.stderr,
          f"children-empty: not counted by program: {r.stderr!r}")

    # A statically linked program runs unprofiled, and says so.
    out = env.outdir("static")
    r = subprocess.run([hs, "run", "--out", out, "--", static_child, "5"], env=clean_env(),
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 5, f"static: status {r.returncode}, want 5: {r.stderr}")
    check(r.stdout == "static child ran\n", f"static: stdout {r.stdout!r}")
    first = r.stderr.splitlines()[0] if r.stderr else ""
    check(first.startswith("heapscope: run: ") and "statically linked" in first
          and static_child in first, f"static: no warning before the run: {r.stderr!r}")
    check("no profile written" in r.stderr and "never started" in r.stderr,
          f"static: the summary does not say why there is no profile: {r.stderr!r}")
    check("no final profile" not in r.stderr, f"static: a file error instead: {r.stderr!r}")
    check(not os.path.exists(out), f"static: {out} was created")
    # A Go program (Go's own `go` command, from the golang-go the test
    # command installs): warned that only cgo allocations are seen and that
    # Go exits past C's exit handlers.
    go = shutil.which("go")
    if check(go is not None, "go is not installed: the README's test command installs golang-go"):
        r = subprocess.run([hs, "run", "--out", env.outdir("go"), "--", go, "version"],
                           env=clean_env({"HOME": env.tmp}), capture_output=True, text=True,
                           timeout=60)
        first = r.stderr.splitlines()[0] if r.stderr else ""
        check(r.returncode == 0 and r.stdout.startswith("go version"), f"go: {r}")
        check(first.startswith("heapscope: run: ") and "is a Go program" in first,
              f"go: no warning before the run: {r.stderr!r}")
    # A dynamically linked program gets no such warning.
    r = subprocess.run([hs, "run", "--out", env.outdir("dynamic"), "--", run_child, "status", "0"],
                       env=clean_env(), capture_output=True, text=True, timeout=60)
    check("statically linked" not in r.stderr and "Go program" not in r.stderr,
          f"dynamic: warned as static or Go: {r.stderr!r}")

    # A set-user-ID program owned by another user runs in secure-execution
    # mode: the loader ignores LD_PRELOAD. Whether it does here (a nosuid
    # mount, a container without setuid) is found out first, by preloading
    # the runtime into it directly; the warning must match.
    setuid_program(env, hs, run_child)

    # The wrapper's own failures.
    cwd = tempfile.mkdtemp(dir=env.tmp)
    r = subprocess.run([hs, "run", "--", "/nonexistent"], env=clean_env(), cwd=cwd,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 127, f"/nonexistent: status {r.returncode}, want 127")
    one_line(r, "/nonexistent", "/nonexistent", "No such file")
    check(os.listdir(cwd) == [], f"/nonexistent: created {os.listdir(cwd)}")
    for args, word in ((["--rate", "abc"], "--rate"), (["--interval", "soon"], "--interval"),
                       (["--keep", "many"], "--keep")):
        r = subprocess.run([hs, "run"] + args + ["--", run_child, "status", "0"], env=clean_env(),
                           cwd=cwd, capture_output=True, text=True, timeout=60)
        check(r.returncode == 2, f"{args}: status {r.returncode}, want 2")
        one_line(r, " ".join(args), word, args[1])
        check(r.stdout == "", f"{args}: the program ran: {r.stdout!r}")
    finish(env, "test_run_passthrough")


if __name__ == "__main__":
    main()
