// Known totals for checking the sampled estimates: KeepLive keeps 100 MiB
// live in mixed sizes (64 B .. 64 KiB), Churn allocates and frees 1 GiB.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cstdio>
#include <vector>

static uint64_t g_state = 88172645463325252ULL;
static uint64_t Next() {
  g_state ^= g_state << 13;
  g_state ^= g_state >> 7;
  g_state ^= g_state << 17;
  return g_state;
}

// Sizes: a mix of small and large, like a real heap.
static size_t NextSize() {
  static const size_t kSizes[] = {64, 96, 256, 1000, 4096, 16384, 65536};
  return kSizes[Next() % 7];
}

std::vector<void*>* g_live;

__attribute__((noinline)) uint64_t KeepLive(uint64_t target) {
  uint64_t total = 0;
  while (total < target) {
    size_t s = NextSize();
    if (total + s > target) s = target - total;
    void* p = malloc(s);
    memset(p, 1, s < 64 ? s : 64);
    g_live->push_back(p);
    total += s;
  }
  return total;
}

__attribute__((noinline)) uint64_t Churn(uint64_t target) {
  uint64_t total = 0;
  while (total < target) {
    size_t s = NextSize();
    if (total + s > target) s = target - total;
    void* p = malloc(s);
    static_cast<volatile char*>(p)[0] = 1;
    free(p);
    total += s;
  }
  return total;
}

int main() {
  g_live = new std::vector<void*>();
  g_live->reserve(1 << 21);
  uint64_t live = KeepLive(100ULL << 20);
  uint64_t churn = Churn(1ULL << 30);
  std::printf("live=%llu churn=%llu\n", static_cast<unsigned long long>(live),
              static_cast<unsigned long long>(churn));
  return 0;
}
