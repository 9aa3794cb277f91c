"""The live endpoint (HEAPSCOPE_HTTP) of a real program under the runtime,
read by real clients: go tool pprof, curl-like HTTP clients, promtool and a
real Prometheus server; then its hardening: malformed, oversized and slow
requests, the connection cap and the Host check. The program's own output
must stay what it is without the runtime."""
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import (CornerEnv, LineReader, check, fail, finish, free_port, go_pprof_top_url,
                    http_request, kill_quietly, raw_exchange, status_of, wait_serving)

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

env = CornerEnv(sys.argv)
prog = env.args[0]
ARGS = [prog, "alpha", "beta gamma"]
EXPECTED_STDOUT = None


def start(extra, args=ARGS):
    out = env.outdir("http")
    e = {"HEAPSCOPE_RATE": "1", "HEAPSCOPE_HTTP": "127.0.0.1:0", "HEAPSCOPE_FINAL": "0"}
    e.update(extra)
    p = env.spawn(args, out=out, extra=e)
    so, se = LineReader(p.stdout), LineReader(p.stderr)
    return p, so, se


def stop(p, so):
    p.stdin.write(b"quit\n")
    p.stdin.flush()
    p.stdin.close()
    rest = so.rest(timeout=20)
    p.wait(timeout=20)
    return rest


def heap_text_values(text, fn):
    """(inuse_objects, inuse_bytes, alloc_objects, alloc_bytes) summed over
    the debug=1 stacks whose leaf-most named frame is fn."""
    total = [0, 0, 0, 0]
    blocks = text.split("\n\n")
    for b in blocks:
        lines = b.strip().splitlines()
        if not lines:
            continue
        m = re.match(r"(\d+): (\d+) \[(\d+): (\d+)\] @", lines[0])
        if not m:
            continue
        frames = [l.split("\t") for l in lines[1:] if l.startswith("#\t")]
        named = [f[2] for f in frames if len(f) > 2 and f[2] != "?"]
        if named and named[0].startswith(fn):
            for i in range(4):
                total[i] += int(m.group(i + 1))
    return tuple(total)


# --- The uninstrumented run, for comparing output --------------------------
plain = env.plain(ARGS, input="grow\nquit\n")
check(plain.returncode == 0, f"plain run failed: {plain.stderr}")
EXPECTED_STDOUT = plain.stdout

# --- The main run -------------------------------------------------------------
p, so, se = start({})
try:
    check(so.readline() == "ready\n", "the program did not start")
    hp = wait_serving(se)
    if not check(hp is not None, f"no 'serving' line on stderr: {se.seen!r}"):
        fail("endpoint did not start")
    base = f"http://{hp}"

    # go tool pprof reads the heap endpoint and shows the allocating functions.
    rc, text = go_pprof_top_url(env, base + "/debug/pprof/heap")
    check(rc == 0, f"go tool pprof failed on /debug/pprof/heap: {text}")
    check("Type: inuse_space" in text, f"heap default type is not inuse_space:\n{text}")
    for fn in ("RetainSessionState", "RetainCacheEntries"):
        check(fn in text, f"go tool pprof -top of /heap does not show {fn}:\n{text}")

    # /allocs: the same profile with alloc_space as the default.
    rc, text = go_pprof_top_url(env, base + "/debug/pprof/allocs")
    check(rc == 0, f"go tool pprof failed on /debug/pprof/allocs: {text}")
    check("Type: alloc_space" in text, f"allocs default type is not alloc_space:\n{text}")
    check("ChurnRequestBuffers" in text, f"allocs does not show ChurnRequestBuffers:\n{text}")

    # ?debug=1: legacy text, exact at rate 1.
    st, h, body = http_request(hp, "/debug/pprof/heap?debug=1")
    text = body.decode()
    check(st == 200 and text.startswith("heap profile: "), f"debug=1: {st} {text[:200]!r}")
    check(h.get("content-type", "").startswith("text/plain"), f"debug=1 content type {h}")
    v = heap_text_values(text, "RetainSessionState")
    check(v == (256, 256 * 4096, 256, 256 * 4096), f"debug=1 RetainSessionState values {v}")
    v = heap_text_values(text, "RetainCacheEntries")
    check(v == (1024, 1024 * 1024, 1024, 1024 * 1024), f"debug=1 RetainCacheEntries values {v}")
    check("# heapscope" in text and "# Rate = 1" in text, "debug=1 lacks the # heapscope trailer")
    addr = None
    m = re.search(r"^#\t(0x[0-9a-f]+)\tRetainSessionState\+", text, re.M)
    if check(m is not None, "debug=1 has no frame line for RetainSessionState"):
        addr = m.group(1)

    # ?seconds=1: a delta. The program grows RetainCacheEntries by 1024
    # objects during the second; alloc values are that growth, in-use values
    # the current totals.
    result = {}

    def fetch_delta(key, path):
        result[key] = http_request(hp, path, timeout=30)

    t1 = threading.Thread(target=fetch_delta, args=("text", "/debug/pprof/heap?seconds=2&debug=1"))
    t2 = threading.Thread(target=fetch_delta, args=("proto", "/debug/pprof/heap?seconds=2"))
    t0 = time.monotonic()
    t1.start()
    t2.start()
    time.sleep(0.5)
    # Other clients are served while the deltas wait.
    st, _, _ = http_request(hp, "/metrics", timeout=5)
    check(st == 200 and time.monotonic() - t0 < 1.8, "a delta request blocked other clients")
    p.stdin.write(b"grow\n")
    p.stdin.flush()
    check(so.readline() == "grew\n", "program did not grow")
    t1.join(30)
    t2.join(30)
    took = time.monotonic() - t0
    check(1.9 <= took < 10, f"delta over 2 seconds took {took:.2f}s")
    st, _, body = result.get("text", (0, {}, b""))
    text = body.decode()
    check(st == 200, f"delta debug=1 status {st}")
    v = heap_text_values(text, "RetainCacheEntries")
    check(v == (2048, 2048 * 1024, 1024, 1024 * 1024),
          f"delta RetainCacheEntries: want in-use 2048 objects (current) and alloc 1024 (growth), got {v}")
    v = heap_text_values(text, "RetainSessionState")
    check(v == (256, 256 * 4096, 0, 0), f"delta RetainSessionState: want in-use current, alloc 0, got {v}")
    churn = heap_text_values(text, "ChurnRequestBuffers")
    check(churn[0] == 0 and churn[2] > 0, f"delta ChurnRequestBuffers {churn}")
    st, h, body = result.get("proto", (0, {}, b""))
    check(st == 200 and body[:2] == b"\x1f\x8b", f"delta proto: {st}, not gzip")
    check(h.get("content-disposition", "").endswith('"heap-delta"'), f"delta disposition {h}")
    prof = os.path.join(env.tmp, "delta.pb.gz")
    with open(prof, "wb") as f:
        f.write(body)
    t = env.go_pprof_top(prof, "alloc_space")
    check("RetainCacheEntries" in t and "RetainSessionState" not in t,
          f"delta alloc_space should show only what was allocated during it:\n{t}")
    t = env.go_pprof_top(prof, "inuse_space")
    check("RetainSessionState" in t, f"delta inuse_space should be the current in-use:\n{t}")
    check(re.search(r"Duration: 2(\.\d+)?s", t) is not None, f"delta duration:\n{t}")
    st, _, body = http_request(hp, "/debug/pprof/heap?seconds=abc")
    check(st == 400, f"seconds=abc: {st}")

    # /debug/vars: JSON with the figures.
    st, h, body = http_request(hp, "/debug/vars")
    check(st == 200 and h.get("content-type", "").startswith("application/json"), f"vars {st} {h}")
    try:
        vars_ = json.loads(body)
    except ValueError as e:
        vars_ = {}
        check(False, f"/debug/vars is not JSON: {e}: {body[:300]!r}")
    check(vars_.get("cmdline") == ARGS, f"vars cmdline {vars_.get('cmdline')}")
    hs = vars_.get("heapscope", {})
    for k in ("heap_inuse_bytes", "heap_inuse_objects", "heap_allocated_bytes",
              "heap_allocated_objects", "heap_freed_objects", "resident_bytes",
              "resident_peak_bytes", "virtual_bytes", "threads", "open_fds",
              "sample_rate_bytes", "samples", "dropped_samples", "profiler_memory_bytes",
              "record_ns", "uptime_seconds"):
        check(k in hs, f"/debug/vars lacks heapscope.{k}")
    check(hs.get("heap_inuse_bytes", 0) >= 256 * 4096 + 2048 * 1024, f"vars heap_inuse_bytes {hs}")
    check(hs.get("threads", 0) >= 2 and hs.get("open_fds", 0) >= 3, f"vars threads/fds {hs}")
    check(hs.get("resident_bytes", 0) > 0 and hs.get("resident_peak_bytes", 0) >= hs.get("resident_bytes", 0),
          f"vars rss {hs}")
    check(hs.get("sample_rate_bytes") == 1, f"vars rate {hs}")
    check("HeapAlloc" in vars_.get("memstats", {}), "vars lacks memstats.HeapAlloc")

    # /metrics: Prometheus text format, accepted by promtool.
    st, h, body = http_request(hp, "/metrics")
    check(st == 200 and "version=0.0.4" in h.get("content-type", ""), f"metrics {st} {h}")
    metrics = body.decode()
    for name in ("heapscope_heap_inuse_bytes", "heapscope_heap_allocated_bytes_total",
                 "heapscope_process_resident_memory_bytes", "heapscope_process_open_fds",
                 "heapscope_samples_dropped_total", "heapscope_profiler_memory_bytes",
                 "heapscope_record_seconds_total"):
        check(re.search(r"^# TYPE %s " % name, metrics, re.M) is not None, f"metrics lacks {name}")
    # The limits a resource leak runs into, beside the counts that grow
    # towards them: this test's own open-file limit (inherited), the
    # machine's vm.max_map_count, the task limit with the least room.
    def value(pattern):
        m = re.search(r"^%s (\d+)$" % pattern, metrics, re.M)
        return int(m.group(1)) if m else None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY:
        check(value("heapscope_process_max_fds") == soft,
              f"heapscope_process_max_fds {value('heapscope_process_max_fds')}, want {soft}")
    with open("/proc/sys/vm/max_map_count") as f:
        max_map_count = int(f.read())
    mappings = value("heapscope_process_mappings")
    check(value("heapscope_process_max_mappings") == max_map_count and mappings is not None and
          10 < mappings < max_map_count, f"mappings {mappings} of "
          f"{value('heapscope_process_max_mappings')}, want vm.max_map_count {max_map_count}")
    task = re.search(r'^heapscope_task_limit\{source="(cgroup_v1|cgroup_v2|system)"\} (\d+)$',
                     metrics, re.M)
    used = value(r'heapscope_task_limit_used\{source="%s"\}' % (task.group(1) if task else ""))
    check(task is not None and used is not None and 0 < used <= int(task.group(2)),
          f"task limit {task and task.groups()}, used {used}")
    if task:
        check(hs.get("task_limit") == int(task.group(2)) and
              hs.get("task_limit_source") == task.group(1) and hs.get("task_limit_used", 0) > 0 and
              hs.get("max_map_count") == max_map_count and hs.get("map_count", 0) > 10,
              f"/debug/vars limits: {hs}")
    promtool = shutil.which("promtool")
    if check(promtool is not None, "promtool is not installed (apt-get install prometheus)"):
        r = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True,
                           text=True, timeout=60)
        check(r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "",
              f"promtool check metrics: rc {r.returncode}: {r.stdout} {r.stderr}")
        docs = os.path.join(REPO, "docs", "prometheus")
        rules = [os.path.join(docs, f) for f in os.listdir(docs)
                 if "rules" in f and not f.endswith(".test.yml")]
        r = subprocess.run([promtool, "check", "rules"] + rules, capture_output=True, text=True,
                           timeout=60)
        check(rules and r.returncode == 0, f"promtool check rules: {r.stdout} {r.stderr}")
        # The rules' own unit tests: synthetic series, the alerts they must
        # and must not raise (the cgroup limit's predict_linear among them).
        tests = [f for f in os.listdir(docs) if f.endswith(".test.yml")]
        r = subprocess.run([promtool, "test", "rules"] + tests, capture_output=True, text=True,
                           timeout=60, cwd=docs)
        check(tests and r.returncode == 0, f"promtool test rules: {r.stdout} {r.stderr}")

    # A real Prometheus server scrapes it.
    prom = shutil.which("prometheus")
    if check(prom is not None, "prometheus is not installed (apt-get install prometheus)"):
        pdir = tempfile.mkdtemp(prefix="hs-prom-", dir=env.tmp)
        cfg = os.path.join(pdir, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: heapscope\n"
                    f"    static_configs:\n      - targets: ['{hp}']\n")
        pport = free_port()
        pp = subprocess.Popen([prom, "--config.file=" + cfg, "--storage.tsdb.path=" + pdir + "/data",
                               f"--web.listen-address=127.0.0.1:{pport}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            got = None
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and got is None:
                time.sleep(1)
                try:
                    st, _, body = http_request(f"127.0.0.1:{pport}",
                                               "/api/v1/query?query=heapscope_heap_inuse_bytes",
                                               timeout=5)
                except OSError:
                    continue
                if st == 200:
                    res = json.loads(body).get("data", {}).get("result", [])
                    if res:
                        got = res
            check(got is not None and float(got[0]["value"][1]) > 0,
                  f"Prometheus did not scrape heapscope_heap_inuse_bytes: {got}")
            st, _, body = http_request(f"127.0.0.1:{pport}", "/api/v1/targets", timeout=5)
            check(st == 200 and b'"health":"up"' in body, f"Prometheus target not up: {body[:500]!r}")
        finally:
            pp.send_signal(signal.SIGTERM)
            try:
                pp.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pp.kill()
                pp.wait()

    # cmdline, symbol, index.
    st, _, body = http_request(hp, "/debug/pprof/cmdline")
    check(st == 200 and body == "\0".join(ARGS).encode(), f"cmdline: {body!r}")
    st, _, body = http_request(hp, "/debug/pprof/symbol")
    check(st == 200 and body == b"num_symbols: 1\n", f"symbol GET: {body!r}")
    if addr:
        st, _, body = http_request(hp, "/debug/pprof/symbol", method="POST",
                                   body=(addr + "+0x1+junk").encode())
        lines = body.decode().splitlines()
        check(st == 200 and lines[0] == "num_symbols: 1" and f"{addr} RetainSessionState" in lines,
              f"symbol POST {addr}: {body!r}")
    st, h, body = http_request(hp, "/debug/pprof/")
    check(st == 200 and b"href='heap?debug=1'" in body and b"allocs" in body and
          h.get("content-type", "").startswith("text/html"), f"index: {st} {body[:200]!r}")

    # --- Hardening ----------------------------------------------------------
    def expect(req, want, label, **kw):
        out, took = raw_exchange(hp, req, **kw)
        check(status_of(out) == want, f"{label}: want {want}, got {out[:120]!r}")
        return took

    expect(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400, "TLS/garbage")
    expect(b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 404, "unknown path")
    expect(b"DELETE /debug/pprof/heap HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405, "DELETE")
    expect(b"GET /debug/pprof/heap HTTP/1.1\r\n\r\n", 400, "no Host")
    expect(b"GET /debug/pprof/heap HTTP/1.1\r\nHost: evil.example:80\r\n\r\n", 403, "rebinding Host")
    expect(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n", 431, "huge header")
    expect(b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 100 + b"\r\n", 431, "many headers")
    expect(b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n\r\n"
           + b"0" * 100000, 413, "huge body")
    expect(b"POST /debug/pprof/symbol HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n",
           411, "chunked")
    expect(b"GET /metrics HTTP/3.0\r\nHost: x\r\n\r\n", 505, "HTTP/3")
    expect(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", 404, "root")
    # Slow clients: one that never finishes is cut off after the timeout,
    # and others are served meanwhile.
    slow = {}

    def slowloris():
        slow["r"] = raw_exchange(hp, b"GET /metrics HTTP/1.1\r\nHost: x\r\n", timeout=20)

    ts = threading.Thread(target=slowloris)
    ts.start()
    time.sleep(0.3)
    st, _, _ = http_request(hp, "/metrics", timeout=3)
    check(st == 200, "a slow client blocked others")
    ts.join(30)
    out, took = slow.get("r", (b"", 99))
    check(status_of(out) == 408 and 4 <= took <= 8, f"slow client: {out[:80]!r} after {took:.1f}s")
    took = expect([b"GET /met", b"rics HTTP/1.1\r\nHo", b"st: localhost\r\n\r\n"], 200, "split request", pause=0.2)
    # The connection cap: 8 idle clients hold every slot; the 9th is told 503.
    import socket as so_mod
    idle = [so_mod.create_connection(tuple([hp.rsplit(":", 1)[0], int(hp.rsplit(":", 1)[1])]))
            for _ in range(8)]
    time.sleep(0.3)
    out, _ = raw_exchange(hp, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(status_of(out) == 503, f"9th connection: {out[:80]!r}")
    for s in idle:
        s.close()
    time.sleep(0.3)
    st, _, _ = http_request(hp, "/metrics")
    check(st == 200, "server did not recover after the connection cap")

    got_stdout = "ready\ngrew\n" + stop(p, so)
    check(got_stdout == EXPECTED_STDOUT,
          f"the program's stdout changed: {got_stdout!r} vs {EXPECTED_STDOUT!r}")
    check(p.returncode == 0, f"exit status {p.returncode}")
finally:
    kill_quietly(p)

# --- Tokens ------------------------------------------------------------------
# Beyond loopback without a token: refused with one line, the program runs.
p, so, se = start({"HEAPSCOPE_HTTP": "0.0.0.0:0"})
try:
    check(so.readline() == "ready\n", "program did not start (no token)")
    rest = stop(p, so)
    err = se.rest(timeout=5)
    lines = [l for l in (se.seen.decode()).splitlines() if l.strip()]
    check(len(lines) == 1 and "HEAPSCOPE_TOKEN" in lines[0] and "serving" not in err,
          f"non-loopback bind without token should be refused with one line: {lines}")
    check(p.returncode == 0 and "ready\n" + rest == "ready\ndone 1280\n", f"program output {rest!r}")
finally:
    kill_quietly(p)

# With a token (here on every interface), every request needs it.
TOKEN = "s3cret-t0ken"
p, so, se = start({"HEAPSCOPE_HTTP": "0.0.0.0:0", "HEAPSCOPE_TOKEN": TOKEN})
try:
    check(so.readline() == "ready\n", "program did not start (token)")
    hp = wait_serving(se)
    if check(hp is not None, f"no serving line with token: {se.seen!r}"):
        hp = "127.0.0.1:" + hp.rsplit(":", 1)[1]
        st, h, _ = http_request(hp, "/metrics")
        check(st == 401 and h.get("www-authenticate", "").startswith("Bearer"), f"no auth: {st} {h}")
        st, _, _ = http_request(hp, "/metrics", headers={"Authorization": "Bearer wrong"})
        check(st == 401, f"wrong token: {st}")
        st, _, _ = http_request(hp, "/metrics", headers={"Authorization": "Bearer " + TOKEN[:-1]})
        check(st == 401, f"token prefix: {st}")
        st, _, body = http_request(hp, "/metrics", headers={"Authorization": "Bearer " + TOKEN})
        check(st == 200 and b"heapscope_heap_inuse_bytes" in body, f"bearer: {st}")
        st, _, body = http_request(hp, "/debug/pprof/heap?debug=1&token=" + TOKEN)
        check(st == 200 and body.startswith(b"heap profile:"), f"?token=: {st}")
        rc, text = go_pprof_top_url(env, f"http://{hp}/debug/pprof/heap?token={TOKEN}")
        check(rc == 0 and "RetainSessionState" in text, f"go tool pprof with ?token=: {text}")
    stop(p, so)
finally:
    kill_quietly(p)

# --- Switched on later, by signal ------------------------------------------------
p, so, se = start({"HEAPSCOPE_HTTP_SIGNAL": "USR2"})
try:
    check(so.readline() == "ready\n", "program did not start (signal)")
    time.sleep(0.3)
    check(b"serving" not in se.seen, "endpoint started before the signal")
    p.send_signal(signal.SIGUSR2)
    hp = wait_serving(se)
    if check(hp is not None, f"endpoint did not start on SIGUSR2: {se.seen!r}"):
        st, _, _ = http_request(hp, "/metrics")
        check(st == 200, f"metrics after signal start: {st}")
    rest = stop(p, so)
    check(p.returncode == 0 and rest == "done 1280\n", f"signal run output {rest!r}")
finally:
    kill_quietly(p)

# --- heapscope run --http -------------------------------------------------------
p = env.spawn([env.heapscope, "run", "-q", "--rate", "1", "--out", env.outdir("run"),
               "--http", "127.0.0.1:0", "--"] + ARGS)
so, se = LineReader(p.stdout), LineReader(p.stderr)
try:
    check(so.readline() == "ready\n", "program did not start under heapscope run")
    hp = wait_serving(se)
    if check(hp is not None, f"heapscope run --http: no serving line: {se.seen!r}"):
        rc, text = go_pprof_top_url(env, f"http://{hp}/debug/pprof/heap")
        check(rc == 0 and "RetainCacheEntries" in text, f"run --http heap: {text}")
    rest = stop(p, so)
    check(p.returncode == 0, f"heapscope run exit {p.returncode}")
finally:
    kill_quietly(p)

finish(env, "test_http")
