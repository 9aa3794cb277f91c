// Known allocations, for checking every-allocation mode to the byte.
// Usage: exact_allocs [return|exit|_exit]
// Expected, per allocating function (inuse_space / alloc_space bytes):
//   AllocMalloc        10 x malloc(1000)            10000 / 10000
//   AllocCalloc         5 x calloc(10, 300)         15000 / 15000
//   GrowRealloc        one block grown 100..51200   51200 / 102300 (sum of sizes)
//   AllocNewArray       3 x new char[5000]          15000 / 15000
//   AllocAlignedNew     4 x new Aligned (256 B, alignas 64)  1024 / 1024
//   FreedLoop        1000 x malloc(64), freed           0 / 64000
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

struct alignas(64) Aligned {
  char data[256];
};

void* volatile g_sink[64];

__attribute__((noinline)) void AllocMalloc() {
  for (int i = 0; i < 10; i++) g_sink[i] = malloc(1000);
}

__attribute__((noinline)) void AllocCalloc() {
  for (int i = 0; i < 5; i++) g_sink[10 + i] = calloc(10, 300);
}

__attribute__((noinline)) void GrowRealloc() {
  void* p = nullptr;
  for (size_t size = 100; size <= 51200; size *= 2) {
    p = realloc(p, size);
    memset(p, 1, size);
  }
  g_sink[20] = p;
}

__attribute__((noinline)) void AllocNewArray() {
  for (int i = 0; i < 3; i++) g_sink[21 + i] = new char[5000];
}

__attribute__((noinline)) void AllocAlignedNew() {
  for (int i = 0; i < 4; i++) g_sink[24 + i] = new Aligned;
}

__attribute__((noinline)) void FreedLoop() {
  for (int i = 0; i < 1000; i++) {
    void* p = malloc(64);
    g_sink[30] = p;
    free(p);
  }
}

int main(int argc, char** argv) {
  AllocMalloc();
  AllocCalloc();
  GrowRealloc();
  AllocNewArray();
  AllocAlignedNew();
  FreedLoop();
  const char* how = argc > 1 ? argv[1] : "return";
  std::printf("exact_allocs done (%s)\n", how);
  std::fflush(stdout);
  if (strcmp(how, "_exit") == 0) _exit(0);
  if (strcmp(how, "exit") == 0) exit(0);
  return 0;
}
