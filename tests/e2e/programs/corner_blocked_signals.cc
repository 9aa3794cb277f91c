// A program that blocks every signal before it starts its threads (so
// none of them can take the dump signal, SIGTERM or anything else), then
// allocates in three threads for about 600 ms. Periodic snapshots, the
// final profile and the exit status must not depend on signals.
// Exact totals (every allocation recorded):
//   BlockedWork  3 threads x 30 steps x 100 x malloc(300), 10 kept per step
//                in use 3*30*10*300 = 270000 bytes / 900 objects,
//                allocated 2700000 bytes / 9000 objects
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

constexpr int kThreads = 3;
constexpr int kSteps = 30;
void* g_kept[kThreads][kSteps][10];

__attribute__((noinline)) void* BlockedWork(size_t size) {
  void* p = malloc(size);
  if (p == nullptr) abort();
  static_cast<char*>(p)[0] = 1;
  return p;
}

void* Thread(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (int s = 0; s < kSteps; s++) {
    for (int i = 0; i < 100; i++) {
      void* p = BlockedWork(300);
      if (i < 10) {
        g_kept[id][s][i] = p;
      } else {
        free(p);
      }
    }
    timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
  return nullptr;
}

int main() {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  printf("ready\n");
  fflush(stdout);
  pthread_t t[kThreads];
  for (long i = 0; i < kThreads; i++) pthread_create(&t[i], nullptr, Thread, reinterpret_cast<void*>(i));
  for (auto& th : t) pthread_join(th, nullptr);
  sigset_t pending;
  sigpending(&pending);
  printf("done; SIGTERM pending: %s\n", sigismember(&pending, SIGTERM) ? "yes" : "no");
  return 0;
}
