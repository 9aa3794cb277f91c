// A detached thread still allocating (malloc, realloc, new, free) while the
// process exits: main waits until three detached threads have each done
// some work, then returns from main (argument "return") or calls exit(2)
// ("exit"). The final profile is written while they run.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <atomic>

std::atomic<long> g_progress[3];

__attribute__((noinline)) void* ChurnAlloc(size_t n) {
  void* p = malloc(n);
  asm volatile("" : : "r"(p) : "memory");  // not a tail call
  return p;
}

void* Churn(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (unsigned long i = 0;; i++) {
    void* p = ChurnAlloc(16 + i % 4000);
    p = realloc(p, 32 + i % 9000);
    char* q = new char[64 + i % 100];
    memset(p, 1, 32);
    free(p);
    delete[] q;
    g_progress[id].fetch_add(1, std::memory_order_relaxed);
  }
  return nullptr;
}

int main(int argc, char** argv) {
  bool use_exit = argc > 1 && strcmp(argv[1], "exit") == 0;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  for (long i = 0; i < 3; i++) {
    pthread_t t;
    pthread_create(&t, &attr, Churn, reinterpret_cast<void*>(i));
  }
  for (auto& p : g_progress) {
    while (p.load(std::memory_order_relaxed) < 1000) {
    }
  }
  printf("leaving while detached threads allocate\n");
  fflush(stdout);
  if (use_exit) exit(2);
  return 0;
}
