// Grows a known allocation at a steady pace, for periodic snapshots.
// Usage: snapshot_grow STEPS STEP_MS [TAIL_KB]
// GrowStep keeps one malloc(10000) per step: after k steps its in-use
// space is exactly k * 10000 bytes (at HEAPSCOPE_RATE=1), and it never
// shrinks. ChurnStep allocates and frees 64 x 300 bytes per step.
// TAIL_KB > 0 leaves that much output in a fully buffered stdout for exit()
// to flush, after the runtime's final profile: the process then takes a
// while to end after it, as programs that flush at exit do.
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cstdio>

void* volatile g_kept[4096];
void* volatile g_last;

__attribute__((noinline)) void GrowStep(int i) {
  void* p = malloc(10000);
  memset(p, i & 0xff, 10000);
  g_kept[i] = p;
}

__attribute__((noinline)) void ChurnStep() {
  for (int i = 0; i < 64; i++) {
    void* p = malloc(300);
    g_last = p;
    free(p);
  }
}

int main(int argc, char** argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 15;
  int step_ms = argc > 2 ? atoi(argv[2]) : 100;
  int tail_kb = argc > 3 ? atoi(argv[3]) : 0;
  if (steps < 0 || steps > 4096 || tail_kb < 0 || tail_kb > 65536) return 2;
  if (tail_kb > 0) setvbuf(stdout, nullptr, _IOFBF, static_cast<size_t>(tail_kb + 64) * 1024);
  for (int i = 0; i < steps; i++) {
    GrowStep(i);
    ChurnStep();
    struct timespec ts = {step_ms / 1000, (step_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
  }
  std::printf("snapshot_grow: %d steps of 10000 bytes\n", steps);
  for (int i = 0; i < tail_kb * 16; i++) {
    std::printf("tail line %09d ...........................................\n", i);  // 64 bytes
  }
  return 0;
}
