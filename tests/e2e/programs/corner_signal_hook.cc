// Signals arriving while inside a hook: a 100 us SIGALRM timer on the main
// thread whose handler mallocs and frees, and frees blocks main hands it,
// while main allocates heavily. The handler only uses sizes that glibc
// serves from its thread cache (kept warm, so glibc's own lock is never
// needed there and the uninstrumented program cannot deadlock); main's big
// blocks are larger.
// Exact totals (every allocation recorded, the handler's included):
//   MainAlloc     kRounds x malloc(2048 + 16 * (i % 4)), every 100th kept
//   MainHandoff   every 50th round malloc(64), handed to the handler through
//                 one slot; whichever of main and the handler takes it
//                 frees it: in use 0
//   HandlerAlloc  malloc(48) once per signal, freed right away: in use 0
// Main also opens and closes a descriptor every 8th round, maps and unmaps
// a page every 16th and starts and joins a thread every 400th, so that
// signals land in the fd, mmap and thread hooks' recording sections too.
// stdout is deterministic; stderr gets the counts the test checks against.
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

constexpr int kRounds = 400000;
constexpr size_t kHandlerSize = 48;
constexpr size_t kHandoffSize = 64;

volatile sig_atomic_t g_signals = 0;
volatile sig_atomic_t g_handler_frees = 0;
std::atomic<void*> g_handoff{nullptr};
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
  if (void* h = g_handoff.exchange(nullptr)) {
    free(h);
    g_handler_frees = g_handler_frees + 1;
  }
  g_signals = g_signals + 1;
  errno = saved;
}

void* Noop(void*) { return nullptr; }

__attribute__((noinline)) void* MainAlloc(size_t size) {
  void* p = malloc(size);
  if (p == nullptr) abort();
  static_cast<char*>(p)[0] = 1;
  static_cast<char*>(p)[size - 1] = 2;
  return p;
}

__attribute__((noinline)) void* MainHandoff() {
  void* p = malloc(kHandoffSize);
  if (p == nullptr) abort();
  memset(p, 0x44, kHandoffSize);
  return p;
}

int main() {
  // Warm the thread cache's bins for the handler's sizes (volatile: the
  // compiler would drop a malloc/free pair).
  void* volatile warm = malloc(kHandlerSize);
  free(warm);
  warm = malloc(kHandoffSize);
  free(warm);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = OnAlarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, nullptr);
  // The timer signals the main thread only: a thread main starts has a
  // cold thread cache, and a handler allocating there could need glibc's
  // lock (a deadlock without any profiler).
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGALRM;
  sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) abort();
  struct itimerspec it = {{0, 100000}, {0, 100000}};
  timer_settime(timer, 0, &it, nullptr);

  unsigned long sum = 0;
  int handoffs = 0;
  for (int i = 0; i < kRounds; i++) {
    size_t size = 2048 + 16 * static_cast<size_t>(i % 4);
    void* p = MainAlloc(size);
    sum += size;
    if (i % 100 == 0) {
      g_kept[i / 100] = p;
    } else {
      free(p);
    }
    if (i % 8 == 3) {
      int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) abort();
      close(fd);
    }
    if (i % 16 == 5) {
      void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (m == MAP_FAILED) abort();
      munmap(m, 4096);
    }
    if (i % 400 == 7) {
      pthread_t t;
      if (pthread_create(&t, nullptr, Noop, nullptr) != 0) abort();
      pthread_join(t, nullptr);
    }
    if (i % 50 == 25) {
      handoffs++;
      // The handler did not take the last one: main frees it.
      if (void* old = g_handoff.exchange(MainHandoff())) free(old);
    }
  }
  timer_delete(timer);
  if (void* last = g_handoff.exchange(nullptr)) free(last);
  printf("allocated %d blocks, %lu bytes, kept %d, handed off %d; signals handled: %s\n",
         kRounds, sum, kRounds / 100, handoffs, g_signals > 0 ? "yes" : "no");
  fprintf(stderr, "signals=%d handler_frees=%d\n", static_cast<int>(g_signals),
          static_cast<int>(g_handler_frees));
  return 0;
}
