"""At the default rate the written values are unbiased estimates. For a
Poisson byte sampler at mean rate R, the Horvitz-Thompson estimate of T
bytes allocated in pieces of size s << R has a standard deviation of about
sqrt(T * R) (each sample stands for 1/p bytes, p = 1 - exp(-s/R)). The test
accepts an estimate within 4 standard deviations: for 100 MiB live that is
+-29 MiB (a false failure about once in 15,000 runs), for 1 GiB churned
+-93 MiB. It also checks that the estimate is not trivially exact or zero:
the number of samples taken must be near what the sizes allocated make
likely (about T/R when they are small against R).

The same at 16 KiB, a rate low enough that every block carries a header
(recorder.h) and free() reads a sampled object's stack from it: for 100
MiB live +-5 MiB, for 1 GiB churned +-16 MiB."""
import math
import os
import re
import sys

from hstest import Env, check, finish

RATES = (524288, 16384)


def main():
    env = Env(sys.argv)
    for rate in RATES:
        check_rate(env, rate)
    finish(env, "test_sampled")


def check_rate(env, rate):
    prog = env.args[0]
    out = env.outdir(f"sampled-{rate}")
    r = env.preload([prog], out, {"HEAPSCOPE_RATE": str(rate)})
    check(r.returncode == 0, f"rate {rate}: exit status {r.returncode}: {r.stderr}")
    live = 100 << 20
    churn = 1 << 30
    check(r.stdout.strip() == f"live={live} churn={churn}", f"output changed: {r.stdout!r}")
    prof = os.path.join(out, "heap.final.pb.gz")
    inuse = env.top(prof, "inuse_space")
    alloc = env.top(prof, "alloc_space")

    def short(table, name):
        return sum(v for k, v in table.items() if k.split("(")[0] == name)

    for what, got, want in (("KeepLive inuse_space", short(inuse, "KeepLive"), live),
                            ("KeepLive alloc_space", short(alloc, "KeepLive"), live),
                            ("Churn alloc_space", short(alloc, "Churn"), churn)):
        sd = math.sqrt(want * rate)
        print(f"rate {rate}: {what}: estimate {got} for {want} bytes ({(got - want) / sd:+.2f} sd)")
        check(abs(got - want) <= 4 * sd,
              f"rate {rate}: {what}: estimate {got} is more than 4 sd ({4 * sd:.0f}) from {want}")
    check(short(inuse, "Churn") <= 4 * math.sqrt(65536 * rate),
          f"Churn freed everything but shows {short(inuse, 'Churn')} in use")
    text = env.go_pprof_top(prof)
    check("KeepLive" in text, f"go tool pprof -top does not show KeepLive:\n{text}")
    m = re.search(r"samples=(\d+)", text)
    check(m is not None, "the profile's comment does not give the sample count")
    if m:
        n = int(m.group(1))
        # Each allocation of s bytes is a sample with chance 1 - e^(-s/R);
        # the program's seven sizes come evenly (sampled_allocs.cc).
        sizes = (64, 96, 256, 1000, 4096, 16384, 65536)
        per_alloc = sum(1 - math.exp(-z / rate) for z in sizes) / len(sizes)
        expect = (live + churn) / (sum(sizes) / len(sizes)) * per_alloc
        check(abs(n - expect) < 6 * math.sqrt(expect) + 10,
              f"rate {rate}: {n} samples taken, expected about {expect:.0f}")
    # The runtime's own recording time: some, and not more than a few
    # hundred microseconds a sample (a first sight of a return address reads
    # its CFI; a warm sample is about a microsecond).
    m = re.search(r"samples=(\d+).* record_ns=(\d+)", text)
    if check(m is not None, "the profile's comment does not give record_ns"):
        n, ns = int(m.group(1)), int(m.group(2))
        check(0 < ns < n * 500_000, f"rate {rate}: record_ns={ns} for {n} samples")


if __name__ == "__main__":
    main()
