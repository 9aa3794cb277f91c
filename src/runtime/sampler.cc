#include "runtime/sampler.h"

#include <math.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/recorder.h"

namespace heapscope::runtime {
namespace {

constexpr uint64_t kNeverSample = ~uint64_t{0} >> 1;

uint64_t NextRandom(ThreadState& t) {
  // xorshift64*
  uint64_t x = t.rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t.rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

// Exponentially distributed with mean `rate`: the distance to the next
// sampled byte in a Poisson process, so that the process is memoryless.
uint64_t NextInterval(ThreadState& t, uint64_t rate) {
  double u = static_cast<double>((NextRandom(t) >> 11) + 1) * (1.0 / 9007199254740992.0);
  double v = -log(u) * static_cast<double>(rate);
  if (v < 1) return 1;
  if (v > static_cast<double>(kNeverSample)) return kNeverSample;
  return static_cast<uint64_t>(v);
}

void InitThread(ThreadState& t) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t seed = static_cast<uint64_t>(ts.tv_nsec) ^ (static_cast<uint64_t>(ts.tv_sec) << 30) ^
                  (static_cast<uint64_t>(syscall(SYS_gettid)) << 17) ^
                  reinterpret_cast<uintptr_t>(&t);
  t.rng = seed == 0 ? 0x853c49e6748fea9bULL : seed;
  for (int i = 0; i < 4; i++) NextRandom(t);
  t.initialized = 1;
}

// The distance `until` ran out at an allocation of `size` bytes: whether
// it is a sample, with the next distance drawn. A thread's first distance
// (`first`, also the first since fork) is drawn like the others, so that
// its first allocation is not always a sample.
bool Decide(ThreadState& t, uint64_t* until, size_t size, uint64_t rate, bool first) {
  if (first) {
    *until = NextInterval(t, rate);
    if (size < *until) {
      *until -= size;
      return false;
    }
  }
  *until = NextInterval(t, rate);
  return true;
}

}  // namespace

uint64_t RandomInterval(uint64_t mean) {
  ThreadState& t = tls_state;
  if (t.initialized == 0) InitThread(t);
  return NextInterval(t, mean);
}

bool ShouldSampleSlow(size_t size) {
  ThreadState& t = tls_state;
  if (t.guard != 0) {
    // Our own allocation: never recorded; leave the counter. Or a signal
    // handler's, inside a hook: in every-allocation mode, recorded through
    // the deferred queue (deferred.h).
    if (t.in_hook == 0) return false;
    const State& g = GlobalState();
    return g.config.rate <= 1 && g.active.load(std::memory_order_relaxed);
  }
  if (!EnsureInitialized()) return false;
  State& g = GlobalState();
  if (!g.active.load(std::memory_order_relaxed) || g.heap_shadowed) {
    // With block headers every allocation must keep taking the slow path.
    if (!g_headers) t.bytes_until_sample = kNeverSample;
    return false;
  }
  uint64_t rate = g.config.rate;
  if (rate <= 1) {
    t.bytes_until_sample = 0;
    return true;
  }
  bool first = t.initialized == 0;
  if (first) InitThread(t);
  return Decide(t, &t.bytes_until_sample, size, rate, first);
}

bool HeaderSampleSlow(size_t size) {
  ThreadState& t = tls_state;
  if (t.initialized == 0) InitThread(t);
  return Decide(t, &t.header_until_sample, size, GlobalState().config.rate,
                t.header_until_sample == 0);
}

void ReseedAfterFork() {
  ThreadState& t = tls_state;
  t.initialized = 0;
  t.bytes_until_sample = 0;
  t.header_until_sample = 0;
}

}  // namespace heapscope::runtime
