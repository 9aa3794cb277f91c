"""A library loaded with dlopen, called, and unloaded with dlclose before
the program ends: the final profile still names the library's function
(PluginAlloc), exact at rate 1, and still maps it to the library's file,
also when it is loaded and unloaded three times. The program checks that
dlclose really unmapped the library."""
import os
import subprocess
import sys

from hstest import CornerEnv, check, finish, final_path


def main():
    env = CornerEnv(sys.argv)
    prog, lib = env.args[0], os.path.abspath(env.args[1])
    libname = os.path.basename(lib)
    for rounds in (1, 3):
        label = f"{rounds} round(s)"
        plain = env.plain([prog, lib, str(rounds)])
        check(plain.returncode == 0, f"{label} without the runtime: status {plain.returncode}")
        check(plain.stdout.count("unmapped after dlclose") == rounds,
              f"{label}: dlclose does not unmap the library, the test tests nothing: {plain.stdout}")
        out = env.outdir(f"rounds-{rounds}")
        r = env.preload_input([prog, lib, str(rounds)], out, {"HEAPSCOPE_RATE": "1"})
        check(r.returncode == 0, f"{label}: exit status {r.returncode}: {r.stderr}")
        check(r.stdout == plain.stdout, f"{label}: output changed: {r.stdout!r} (was {plain.stdout!r})")
        check(r.stderr == "", f"{label}: the runtime wrote to stderr: {r.stderr!r}")
        n = 3 * rounds
        prof = final_path(out)
        text = env.check_exact(prof, {"PluginAlloc": (2222 * n, 2222 * n, n, n)}, label)
        if text is None:
            continue
        # The mapping of the unloaded library is still in the profile.
        raw = subprocess.run([env.go, "tool", "pprof", "-raw", prof], capture_output=True,
                             text=True, timeout=60, env=dict(os.environ, HOME=env.tmp,
                                                             PPROF_TMPDIR=env.tmp))
        check(raw.returncode == 0, f"{label}: go tool pprof -raw failed: {raw.stderr}")
        mappings = raw.stdout.split("Mappings", 1)[-1]
        check(libname in mappings, f"{label}: no mapping names {libname}:\n{mappings}")
    finish(env, "test_dlopen")


if __name__ == "__main__":
    main()
