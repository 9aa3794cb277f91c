// mmap, munmap and mremap, exported from libheapscope.so: anonymous
// mappings the program makes itself are recorded with the creating stack
// and size; munmap trims or splits them, mremap moves or resizes them.
// glibc's malloc maps memory with internal calls that never reach these
// hooks, which is what we want (the heap profile covers it). Allocators
// that call mmap through the PLT (jemalloc, tcmalloc) are seen: when one
// is the next in line behind our hooks, the heap profile covers what it
// maps for its arenas too, and its calls are left out (else a growing
// heap showed twice, once as an mmap leak under the allocator's frames);
// when the program's malloc comes ahead of our hooks (heap_shadowed),
// its mappings are the only view of the heap there is, and are kept. The
// runtime's own mappings are made under a RecursionGuard and never
// recorded.
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/deferred.h"
#include "runtime/resource_table.h"

namespace heapscope::runtime {
namespace {

HS_NOINLINE void NoteMapping(void* p, size_t len) {
  if (!ShouldRecordResources()) return;
  ErrnoKeeper keep;
  InHook in_hook;  // a signal handler's allocations meanwhile are queued
  RecursionGuard guard;
  AddMapping(reinterpret_cast<uintptr_t>(p), len, CaptureResourceStack(guard));
}

size_t PageRound(size_t n) { return (n + 4095) & ~size_t{4095}; }

}  // namespace
}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: hooks are in the global namespace

#define HS_HOOK(ret, name, cname, ...)                                                   \
  extern "C" __attribute__((visibility("default"))) ret cname(__VA_ARGS__) __asm__(#name); \
  static std::atomic<ret (*)(__VA_ARGS__)> next_##cname{nullptr};                        \
  extern "C" ret cname(__VA_ARGS__)

namespace {

// Whether code at pc (a return address) is the next allocator's, which
// maps memory for the heap our hooks profile.
bool FromProfiledAllocator(uintptr_t pc) {
  const State& g = GlobalState();
  return pc >= g.allocator_begin && pc < g.allocator_end && !g.heap_shadowed;
}

template <typename F>
void* Mmap(std::atomic<F>* slot, const char* name, uintptr_t caller, void* addr, size_t len,
           int prot, int flags, int fd, off_t off) {
  F f = NextFunction(slot, name);
  void* p = f != nullptr ? f(addr, len, prot, flags, fd, off)
                         : reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
  if (p == MAP_FAILED || tls_state.guard != 0) return p;
  if ((flags & MAP_ANONYMOUS) != 0) {
    if (FromProfiledAllocator(caller)) return p;
    NoteMapping(p, PageRound(len));
  } else if ((flags & MAP_FIXED) != 0 && ResourcesActive()) {
    // A file mapped over anonymous memory replaces it.
    RemoveMappings(reinterpret_cast<uintptr_t>(p), PageRound(len));
  }
  return p;
}

}  // namespace

HS_HOOK(void*, mmap, hs_mmap, void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return Mmap(&next_hs_mmap, "mmap", reinterpret_cast<uintptr_t>(__builtin_return_address(0)), addr,
              len, prot, flags, fd, off);
}

HS_HOOK(void*, mmap64, hs_mmap64, void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return Mmap(&next_hs_mmap64, "mmap64", reinterpret_cast<uintptr_t>(__builtin_return_address(0)),
              addr, len, prot, flags, fd, off);
}

HS_HOOK(int, munmap, hs_munmap, void* addr, size_t len) {
  // Forgotten first: the range may be mapped again by another thread as
  // soon as the real call returns.
  if (tls_state.guard == 0 && ResourcesActive()) {
    RemoveMappings(reinterpret_cast<uintptr_t>(addr), PageRound(len));
  }
  auto f = NextFunction(&next_hs_munmap, "munmap");
  return f != nullptr ? f(addr, len) : static_cast<int>(syscall(SYS_munmap, addr, len));
}

HS_HOOK(void*, mremap, hs_mremap, void* old, size_t old_len, size_t new_len, int flags, ...) {
  void* new_addr = nullptr;
  if ((flags & MREMAP_FIXED) != 0) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  auto f = NextFunction(&next_hs_mremap, "mremap");
  void* p = f != nullptr ? f(old, old_len, new_len, flags, new_addr)
                         : reinterpret_cast<void*>(
                               syscall(SYS_mremap, old, old_len, new_len, flags, new_addr));
  if (p != MAP_FAILED && tls_state.guard == 0 && ResourcesActive()) {
    ErrnoKeeper keep;
    // old_len 0 duplicates a shared mapping and leaves the old one.
    constexpr int kDontUnmap = 4;  // MREMAP_DONTUNMAP
    bool keep_old = old_len == 0 || (flags & kDontUnmap) != 0;
    MoveMapping(reinterpret_cast<uintptr_t>(old), PageRound(old_len),
                reinterpret_cast<uintptr_t>(p), PageRound(new_len), keep_old);
  }
  return p;
}
