// A program whose memory grows in one place and holds steady in another,
// for diffs between periodic snapshots.
// Usage: growing_program STEPS STEP_MS
// Per step, GrowLeak keeps one more malloc(4096) (it never frees: in-use
// space grows by 4096 bytes a step), and RefreshCache replaces its
// 64 x 1000-byte table with a new one (in use: a constant 64000 bytes).
// HoldTable allocates 32 x 2000 bytes once, at start, and keeps them.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cstdio>

namespace {

constexpr int kMaxSteps = 4096;
constexpr int kCacheEntries = 64;
void* volatile g_leaked[kMaxSteps];
void* volatile g_cache[kCacheEntries];
void* volatile g_table[32];

}  // namespace

__attribute__((noinline)) void HoldTable() {
  for (int i = 0; i < 32; i++) {
    void* p = malloc(2000);
    memset(p, 0, 2000);
    g_table[i] = p;
  }
}

__attribute__((noinline)) void GrowLeak(int step) {
  void* p = malloc(4096);
  memset(p, step & 0xff, 4096);
  g_leaked[step] = p;
}

__attribute__((noinline)) void RefreshCache(int step) {
  for (int i = 0; i < kCacheEntries; i++) {
    void* fresh = malloc(1000);
    memset(fresh, step & 0xff, 1000);
    void* old = g_cache[i];
    g_cache[i] = fresh;
    free(old);
  }
}

int main(int argc, char** argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 40;
  int step_ms = argc > 2 ? atoi(argv[2]) : 50;
  if (steps < 0 || steps > kMaxSteps || step_ms < 0) return 2;
  HoldTable();
  for (int i = 0; i < steps; i++) {
    GrowLeak(i);
    RefreshCache(i);
    struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
  }
  std::printf("growing_program: %d steps\n", steps);
  return 0;
}
