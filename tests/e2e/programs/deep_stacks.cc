// Stacks for checking capture: 100 frames of Recurse (all kept), 300 frames
// (truncated at the runtime's depth limit and marked), and an allocation
// made inside a std::sort comparator, i.e. under libstdc++ frames that have
// no frame pointers. Built with -fomit-frame-pointer on purpose.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <vector>

void* volatile g_keep[8];

__attribute__((noinline)) void AllocAtDepth(int slot, size_t size) { g_keep[slot] = malloc(size); }

__attribute__((noinline)) int Recurse(int depth, int slot, size_t size) {
  if (depth <= 1) {
    AllocAtDepth(slot, size);
    return 1;
  }
  int r = Recurse(depth - 1, slot, size);
  __asm__ volatile("" ::: "memory");  // not a tail call
  return r + 1;
}

__attribute__((noinline)) bool CompareAndAllocate(int a, int b) {
  static int calls = 0;
  if (calls++ == 0) g_keep[2] = malloc(7777);
  return a < b;
}

__attribute__((noinline)) void SortWithAllocatingComparator() {
  std::vector<int> v;
  for (int i = 0; i < 1000; i++) v.push_back((i * 7919) % 1000);
  std::sort(v.begin(), v.end(), CompareAndAllocate);
}

int main() {
  std::printf("%d %d\n", Recurse(100, 0, 1111), Recurse(300, 1, 3333));
  SortWithAllocatingComparator();
  return 0;
}
