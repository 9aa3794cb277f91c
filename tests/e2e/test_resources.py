"""Resources besides the heap: a program holds known numbers of file
descriptors (files, sockets, pipes, stdio streams, directory streams,
eventfd and friends), parked threads and anonymous mappings (one partially
unmapped, one moved by mremap), each made by its own function, some made
and released again. The fds/threadcreate/mmap profiles, in files and over
the live endpoint, must count them exactly per creating function; Go's
pprof must read them; descriptors must be right across fork and across
exec with O_CLOEXEC."""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import (CornerEnv, LineReader, check, finish, http_request, kill_quietly,
                    listdir, short_name, wait_serving)

KIB = 1024
# Descriptors held, by creating function.
FDS = {"OpenFiles": 3, "OpenSockets": 2, "MakeSocketPair": 2, "MakePipes": 4, "OpenStreams": 2,
       "OpenDirs": 2, "DupFds": 2, "MakeEventFds": 6, "Hold": 2, "[inherited]": 3}
# Kinds per creating function (label kind=...).
KINDS = {"OpenFiles": {"file": 3}, "OpenSockets": {"socket": 2}, "MakeSocketPair": {"socket": 2},
         "MakePipes": {"pipe": 4}, "OpenStreams": {"stdio": 2}, "OpenDirs": {"dir": 2},
         "DupFds": {"pipe": 2},  # duplicates of stdin, a pipe from this script
         "MakeEventFds": {"eventfd": 1, "timerfd": 1, "epoll": 1, "inotify": 1, "memfd": 1,
                          "signalfd": 1}}
# 4 x 64 KiB, 1 MiB less 256 KiB from its middle (two ranges), 64 KiB grown to 128 KiB.
MAPPINGS = {"MapAnon": 7}
MAPPED = {"MapAnon": 4 * 64 * KIB + 768 * KIB + 128 * KIB}


def flat(env, profile, sample):
    """{short function name: flat value} (leaf functions)."""
    out = {}
    for fn, v in env.top(profile, sample).items():
        out[short_name(fn)] = out.get(short_name(fn), 0) + v
    return {k: v for k, v in out.items() if v}


def go_tags(env, profile, focus):
    """{label key: {value: count}} of the samples through `focus`, from go
    tool pprof -tags."""
    cmd = [env.go, "tool", "pprof", "-tags", "-focus=^" + re.escape(focus) + "$", profile]
    e = dict(os.environ, HOME=env.tmp, PPROF_TMPDIR=env.tmp)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e)
    check(r.returncode == 0, f"go tool pprof -tags failed on {profile}: {r.stderr}")
    tags, key = {}, None
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*(\w+): Total (\d+)", line)
        if m:
            key = m.group(1)
            tags[key] = {}
            continue
        m = re.match(r"^\s+([\d.]+) \(\s*[\d.]+%\): (.+)$", line)
        if m and key:
            tags[key][m.group(2).strip()] = int(float(m.group(1)))
    return tags


def check_fds(env, profile, label):
    got = flat(env, profile, "fds")
    check(got == FDS, f"{label}: fds per function {got}, want {FDS}")
    for fn, kinds in KINDS.items():
        tags = go_tags(env, profile, fn)
        check(tags.get("kind") == kinds, f"{label}: {fn} kinds {tags.get('kind')}, want {kinds}")


def check_mmap(env, profile, label):
    check(flat(env, profile, "mappings") == MAPPINGS,
          f"{label}: mappings {flat(env, profile, 'mappings')}, want {MAPPINGS}")
    check(flat(env, profile, "space") == MAPPED,
          f"{label}: mapped bytes {flat(env, profile, 'space')}, want {MAPPED}")


def fetch(env, hostport, name):
    status, headers, body = http_request(hostport, "/debug/pprof/" + name)
    check(status == 200, f"/debug/pprof/{name}: status {status}")
    path = os.path.join(env.tmp, name + ".live.pb.gz")
    with open(path, "wb") as f:
        f.write(body)
    return path


def hold(env, prog):
    out = env.outdir("hold")
    proc = env.spawn([prog, "hold"], out, {"HEAPSCOPE_HTTP": "127.0.0.1:0"})
    try:
        stdout, stderr = LineReader(proc.stdout), LineReader(proc.stderr)
        line = stdout.readline(timeout=30)
        if not check(line and line.startswith("ready"), f"hold: no ready line: {line!r}"):
            return
        hostport = wait_serving(stderr)
        if not check(hostport, f"hold: the endpoint did not start: {stderr.seen!r}"):
            return
        status, _, index = http_request(hostport, "/debug/pprof/")
        for name in ("fds", "threadcreate", "mmap"):
            check(f"href='{name}'" in index.decode(), f"the index page does not list {name}")
        live = fetch(env, hostport, "fds")
        check_fds(env, live, "endpoint")
        env.go_pprof_top(live)
        threads = fetch(env, hostport, "threadcreate")
        got = flat(env, threads, "threads")
        check(got == {"StartParkedThreads": 3}, f"endpoint: threads {got}")
        tags = go_tags(env, threads, "StartParkedThreads")
        check(tags.get("state") == {"sleeping": 3}, f"endpoint: thread states {tags.get('state')}")
        check(tags.get("thread_name") == {"resource_holder": 3},
              f"endpoint: thread names {tags.get('thread_name')}")
        check(len(tags.get("tid", {})) == 3, f"endpoint: thread ids {tags.get('tid')}")
        check_mmap(env, fetch(env, hostport, "mmap"), "endpoint")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        rest = stdout.rest(timeout=30)
        check(proc.wait(timeout=30) == 0, f"hold: exit status {proc.returncode}")
        check("done" in rest, f"hold: did not finish: {rest!r}")
    finally:
        kill_quietly(proc)
    files = listdir(out)
    for f in ("fds.final.pb.gz", "threadcreate.final.pb.gz", "mmap.final.pb.gz"):
        check(f in files, f"hold: {f} was not written: {files}")
    final = os.path.join(out, "fds.final.pb.gz")
    check_fds(env, final, "fds.final")
    check_mmap(env, os.path.join(out, "mmap.final.pb.gz"), "mmap.final")
    # Every thread was joined before the end.
    threads = os.path.join(out, "threadcreate.final.pb.gz")
    check(flat(env, threads, "threads") == {}, f"threadcreate.final: {flat(env, threads, 'threads')}")
    env.go_pprof_top(threads)
    env.go_pprof_top(os.path.join(out, "mmap.final.pb.gz"), "space")


def snapshots(env, prog):
    """Numbered resource snapshots follow the heap's numbering and keep-N."""
    out = env.outdir("snapshots")
    proc = env.spawn([prog, "hold"], out, {"HEAPSCOPE_INTERVAL": "50ms", "HEAPSCOPE_KEEP": "2"})
    try:
        stdout = LineReader(proc.stdout)
        check((stdout.readline(timeout=30) or "").startswith("ready"), "snapshots: no ready line")
        import time
        time.sleep(0.6)
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        check(proc.wait(timeout=30) == 0, f"snapshots: exit status {proc.returncode}")
    finally:
        kill_quietly(proc)
    files = listdir(out)
    heap = sorted(f for f in files if re.match(r"heap\.\d{4}\.pb\.gz$", f))
    for stem in ("fds", "threadcreate", "mmap"):
        mine = sorted(f for f in files if re.match(stem + r"\.\d{4}\.pb\.gz$", f))
        check([m.split(".")[1] for m in mine] == [h.split(".")[1] for h in heap],
              f"snapshots: {stem} files {mine} do not match the heap's {heap}")
    check(len(heap) == 2, f"snapshots: KEEP=2 left {heap}")


def fork_exec(env, prog):
    out = env.outdir("fork-exec")
    r = env.preload_input([prog, "fork-exec"], out, input="")
    check(r.returncode == 0, f"fork-exec: exit status {r.returncode}: {r.stderr}")
    m = re.search(r"children (\d+) (\d+)", r.stdout)
    leaf = re.search(r"leaf fds=(\d+) kept=(\d) cloexec=(\d)", r.stdout)
    if not check(m and leaf, f"fork-exec: output {r.stdout!r}"):
        return
    plain, execd = m.group(1), m.group(2)
    check(leaf.group(2) == "1" and leaf.group(3) == "0", f"fork-exec: leaf saw {leaf.group(0)}")
    want = {"OpenKept": 1, "OpenCloexec": 1, "[inherited]": 3}
    got = flat(env, os.path.join(out, "fds.final.pb.gz"), "fds")
    check(got == want, f"fork-exec: parent fds {got}, want {want}")
    # A forked child holds what it inherited, made where the parent made it.
    got = flat(env, os.path.join(out, f"fds.{plain}.final.pb.gz"), "fds")
    check(got == want, f"fork-exec: forked child fds {got}, want {want}")
    # After exec: the O_CLOEXEC one is gone; stdin, stdout, stderr and the
    # plain one are inherited (the runtime's own descriptors never count).
    got = flat(env, os.path.join(out, f"fds.{execd}.final.pb.gz"), "fds")
    check(got == {"[inherited]": 4}, f"fork-exec: exec'd program fds {got}, want 4 inherited")


def switched_off(env, prog):
    out = env.outdir("off")
    r = env.preload_input([prog, "hold"], out, {"HEAPSCOPE_RESOURCES": "0"}, input="go\n")
    check(r.returncode == 0, f"HEAPSCOPE_RESOURCES=0: exit status {r.returncode}: {r.stderr}")
    check(listdir(out) == ["heap.final.pb.gz"], f"HEAPSCOPE_RESOURCES=0 wrote {listdir(out)}")


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    plain = env.plain([prog, "hold"], input="go\n")
    check(plain.returncode == 0, f"hold without the runtime: status {plain.returncode}")
    hold(env, prog)
    snapshots(env, prog)
    fork_exec(env, prog)
    switched_off(env, prog)
    finish(env, "resources")


if __name__ == "__main__":
    main()
