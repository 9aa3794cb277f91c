"""http(s):// inputs through libcurl. A profile written by the runtime is
served by a local TLS server (python's http.server in an ssl context, with
a self-signed certificate for 127.0.0.1 made here with openssl):
  - `heapscope top https://...` fails with one clear line while the
    certificate is not trusted, and works with HEAPSCOPE_CA_BUNDLE=cert.pem
    (or curl's CURL_CA_BUNDLE);
  - HEAPSCOPE_TOKEN is sent as "Authorization: Bearer ..." (401 without);
  - redirects are followed (at most 3: a redirect loop fails with one line);
  - an HTTP error status is one line naming the status;
  - plain http:// still works (same server code without TLS)."""
import http.server
import os
import shutil
import ssl
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hstest import CornerEnv, check, finish

TOKEN = "s3cret-token"


def make_handler(profile_bytes):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, status, body=b"", headers=()):
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/heap.pb.gz":
                self.send(200, profile_bytes)
            elif self.path == "/secret/heap.pb.gz":
                if self.headers.get("Authorization") == "Bearer " + TOKEN:
                    self.send(200, profile_bytes)
                else:
                    self.send(401, b"token required\n")
            elif self.path == "/moved":
                self.send(302, headers=[("Location", "/heap.pb.gz")])
            elif self.path.startswith("/loop"):
                n = int(self.path[5:] or 0)
                self.send(302, headers=[("Location", f"/loop{n + 1}")])
            else:
                self.send(404, b"no such profile\n")
    return Handler


def serve(handler, context=None):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if context is not None:
        srv.socket = context.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, srv.server_address[1]


def one_line_error(r, what, needle):
    check(r.returncode != 0 and r.stderr.startswith("heapscope: ")
          and r.stderr.count("\n") == 1 and needle in r.stderr,
          f"{what}: want one line with {needle!r}, got {r.returncode} {r.stderr!r}")


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    openssl = shutil.which("openssl")
    if not openssl:
        print("FAIL: openssl is not installed (scripts/install-deps.sh test)")
        sys.exit(1)
    out = env.outdir("profile")
    r = env.preload_input([prog, "1", "0"], out)
    check(r.returncode == 0, f"scenario program: {r.stderr}")
    with open(os.path.join(out, "heap.final.pb.gz"), "rb") as f:
        profile = f.read()
    cert, key = os.path.join(env.tmp, "cert.pem"), os.path.join(env.tmp, "key.pem")
    g = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=60)
    check(g.returncode == 0, f"openssl req: {g.stderr}")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    handler = make_handler(profile)
    tls, tls_port = serve(handler, ctx)
    plain, plain_port = serve(handler)
    base = f"https://127.0.0.1:{tls_port}"
    clean = {k: v for k, v in os.environ.items()
             if k not in ("HEAPSCOPE_CA_BUNDLE", "CURL_CA_BUNDLE", "HEAPSCOPE_TOKEN")}
    trusted = dict(clean, HEAPSCOPE_CA_BUNDLE=cert)
    try:
        r = env.run(["top", base + "/heap.pb.gz"], env=clean)
        one_line_error(r, "untrusted", "certificate")
        print("untrusted:", r.stderr.strip())
        check("HEAPSCOPE_CA_BUNDLE" in r.stderr, f"the error does not say how to trust: {r.stderr}")

        r = env.run(["top", base + "/heap.pb.gz"], env=trusted)
        check(r.returncode == 0 and "BuildStartupTable" in r.stdout,
              f"trusted: {r.returncode} {r.stderr} {r.stdout[:500]}")
        r = env.run(["top", base + "/heap.pb.gz"], env=dict(clean, CURL_CA_BUNDLE=cert))
        check(r.returncode == 0 and "BuildStartupTable" in r.stdout,
              f"CURL_CA_BUNDLE: {r.returncode} {r.stderr}")

        r = env.run(["top", base + "/secret/heap.pb.gz"], env=trusted)
        one_line_error(r, "no token", "HTTP 401: token required")
        r = env.run(["top", base + "/secret/heap.pb.gz"], env=dict(trusted, HEAPSCOPE_TOKEN=TOKEN))
        check(r.returncode == 0 and "BuildStartupTable" in r.stdout, f"token: {r.stderr}")

        r = env.run(["top", base + "/moved"], env=trusted)
        check(r.returncode == 0 and "BuildStartupTable" in r.stdout, f"redirect: {r.stderr}")
        r = env.run(["top", base + "/loop0"], env=trusted)
        one_line_error(r, "redirect loop", "redirects")
        r = env.run(["top", base + "/nothing"], env=trusted)
        one_line_error(r, "404", "HTTP 404: no such profile")
        r = env.run(["top", f"http://127.0.0.1:{plain_port}/heap.pb.gz"], env=clean)
        check(r.returncode == 0 and "BuildStartupTable" in r.stdout, f"plain http: {r.stderr}")
        # http:// to the TLS port: one line, no hang.
        r = env.run(["top", f"http://127.0.0.1:{tls_port}/heap.pb.gz"], env=clean, timeout=60)
        check(r.returncode != 0 and r.stderr.count("\n") == 1, f"http to TLS: {r.stderr!r}")
    finally:
        tls.shutdown()
        plain.shutdown()
    finish(env, "test_https")


if __name__ == "__main__":
    main()
