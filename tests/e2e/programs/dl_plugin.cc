// A shared library that dlopen_allocs loads, calls and unloads. Plain C
// linkage and no C++ runtime state, so that dlclose really unmaps it.
#include <stdlib.h>
#include <string.h>

extern "C" __attribute__((visibility("default"), noinline)) int PluginAlloc(void** out, int n) {
  for (int i = 0; i < n; i++) {
    out[i] = malloc(2222);
    memset(out[i], i, 2222);
  }
  return n;
}
