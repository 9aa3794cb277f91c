// Loads a library, keeps what its function allocated, unloads it.
// Usage: dlopen_allocs LIBRARY [ROUNDS]
// Each round: dlopen, PluginAlloc keeps 3 x malloc(2222), dlclose. The
// program reports whether the library is still mapped after dlclose.
// Expected: PluginAlloc in use ROUNDS x 6666 bytes, 3 x ROUNDS objects.
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include <cstdio>
#include <fstream>
#include <string>

void* g_blocks[64];

bool Mapped(const char* name) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    if (line.find(name) != std::string::npos) return true;
  }
  return false;
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  int rounds = argc > 2 ? atoi(argv[2]) : 1;
  if (rounds < 1 || rounds > 20) return 2;
  const char* base = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
  int kept = 0;
  for (int r = 0; r < rounds; r++) {
    void* h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::printf("dlopen failed: %s\n", dlerror());
      return 3;
    }
    auto fn = reinterpret_cast<int (*)(void**, int)>(dlsym(h, "PluginAlloc"));
    if (fn == nullptr) return 4;
    kept += fn(g_blocks + kept, 3);
    if (dlclose(h) != 0) return 5;
    std::printf("round %d: kept %d blocks, library %s after dlclose\n", r + 1, kept,
                Mapped(base) ? "still mapped" : "unmapped");
  }
  for (int i = 0; i < kept; i++) {
    if (static_cast<unsigned char*>(g_blocks[i])[2221] != static_cast<unsigned char>(i % 3)) {
      std::printf("block %d corrupted\n", i);
      return 6;
    }
  }
  return 0;
}
