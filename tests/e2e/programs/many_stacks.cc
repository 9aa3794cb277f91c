// Fills the profiler's tables: many distinct stacks, many live objects.
// Usage: many_stacks stacks|live|both|large
//   stacks  300 distinct stacks (Recurse at depths 0..299 calling DeepLeaf),
//           each keeping one malloc(64)
//   live    5000 live objects from LiveMany (malloc(48) each), all freed
//           at the end
//   large   200 live objects from LiveLarge (malloc(64 KiB) each), all
//           freed at the end
//   sites   1200 distinct allocating functions, Site<0> .. Site<1199>,
//           Site<N> keeping one malloc(16 + N): more locations, functions
//           and names than a profile's tables start with room for
#include <stdlib.h>
#include <string.h>

#include <cstdio>
#include <utility>

void* volatile g_deep[300];
void* volatile g_live[5000];
void* volatile g_large[200];
volatile int g_depth_seen;

__attribute__((noinline)) void DeepLeaf(int slot) {
  g_deep[slot] = malloc(64);
  memset(g_deep[slot], slot & 0xff, 64);
}

__attribute__((noinline)) int Recurse(int depth, int slot) {
  if (depth == 0) {
    DeepLeaf(slot);
    return 1;
  }
  int r = Recurse(depth - 1, slot) + 1;
  g_depth_seen = r;  // not a tail call: every level keeps its frame
  return r;
}

__attribute__((noinline)) void LiveMany() {
  for (int i = 0; i < 5000; i++) g_live[i] = malloc(48);
}

__attribute__((noinline)) void LiveLarge() {
  for (int i = 0; i < 200; i++) {
    g_large[i] = malloc(65536);
    if (g_large[i] != nullptr) memset(g_large[i], i & 0xff, 64);
  }
}

constexpr int kSites = 1200;
void* volatile g_sites[kSites];

template <int N>
__attribute__((noinline)) void Site() {
  g_sites[N] = malloc(16 + N);
}

template <int... Ns>
void AllSites(std::integer_sequence<int, Ns...>) {
  (Site<Ns>(), ...);
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "both";
  long sum = 0;
  if (strcmp(mode, "stacks") == 0 || strcmp(mode, "both") == 0) {
    for (int d = 0; d < 300; d++) sum += Recurse(d, d);
    std::printf("stacks: depth sum %ld\n", sum);
  }
  if (strcmp(mode, "live") == 0 || strcmp(mode, "both") == 0) {
    LiveMany();
    long nonnull = 0;
    for (int i = 0; i < 5000; i++) nonnull += g_live[i] != nullptr;
    for (int i = 0; i < 5000; i++) free(g_live[i]);
    std::printf("live: %ld objects\n", nonnull);
  }
  if (strcmp(mode, "large") == 0) {
    LiveLarge();
    long nonnull = 0;
    for (int i = 0; i < 200; i++) nonnull += g_large[i] != nullptr;
    for (int i = 0; i < 200; i++) free(g_large[i]);
    std::printf("large: %ld objects\n", nonnull);
  }
  if (strcmp(mode, "sites") == 0) {
    AllSites(std::make_integer_sequence<int, kSites>{});
    long nonnull = 0;
    for (int i = 0; i < kSites; i++) nonnull += g_sites[i] != nullptr;
    std::printf("sites: %ld objects\n", nonnull);
  }
  return 0;
}
