// Known allocations, for checking every-allocation mode to the byte.
// Usage: exact_allocs [return|exit|_exit] [ROUNDS]
// Expected, per allocating function (inuse_space / alloc_space bytes):
//   AllocMalloc        10 x malloc(1000)            10000 / 10000
//   AllocCalloc         5 x calloc(10, 300)         15000 / 15000
//   GrowRealloc        one block grown 100..51200   51200 / 102300 (sum of sizes)
//   AllocNewArray       3 x new char[5000]          15000 / 15000
//   AllocAlignedNew     4 x new Aligned (256 B, alignas 64)  1024 / 1024
//   FreedLoop        1000 x malloc(64), freed           0 / 64000
//   ManyStacksLeaf   two threads, each 8192 x malloc(32) from 8192 distinct
//                    stacks (more than a thread's first table of pending
//                    counts holds), every other one freed   262144 / 524288
//                    (ROUNDS times, default 1, each round freeing what the
//                    last one kept: 262144 / ROUNDS x 524288)
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <thread>

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

// Every path through kLevels levels of Step<0> and Step<1> (each calls one
// of the two, as the path's bit for the level says) is a stack of its own.
constexpr int kLevels = 13;
constexpr unsigned kPaths = 1u << kLevels;
void* volatile g_kept[2][kPaths / 2];

__attribute__((noinline)) void ManyStacksLeaf(int thread, unsigned path) {
  void* p = malloc(32);
  memset(p, 1, 32);
  if (path % 2 == 0) {
    free(g_kept[thread][path / 2]);  // the last round's
    g_kept[thread][path / 2] = p;
  } else {
    free(p);
  }
}

template <int kSide>
__attribute__((noinline)) int Step(int level, int thread, unsigned path) {
  if (level == kLevels) {
    ManyStacksLeaf(thread, path);
    return 0;
  }
  int r = ((path >> level) & 1) != 0 ? Step<1>(level + 1, thread, path)
                                      : Step<0>(level + 1, thread, path);
  asm volatile("" ::: "memory");
  return r + 1 + kSide;  // not a tail call: every level keeps its frame
}

void ManyStacks(int rounds) {
  std::thread threads[2];
  for (int t = 0; t < 2; t++) {
    threads[t] = std::thread([t, rounds] {
      for (int r = 0; r < rounds; r++) {
        for (unsigned path = 0; path < kPaths; path++) Step<0>(0, t, path);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

int main(int argc, char** argv) {
  AllocMalloc();
  AllocCalloc();
  GrowRealloc();
  AllocNewArray();
  AllocAlignedNew();
  FreedLoop();
  const char* how = argc > 1 ? argv[1] : "return";
  const int rounds = argc > 2 ? atoi(argv[2]) : 1;
  ManyStacks(rounds);
  std::printf("exact_allocs done (%s)\n", how);
  std::fflush(stdout);
  if (strcmp(how, "_exit") == 0) _exit(0);
  if (strcmp(how, "exit") == 0) exit(0);
  return 0;
}
