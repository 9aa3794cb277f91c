// The next allocator in line (RTLD_NEXT), looked up once, and the bootstrap
// pool that serves the allocations dlsym makes while we look it up.
#pragma once

#include <cstddef>

namespace heapscope::runtime {

struct RealFunctions {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*memalign)(size_t, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
  [[noreturn]] void (*exit_)(int);
  [[noreturn]] void (*Exit_)(int);
};

extern RealFunctions real;

// Looks the real functions up. Returns false if the malloc family is missing.
bool ResolveRealFunctions();

// Bootstrap pool: page-aligned slots in a static array, never freed.
void* BootstrapAlloc(size_t size, size_t align);
bool IsBootstrap(const void* p);
size_t BootstrapSize(const void* p);

}  // namespace heapscope::runtime
