// Threads with tiny stacks (PTHREAD_STACK_MIN + 4 KiB) allocating through
// a few frames, two at a time, eight in all.
// Exact totals (every allocation recorded):
//   TinyAlloc  8 threads x 1000 x malloc(24 + 8 * (i % 8)), 10 kept each
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

constexpr int kThreads = 8;
constexpr int kAllocs = 1000;
void* g_kept[kThreads][10];

__attribute__((noinline)) void* TinyAlloc(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 7, n);
  return p;
}

__attribute__((noinline)) void* Level2(int i) { return TinyAlloc(24 + 8 * static_cast<size_t>(i % 8)); }
__attribute__((noinline)) void* Level1(int i) {
  void* p = Level2(i);
  asm volatile("" ::: "memory");
  return p;
}

void* Thread(void* arg) {
  long id = reinterpret_cast<long>(arg);
  for (int i = 0; i < kAllocs; i++) {
    void* p = Level1(i);
    if (i % 100 == 0) {
      g_kept[id][i / 100] = p;
    } else {
      free(p);
    }
  }
  return nullptr;
}

int main() {
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  size_t stack = PTHREAD_STACK_MIN + 4096;
  int rc = pthread_attr_setstacksize(&attr, stack);
  if (rc != 0) {
    printf("pthread_attr_setstacksize(%zu): %s\n", stack, strerror(rc));
    return 1;
  }
  for (long i = 0; i < kThreads; i += 2) {
    pthread_t a, b;
    rc = pthread_create(&a, &attr, Thread, reinterpret_cast<void*>(i));
    if (rc == 0) rc = pthread_create(&b, &attr, Thread, reinterpret_cast<void*>(i + 1));
    if (rc != 0) {
      printf("pthread_create with a %zu-byte stack: %s\n", stack, strerror(rc));
      return 1;
    }
    pthread_join(a, nullptr);
    pthread_join(b, nullptr);
  }
  printf("%d threads with %zu-byte stacks done\n", kThreads, stack);
  return 0;
}
