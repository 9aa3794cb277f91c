"""A daemon that closes every descriptor it did not open (a close() loop,
close_range, closefrom, or close() on each entry of /proc/self/fd) and then
opens a listening socket and a pipe of its own, under the runtime with the
HTTP endpoint on: its socket gets its connections, its pipe keeps its
data, the endpoint still answers, and the final profile is written. The
runtime's own descriptors (the endpoint's socket and wake pipe, and the
pipe libunwind keeps to test addresses) are not the program's to close. Before they were kept apart, the endpoint stopped
answering (connection refused: its socket closed by the program), and its
thread went on polling the old numbers, now the program's socket and pipe,
where it could accept the program's connections and drain its pipe."""
import os
import resource
import socket
import sys

from hstest import CornerEnv, LineReader, check, final_path, finish, http_request, kill_quietly, \
    wait_serving

MODES = ["loop", "range", "closefrom", "procfd"]


def talk(port):
    """The program's own service: one line, echoed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"hello\n")
        s.settimeout(10)
        got = b""
        while not got.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            got += chunk
        return got.decode(errors="replace")


def run(env, prog, mode, profiled):
    """stdout lines of one run, the endpoint's status (None without it)."""
    out = env.outdir(mode) if profiled else None
    extra = {"HEAPSCOPE_HTTP": "127.0.0.1:0", "HEAPSCOPE_INTERVAL": "200ms",
             "HEAPSCOPE_RATE": "1"} if profiled else None
    p = env.spawn([prog, mode], out=out, extra=extra)
    lines, status = [], None
    try:
        reader = LineReader(p.stdout)
        hostport = wait_serving(LineReader(p.stderr)) if profiled else None
        check(not profiled or hostport is not None, f"{mode}: the endpoint did not start")
        p.stdin.write(b"go\n")
        p.stdin.flush()
        fds, port = reader.readline(), reader.readline()
        lines += [fds, port]
        if port is None or not port.startswith("port "):
            check(False, f"{mode}: no port line: {lines}")
            return lines, status
        if profiled:
            # libunwind's pipe (the runtime's, near the top of the range)
            # was not the program's to close.
            top = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65536)
            fd_dir = f"/proc/{p.pid}/fd"
            high = sorted(int(fd) for fd in os.listdir(fd_dir)
                          if int(fd) >= top - 64 and
                          os.readlink(os.path.join(fd_dir, fd)).startswith("pipe:"))
            check(len(high) == 2, f"{mode}: the unwinder's pipe after the program's close: {high}")
        reply = talk(int(port.split()[1]))
        check(reply == "echo: hello\n", f"{mode}: the program's own socket answered {reply!r}")
        if hostport is not None:
            status, _, body = http_request(hostport, "/debug/pprof/heap", timeout=20)
            check(status == 200 and body[:2] == b"\x1f\x8b",
                  f"{mode}: the endpoint after the close: {status}")
        p.stdin.write(b"quit\n")
        p.stdin.flush()
        lines.append(reader.readline())
        p.wait(timeout=30)
        check(p.returncode == 0, f"{mode}: status {p.returncode}")
        if profiled and p.returncode == 0:
            got = env.values(final_path(out), ["AllocateAfterClosing"])["AllocateAfterClosing"]
            check(got[0] == 100000, f"{mode}: AllocateAfterClosing in the final profile: {got}")
    finally:
        kill_quietly(p)
    return lines, status


def main():
    env = CornerEnv(sys.argv)
    prog = env.args[0]
    for mode in MODES:
        plain, _ = run(env, prog, mode, profiled=False)
        profiled, _ = run(env, prog, mode, profiled=True)
        same = [[l for l in lines if not (l or "").startswith("port ")] for lines in (plain, profiled)]
        check(same[0] == same[1], f"{mode}: output {profiled} under the runtime, {plain} without")
        check(profiled[-1:] == ["pipe kept 100 bytes\n"],
              f"{mode}: the program's pipe lost its data: {profiled}")
    finish(env, "test_own_fds")


if __name__ == "__main__":
    main()
