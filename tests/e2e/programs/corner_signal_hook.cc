// Signals arriving while inside a hook: a 100 us SIGALRM timer whose
// handler mallocs and frees, while main allocates heavily. The handler only
// uses a size that glibc serves from its thread cache (kept warm, so
// glibc's own lock is never needed there and the uninstrumented program
// cannot deadlock); main uses larger sizes.
// Exact totals (every allocation recorded):
//   MainAlloc   kRounds x malloc(2048 + 16 * (i % 4)), every 100th kept
//   HandlerAlloc  freed right away: in use 0; recorded at most once per signal
// stdout is deterministic; stderr gets the number of signals handled.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

constexpr int kRounds = 400000;
constexpr size_t kHandlerSize = 48;

volatile sig_atomic_t g_signals = 0;
void* g_kept[kRounds / 100];

__attribute__((noinline)) void HandlerAlloc() {
  void* p = malloc(kHandlerSize);
  if (p == nullptr) abort();
  memset(p, 0x33, kHandlerSize);
  asm volatile("" : : "r"(p) : "memory");
  free(p);
}

void OnAlarm(int) {
  int saved = errno;
  HandlerAlloc();
  g_signals = g_signals + 1;
  errno = saved;
}

__attribute__((noinline)) void* MainAlloc(size_t size) {
  void* p = malloc(size);
  if (p == nullptr) abort();
  static_cast<char*>(p)[0] = 1;
  static_cast<char*>(p)[size - 1] = 2;
  return p;
}

int main() {
  // Warm the thread cache's bin for the handler's size (volatile: the
  // compiler would drop a malloc/free pair).
  void* volatile warm = malloc(kHandlerSize);
  free(warm);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, nullptr);

  unsigned long sum = 0;
  for (int i = 0; i < kRounds; i++) {
    size_t size = 2048 + 16 * static_cast<size_t>(i % 4);
    void* p = MainAlloc(size);
    sum += size;
    if (i % 100 == 0) {
      g_kept[i / 100] = p;
    } else {
      free(p);
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, nullptr);
  printf("allocated %d blocks, %lu bytes, kept %d; signals handled: %s\n", kRounds, sum,
         kRounds / 100, g_signals > 0 ? "yes" : "no");
  fprintf(stderr, "signals=%d\n", static_cast<int>(g_signals));
  return 0;
}
