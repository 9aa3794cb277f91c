// Known allocations with clearly named functions, for reading heap profiles
// that other allocators write (jemalloc heap_v2, gperftools): everything
// stays allocated until exit.
//   FormatAllocAlpha    8 x malloc(4096)      32768 bytes
//   FormatAllocBeta     3 x new char[2048]     6144 bytes
// (Both sizes are jemalloc size classes, so its dumps hold them exactly.)
#include <cstdio>
#include <cstdlib>

void* volatile g_keep[16];

__attribute__((noinline)) void FormatAllocAlpha() {
  for (int i = 0; i < 8; i++) g_keep[i] = malloc(4096);
}

__attribute__((noinline)) void FormatAllocBeta() {
  for (int i = 0; i < 3; i++) g_keep[8 + i] = new char[2048];
}

int main() {
  FormatAllocAlpha();
  FormatAllocBeta();
  std::printf("format_allocs done\n");
  return 0;
}
