// A leak that the program's own teardown frees: a global cache that only
// grows while the program runs, destroyed (with everything else the
// program owns) as it exits, as a well-behaved C++ program does. The
// runtime's profile at exit, written after the destructors, holds none of
// it. Usage: teardown_leak MS (how long to run, default 2500)
//   RememberForever  a 16 KiB entry every 10 ms into a global vector
//   CacheBounded     a global ring of 64 x 16 KiB entries, overwritten
//   BuildTable       a 4 MiB table built at start, held in main
#include <stdlib.h>
#include <time.h>

#include <cstdio>
#include <memory>
#include <vector>

std::vector<std::unique_ptr<char[]>> g_forever;
std::unique_ptr<char[]> g_ring[64];

__attribute__((noinline)) void RememberForever() {
  g_forever.emplace_back(new char[16384]());
}

__attribute__((noinline)) void CacheBounded(int i) { g_ring[i % 64].reset(new char[16384]()); }

__attribute__((noinline)) std::unique_ptr<char[]> BuildTable() {
  return std::unique_ptr<char[]>(new char[4 << 20]());
}

int main(int argc, char** argv) {
  int ms = argc > 1 ? atoi(argv[1]) : 2500;
  g_forever.reserve(static_cast<size_t>(ms / 10 + 1));  // the vector itself does not grow
  std::unique_ptr<char[]> table = BuildTable();
  for (int i = 0; i < ms / 10; i++) {
    RememberForever();
    CacheBounded(i);
    timespec t = {0, 10 * 1000000L};
    nanosleep(&t, nullptr);
  }
  printf("kept %zu\n", g_forever.size());
  return 0;
}
