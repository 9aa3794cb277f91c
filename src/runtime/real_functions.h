// The next allocator in line (RTLD_NEXT), looked up once, and the bootstrap
// pool that serves the allocations dlsym makes while we look it up.
//
// Also what the program itself defines (or a library preloaded ahead of
// us): its own malloc, or its own operator new and delete. The program's
// calls to those never reach our hooks; the calls that do reach them (a
// form it did not define, such as operator new[] or a sized delete, left to
// the C++ library) must end where they would have without us, in its
// functions, or memory from one allocator ends up freed by another. Our
// operator new and delete therefore work as the C++ library's own do: the
// other forms call the basic ones, and the basic ones call malloc and free,
// each the program's own when it has one.
#pragma once

#include <cstddef>
#include <new>

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
  // jemalloc's own API (BIND 9.18 allocates through it); null without it.
  void* (*mallocx)(size_t, int);
  void* (*rallocx)(void*, size_t, int);
  size_t (*xallocx)(void*, size_t, size_t, int);
  void (*dallocx)(void*, int);
  void (*sdallocx)(void*, size_t, int);
  size_t (*sallocx)(const void*, int);
  size_t (*nallocx)(size_t, int);
  // The API above belongs to the allocator behind malloc (jemalloc as the
  // program's allocator), so that blocks of either kind may be freed by
  // the other: only then are its calls sampled (malloc_hooks.cc).
  bool allocx_is_malloc;
  [[noreturn]] void (*exit_)(int);
  [[noreturn]] void (*Exit_)(int);
};

extern RealFunctions real;

// The program's own definitions (null: none, or ours is the one in use).
struct TheirFunctions {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*realloc)(void*, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  // operator new and delete: scalar and array, plain and aligned
  void* (*new_)(size_t);
  void* (*new_array)(size_t);
  void (*delete_)(void*);
  void (*delete_array)(void*);
  void* (*new_aligned)(size_t, std::align_val_t);
  void* (*new_array_aligned)(size_t, std::align_val_t);
  void (*delete_aligned)(void*, std::align_val_t);
  void (*delete_array_aligned)(void*, std::align_val_t);
};
extern TheirFunctions their;
// Set once `their` is filled in (with `real`).
extern bool their_known;

// Looks the real functions up, and the program's own. Returns false if the
// malloc family is missing.
bool ResolveRealFunctions();

// Bootstrap pool: page-aligned slots in a static array, never freed.
void* BootstrapAlloc(size_t size, size_t align);
bool IsBootstrap(const void* p);
size_t BootstrapSize(const void* p);

}  // namespace heapscope::runtime
