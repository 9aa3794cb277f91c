"""A Go program whose C code leaks (tests/go/cgoleak, built here with the
go command the test command installs), under `heapscope run`: the run
warns that only cgo allocations are seen, the program's output and status
are its own, the leak is the growing suspect, found in the C function
cgo made for it, and the frame where Go called into C
(runtime.asmcgocall, assembly) carries no file and line of a C file: the
binary's .debug_aranges covers its C code alone, and libdw answered for
the assembly with the nearest row of a C file (gcc_mmap.c:37).

Usage: test_go_cgo.py HEAPSCOPE LIBHEAPSCOPE GO_SOURCE_DIR"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import CornerEnv, check, clean_env, fail, finish


def main():
    env = CornerEnv(sys.argv)
    src = os.path.abspath(env.args[0])
    go = shutil.which("go")
    if go is None:
        fail("go is not installed: the README's test command installs golang-go")
    work = env.outdir("go")
    os.makedirs(work)
    goenv = dict(os.environ, GOCACHE=os.path.join(work, "cache"), GOPATH=os.path.join(work, "path"),
                 GOFLAGS="-mod=mod", GO111MODULE="on", GOPROXY="off", HOME=work, CGO_ENABLED="1")
    binary = os.path.join(work, "cgoleak")
    r = subprocess.run([go, "build", "-o", binary, "."], cwd=src, env=goenv, capture_output=True,
                       text=True, timeout=300)
    if not check(r.returncode == 0, f"go build cgoleak: {r.stderr}"):
        finish(env, "test_go_cgo")
        return
    out = env.outdir("run")
    r = subprocess.run([env.heapscope, "run", "--interval", "500ms", "--out", out, "--", binary],
                       env=clean_env({"XDG_CACHE_HOME": os.path.join(work, "xdg")}),
                       capture_output=True, text=True, timeout=120)
    check(r.returncode == 0 and r.stdout == "done 300\n", f"cgoleak: {r.returncode} {r.stdout!r}")
    lines = r.stderr.splitlines()
    check(lines and "is a Go program" in lines[0], f"no warning that it is a Go program: {lines[:1]}")
    m = re.search(r"^heapscope:  1\. heap \+.*\n((?:heapscope:       .*\n)+)", r.stderr, re.M)
    if check(m is not None, f"no growing heap suspect: {r.stderr}"):
        frames = [l.split(None, 2)[1:] for l in m.group(1).splitlines()]
        names = [f[0] for f in frames]
        check(names and re.fullmatch(r"_cgo_\w+_Cfunc_leak", names[0]) is not None,
              f"the suspect's leaf is not cgo's function for leak: {names}")
        asm = [f for f in frames if f[0].startswith("runtime.asmcgocall")]
        check(asm and (len(asm[0]) == 1 or ".c:" not in asm[0][1]),
              f"runtime.asmcgocall given a C file's line: {asm}")
    finish(env, "test_go_cgo")


if __name__ == "__main__":
    main()
