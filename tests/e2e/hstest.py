"""Helpers for heapscope's end-to-end tests: run real programs under the
runtime and read what they wrote with heapscope and with Go's pprof."""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Env:
    def __init__(self, argv):
        # argv: heapscope binary, runtime library, then test-specific args
        self.heapscope = os.path.abspath(argv[1])
        self.lib = os.path.abspath(argv[2])
        self.args = argv[3:]
        self.tmp = tempfile.mkdtemp(prefix="hs-e2e-")
        self.go = shutil.which("go")

    def cleanup(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def outdir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        return d

    def preload(self, cmd, out, extra=None, **kw):
        env = dict(os.environ)
        env["LD_PRELOAD"] = self.lib
        env["HEAPSCOPE_OUT"] = out
        env.update(extra or {})
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=kw.get("timeout", 120))

    def run(self, args, **kw):
        return subprocess.run([self.heapscope] + args, capture_output=True, text=True,
                              timeout=kw.get("timeout", 120), env=kw.get("env"))

    def top(self, profile, sample):
        """Flat value per function, from `heapscope top --format json`."""
        r = self.run(["top", "--format", "json", "--sample", sample, "-n", "100000", profile])
        check(r.returncode == 0, f"heapscope top failed: {r.stderr}")
        data = json.loads(r.stdout)
        return {row["function"]: row["flat"] for row in data["rows"]}

    def go_pprof(self, args, profile):
        """`go tool pprof ARGS PROFILE`, which must succeed; its stdout."""
        if not self.go:
            fail("go is not installed: the README's test command installs golang-go")
        env = dict(os.environ)
        env.setdefault("HOME", self.tmp)
        env["PPROF_TMPDIR"] = self.tmp
        r = subprocess.run([self.go, "tool", "pprof"] + args + [profile], capture_output=True,
                           text=True, timeout=120, env=env)
        check(r.returncode == 0, f"go tool pprof {' '.join(args)} failed on {profile}: {r.stderr}")
        return r.stdout

    def go_pprof_top(self, profile, sample=None):
        """Go's own pprof must read every profile; returns its -top text."""
        args = ["-top", "-nodefraction=0", "-edgefraction=0"]
        if sample:
            args.append("-sample_index=" + sample)
        return self.go_pprof(args, profile)


failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg, flush=True)
    return cond


def fail(msg):
    print("FAIL:", msg, flush=True)
    sys.exit(1)


def finish(env, name):
    env.cleanup()
    if failures:
        print(f"{name}: {len(failures)} check(s) failed")
        sys.exit(1)
    print(f"{name}: all checks passed")


# ---------------------------------------------------------------------------
# Helpers for the runtime's hard corners (signals, fork, snapshots, ...).

HEAP_TYPES = ("inuse_space", "alloc_space", "inuse_objects", "alloc_objects")


def short_name(fn):
    """`Foo(int)` -> `Foo`; `ns::Foo()` -> `ns::Foo`."""
    return fn.split("(")[0]


def find_tcmalloc():
    """gperftools' libtcmalloc (scripts/install-deps.sh test installs it)."""
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"):
        for n in ("libtcmalloc.so.4", "libtcmalloc_minimal.so.4"):
            p = os.path.join(d, n)
            if os.path.exists(p):
                return p
    return None


def clean_env(extra=None):
    """The environment without any runtime: no LD_PRELOAD, no HEAPSCOPE_*."""
    env = {k: v for k, v in os.environ.items()
           if k != "LD_PRELOAD" and not k.startswith("HEAPSCOPE_")}
    env.update(extra or {})
    return env


def wait_for(pred, timeout, step=0.02):
    """Polls pred() until it returns something true or the deadline passes;
    returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(step)


def listdir(d):
    try:
        return sorted(os.listdir(d))
    except FileNotFoundError:
        return []


def numbered_snapshots(d, pid=None):
    """Sequence numbers of heap.NNNN.pb.gz (or heap.PID.NNNN.pb.gz) in d."""
    pat = re.compile(r"heap\.%s(\d{4,})\.pb\.gz$" % (re.escape(str(pid)) + r"\." if pid else ""))
    return sorted(int(m.group(1)) for m in map(pat.match, listdir(d)) if m)


def snapshot_path(d, seq, pid=None):
    mid = f"{pid}." if pid else ""
    return os.path.join(d, f"heap.{mid}{seq:04d}.pb.gz")


def final_path(d, pid=None):
    return os.path.join(d, f"heap.{pid}.final.pb.gz" if pid else "heap.final.pb.gz")


def runtime_comments(pprof_text):
    """key=value pairs of the `heapscope:` comments that go tool pprof -top
    prints in its header."""
    kv = {}
    for line in pprof_text.splitlines():
        if "heapscope:" not in line:
            continue
        for k, v in re.findall(r"(\w+)=(\S+)", line.split("heapscope:", 1)[1]):
            kv[k] = v
    return kv


class LineReader:
    """Reads lines from a child's pipe with a deadline (no blocking read
    that could hang a test)."""

    def __init__(self, f):
        self.fd = f.fileno()
        self.buf = b""
        self.eof = False
        self.seen = b""

    def readline(self, timeout=20):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
                self.seen += chunk
        if b"\n" not in self.buf:
            line, self.buf = self.buf, b""
            return line.decode() if line else None
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode() + "\n"

    def rest(self, timeout=20):
        """Everything up to EOF."""
        deadline = time.monotonic() + timeout
        while not self.eof and time.monotonic() < deadline:
            r, _, _ = select.select([self.fd], [], [], max(0.0, deadline - time.monotonic()))
            if r:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self.eof = True
                self.buf += chunk
                self.seen += chunk
        out, self.buf = self.buf, b""
        return out.decode()


class CornerEnv(Env):
    """Env plus what the hard-corner tests need: plain (uninstrumented)
    runs to compare with, long-lived children, exact per-function values."""

    def preload_env(self, out, extra=None):
        env = clean_env()
        env["LD_PRELOAD"] = self.lib
        env["HEAPSCOPE_OUT"] = out
        env.update(extra or {})
        return env

    def plain(self, cmd, input=None, timeout=60, extra=None):
        """The program without the runtime, for comparing its behaviour."""
        return subprocess.run(cmd, env=clean_env(extra), input=input, capture_output=True,
                              text=True, timeout=timeout)

    def preload_input(self, cmd, out, extra=None, input=None, timeout=60):
        return subprocess.run(cmd, env=self.preload_env(out, extra), input=input,
                              capture_output=True, text=True, timeout=timeout)

    def spawn(self, cmd, out=None, extra=None, env=None):
        """Starts a program (preloaded when out is given) with pipes on all
        three streams."""
        if env is None:
            env = self.preload_env(out, extra) if out is not None else clean_env(extra)
        return subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def values(self, profile, names):
        """{short function name: (inuse_space, alloc_space, inuse_objects,
        alloc_objects)} from the flat view of `heapscope top`, for names."""
        tables = {}
        for s in HEAP_TYPES:
            t = {}
            for fn, v in self.top(profile, s).items():
                t[short_name(fn)] = t.get(short_name(fn), 0) + v
            tables[s] = t
        return {n: tuple(tables[s].get(n, 0) for s in HEAP_TYPES) for n in names}

    def functions(self, profile):
        """Short names of every function in the profile's stacks."""
        return {short_name(fn) for fn in self.top(profile, "alloc_objects")}

    def check_exact(self, profile, expected, label):
        """expected: {function: (inuse_space, alloc_space, inuse_objects,
        alloc_objects)}; also has Go's pprof read the file."""
        if not check(os.path.exists(profile), f"{label}: {profile} was not written"):
            return None
        got = self.values(profile, expected.keys())
        for fn, want in expected.items():
            check(got[fn] == tuple(want), f"{label}: {fn}: got {got[fn]}, want {tuple(want)}")
        text = self.go_pprof_all(profile, "alloc_space")
        for fn in expected:
            if expected[fn][1] > 0:
                check(fn in text, f"{label}: go tool pprof -top does not show {fn}:\n{text}")
        return text

    def go_pprof_all(self, profile, sample=None):
        """Like go_pprof_top, but with no node left out for being small
        (-nodefraction=0), so that any function can be looked for."""
        if not self.go:
            fail("go is not installed: the README's test command installs golang-go")
        cmd = [self.go, "tool", "pprof", "-top", "-nodefraction=0"]
        if sample:
            cmd.append("-sample_index=" + sample)
        cmd.append(profile)
        env = dict(os.environ)
        env.setdefault("HOME", self.tmp)
        env["PPROF_TMPDIR"] = self.tmp
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        check(r.returncode == 0, f"go tool pprof failed on {profile}: {r.stderr}")
        return r.stdout


def kill_quietly(proc):
    """Ends a test's own child if a failed check left it running."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------------------
# Helpers for the live endpoint (HEAPSCOPE_HTTP): real HTTP clients.

import http.client
import socket


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SERVING_RE = re.compile(r"serving http://([^/\s]+)/debug/pprof/")


def wait_serving(stderr_reader, timeout=20):
    """Reads the child's stderr until the runtime says where it serves;
    returns "host:port" or None (with every line seen in .seen)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stderr_reader.readline(timeout=max(0.1, deadline - time.monotonic()))
        if line is None:
            return None
        m = SERVING_RE.search(line)
        if m:
            return m.group(1)
    return None


def http_request(hostport, path, method="GET", body=None, headers=None, timeout=30):
    """(status, {lower-case header: value}, body bytes) from a real HTTP
    client."""
    host, port = hostport.rsplit(":", 1)
    conn = http.client.HTTPConnection(host.strip("[]"), int(port), timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        conn.close()


def raw_exchange(hostport, data, timeout=10, pause=None):
    """Sends raw bytes (a list of chunks with `pause` seconds between them,
    or one bytes object) and returns everything the server sends until it
    closes, with the time it took; b"" if it closed without a reply."""
    host, port = hostport.rsplit(":", 1)
    start = time.monotonic()
    s = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    out = b""
    try:
        chunks = data if isinstance(data, list) else [data]
        for i, c in enumerate(chunks):
            try:
                s.sendall(c)
            except (BrokenPipeError, ConnectionResetError):
                break
            if pause and i + 1 < len(chunks):
                time.sleep(pause)
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                out += b"<timeout>"
                break
            if not b:
                break
            out += b
    finally:
        s.close()
    return out, time.monotonic() - start


def status_of(response):
    """The status code of a raw HTTP response, or 0."""
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", response)
    return int(m.group(1)) if m else 0


def go_pprof_top_url(env, url, sample=None, extra=None):
    """go tool pprof -top on a live URL; returns (returncode, stdout+stderr)."""
    if not env.go:
        fail("go is not installed: the README's test command installs golang-go")
    cmd = [env.go, "tool", "pprof", "-top", "-nodefraction=0", "-edgefraction=0"]
    if sample:
        cmd.append("-sample_index=" + sample)
    cmd += extra or []
    cmd.append(url)
    e = dict(os.environ)
    e.setdefault("HOME", env.tmp)
    e["PPROF_TMPDIR"] = env.tmp
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e)
    return r.returncode, r.stdout + r.stderr
