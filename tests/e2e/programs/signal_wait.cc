// Waits for the test to act on it: dump signals, termination signals.
// Usage: signal_wait MODE
//   stdin    prints "ready", then per input line "grow" keeps one more
//            malloc(5000) in GrowOnce and answers "grown N"; at EOF "bye".
//   pause    prints "ready" and waits in pause() until a signal ends it.
//   handler  installs its own SIGTERM handler, prints "ready", waits for
//            SIGTERM, prints what happened and returns 0.
//   own-usr2 installs its own SIGUSR2 handler, then reads lines like
//            stdin; each SIGUSR2 is reported on the next line read.
//   busy     three threads allocate and free without pause, distinct
//            sizes; once all three are under way the main thread prints
//            "ready" and waits in pause().
// Every mode first keeps KnownAlloc: 7 x malloc(3000) = 21000 bytes.
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

void* volatile g_known[7];
void* volatile g_grown[1024];
void* volatile g_busy_sink[3];
volatile sig_atomic_t g_got_term = 0;
volatile sig_atomic_t g_got_usr2 = 0;
std::atomic<int> g_busy_started{0};

__attribute__((noinline)) void KnownAlloc() {
  for (int i = 0; i < 7; i++) g_known[i] = malloc(3000);
}

__attribute__((noinline)) void GrowOnce(int n) {
  g_grown[n] = malloc(5000);
  memset(g_grown[n], 7, 5000);
}

__attribute__((noinline)) void* BusyChurn(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (unsigned i = 0;; i++) {
    size_t size = 16 + ((i * 37 + static_cast<unsigned>(id) * 11) % 4000);
    void* p = malloc(size);
    memset(p, 1, size < 64 ? size : 64);
    g_busy_sink[id] = p;
    free(p);
    if (i == 1000) g_busy_started.fetch_add(1);
  }
  return nullptr;
}

void OnTerm(int) {
  static const char kMsg[] = "handler: SIGTERM received\n";
  ssize_t w = write(1, kMsg, sizeof kMsg - 1);
  (void)w;
  g_got_term = 1;
}

void OnUsr2(int) { g_got_usr2 = g_got_usr2 + 1; }

void Ready() {
  std::printf("ready\n");
  std::fflush(stdout);
}

int ReadLines(bool report_usr2) {
  char line[256];
  int n = 0;
  while (fgets(line, sizeof line, stdin) != nullptr) {
    if (strcmp(line, "grow\n") == 0) {
      GrowOnce(n);
      n++;
      std::printf("grown %d\n", n);
    } else if (report_usr2) {
      std::printf("usr2 seen %d\n", static_cast<int>(g_got_usr2));
    } else {
      std::printf("unknown command\n");
    }
    std::fflush(stdout);
  }
  std::printf("bye\n");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "stdin";
  KnownAlloc();
  if (strcmp(mode, "stdin") == 0) {
    Ready();
    return ReadLines(false);
  }
  if (strcmp(mode, "own-usr2") == 0) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = OnUsr2;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, nullptr);
    Ready();
    return ReadLines(true);
  }
  if (strcmp(mode, "pause") == 0) {
    Ready();
    for (;;) pause();
  }
  if (strcmp(mode, "busy") == 0) {
    for (long i = 0; i < 3; i++) {
      pthread_t t;
      pthread_create(&t, nullptr, BusyChurn, reinterpret_cast<void*>(i));
      pthread_detach(t);
    }
    // Ready once every thread is well into its loop.
    while (g_busy_started.load() < 3) sched_yield();
    Ready();
    for (;;) pause();
  }
  if (strcmp(mode, "handler") == 0) {
    // Block SIGTERM outside sigsuspend so that it cannot slip in between
    // the test of the flag and the wait.
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = OnTerm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    Ready();
    sigset_t wait_mask = old;
    sigdelset(&wait_mask, SIGTERM);
    while (!g_got_term) sigsuspend(&wait_mask);
    std::printf("main: leaving after SIGTERM\n");
    return 0;
  }
  std::fprintf(stderr, "signal_wait: unknown mode %s\n", mode);
  return 2;
}
