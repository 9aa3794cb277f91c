// The malloc family and every operator new/delete, exported from
// libheapscope.so so that they interpose on the program's allocator. Each
// delegates to the next allocator in line (RTLD_NEXT). Hot paths: the
// sampling counter for allocations; for frees one AND (and over glibc the
// chunk header word glibc's own free reads next).
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>

#include <new>

#include "runtime/dumper.h"
#include "runtime/deferred.h"
#include "runtime/real_functions.h"
#include "runtime/recorder.h"
#include "runtime/runtime.h"
#include "runtime/sampler.h"

namespace heapscope::runtime {

// Pointers with any of these bits set cannot be sampled objects unless
// their header says so: over other allocators than glibc sampled small
// objects start at offset 0 or 16 in a page (kRecognisableMask); over
// glibc (kPageSize - 1) a sampled object's tag (recorder.h) and a large
// block's size send free() to its slow path, and only page-aligned
// pointers are looked up by address; in every-allocation mode all pointers
// must be checked (0).
extern uintptr_t g_free_probe_mask;
// Over glibc, large blocks are also told apart by their chunk header.
extern bool g_large_by_header;

// Over glibc, blocks whose chunk is at least this large are looked up by
// free() whatever their address (see MaybeSampled).
constexpr size_t kLargeChunk = 64 * 1024;

// glibc's chunk size, from the header word before the block (flag bits
// cleared). The same cache line glibc's own free reads next.
HS_ALWAYS_INLINE size_t GlibcChunkSize(const void* p) {
  return static_cast<const size_t*>(p)[-1] & ~size_t{7};
}

// False when p is certainly not a sampled object: the free fast path.
// Over glibc, sampled large blocks are left where glibc put them and
// recognised by size, and the tag of a sampled small one reads as a size
// of 2^62; over other allocators sampled small objects start at offset 0
// (or 16) in a page.
HS_ALWAYS_INLINE bool MaybeSampled(const void* p) {
  if ((reinterpret_cast<uintptr_t>(p) & g_free_probe_mask) == 0) return true;
  return g_large_by_header && GlibcChunkSize(p) >= kLargeChunk;
}

namespace {

bool IsPowerOfTwo(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

// calloc's memory must read as zero. A page-aligned (or aligned and
// tagged) sampled block comes from memalign, which does not zero; but when
// glibc served it from a fresh mmap (large blocks) it is zero already, and
// writing it would make every page resident, which the program's own
// calloc would not have done.
bool NeedsZeroing(void* p) {
  if (!GlobalState().real_is_glibc) return true;
  constexpr size_t kIsMmapped = 2;  // glibc's chunk header flag
  return (static_cast<size_t*>(p)[-1] & kIsMmapped) == 0;
}

// Whether free() will look p up (the same test as MaybeSampled).
bool IsRecognisable(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & g_free_probe_mask) == 0 ||
         (g_large_by_header && GlibcChunkSize(p) >= kLargeChunk);
}

// Large blocks usually come back recognisable on their own (glibc's mmap'ed
// chunks start 16 bytes into a page; jemalloc's and tcmalloc's large
// blocks are page-aligned). Taking them as the allocator gives them keeps
// its own placement (mremap growth, trimming, no fragmentation from
// memalign); only when it does not do we move to a page-aligned block
// (over glibc they always do).
constexpr size_t kNativeLargeMin = 64 * 1024;

// The real allocator's block as the program asked for it: `align` 0 means
// malloc's alignment, `zero` calloc's zeroing.
void* RealAlloc(size_t size, size_t align, bool zero) {
  if (align != 0) {
    void* p = real.memalign(align, size);
    if (p != nullptr && zero) memset(p, 0, size);
    return p;
  }
  return zero ? real.calloc(1, size) : real.malloc(size);
}

// A signal handler's allocation inside a hook (every-allocation mode, so
// no page alignment): from the real allocator, recorded by the drain.
HS_NOINLINE void* AllocDeferred(size_t size, size_t align, bool zero) {
  void* p = RealAlloc(size, align, zero);
  if (p != nullptr) DeferAlloc(p, size);
  return p;
}

// Where the program's pointer sits in a block with 16 bytes of the
// runtime's in front (a header or a tag): 16 bytes in for malloc's
// alignment (`align` <= 16), else `align` bytes in.
size_t RoomFor(size_t align) { return align <= 16 ? 16 : align; }

// The real allocator's block for `size` bytes with RoomFor(align) bytes in
// front; returns the program's pointer in it (zeroed when `zero`), or
// nullptr, with ENOMEM beyond `max_size`.
HS_ALWAYS_INLINE char* BlockWithRoom(size_t size, size_t align, bool zero, size_t max_size) {
  size_t offset = RoomFor(align);
  size_t total;
  if (HS_UNLIKELY(size > max_size || __builtin_add_overflow(size, offset, &total))) {
    errno = ENOMEM;
    return nullptr;
  }
  void* base;
  if (offset == 16) {
    base = zero ? real.calloc(1, total) : real.malloc(total);
  } else {
    base = real.memalign(align, total);
  }
  if (HS_UNLIKELY(base == nullptr)) return nullptr;
  char* p = static_cast<char*>(base) + offset;
  if (zero && offset != 16 && NeedsZeroing(base)) memset(p, 0, size);
  return p;
}

// A tagged block (recorder.h) of `size` bytes.
void* TaggedAlloc(size_t size, size_t align, bool zero) {
  char* p = BlockWithRoom(size, align, zero, ~size_t{0});
  if (p != nullptr) SetTag(p, RoomFor(align));
  return p;
}

// The usable size of the program's block p.
size_t UsableSize(void* p) {
  if (!IsTagged(p)) return real.malloc_usable_size(p);
  void* base = TaggedBase(p);
  auto offset = static_cast<size_t>(static_cast<char*>(p) - static_cast<char*>(base));
  size_t n = real.malloc_usable_size(base);
  return n > offset ? n - offset : 0;
}

// Frees the program's block p, tagged or not, without recording it.
void FreeUnrecorded(void* p) {
  if (IsTagged(p)) return FreeTagged(p);
  real.free(p);
}

// realloc of a tagged block to an unsampled one, recording nothing: glibc
// knows the block only from its base, so it moves (`old`: its size).
// realloc(p, 0) frees it and returns null, as glibc's does.
void* ReallocTagged(void* p, size_t size, size_t old) {
  if (size == 0) {
    FreeTagged(p);
    return nullptr;
  }
  void* q = real.malloc(size);
  if (q == nullptr) return nullptr;  // p stays the program's, as realloc says
  memcpy(q, p, old < size ? old : size);
  FreeTagged(p);
  return q;
}

// Allocates a sampled object and records it. `align` 0 means malloc's
// alignment. At rates of 64 KiB and above sampled objects are recognisable
// (tagged, page-aligned or large), so free() tells them apart from the
// others without a lookup.
void* AllocSampled(size_t size, size_t align, bool zero) {
  if (HS_UNLIKELY(InterruptedSection())) return AllocDeferred(size, align, zero);
  StartLazyThread(false);
  InHook in_hook;
  RecursionGuard guard;
  void* p = nullptr;
  if (GlobalState().align_sampled) {
    if (align <= 16 && size >= kNativeLargeMin) {
      p = zero ? real.calloc(1, size) : real.malloc(size);
      if (p != nullptr && !IsRecognisable(p)) {
        real.free(p);
        p = nullptr;
      }
    }
    if (p == nullptr && g_tag_key != 0 && align < kPageSize) {
      p = TaggedAlloc(size, align, zero);
      if (p == nullptr) return nullptr;
    }
    if (p == nullptr) {
      p = real.memalign(align > kPageSize ? align : kPageSize, size);
      if (p != nullptr && zero && NeedsZeroing(p)) memset(p, 0, size);
    }
  } else {
    p = RealAlloc(size, align, zero);
  }
  if (p != nullptr) RecordAlloc(guard, p, size);
  return p;
}

// ---- Every-allocation mode: blocks with headers (recorder.h) ----

// Read on every slow path; set once, before the first real block.
HS_ALWAYS_INLINE bool HeadersOn() { return __atomic_load_n(&g_headers, __ATOMIC_RELAXED); }

// Records a block with a header, just allocated: every one in
// every-allocation mode, a sample of them at a low rate.
void RecordHeaderAlloc(void* p, size_t size) {
  ThreadState& t = tls_state;
  if (t.guard != 0) {
    // The profiler's own block; or a signal handler's inside a hook,
    // recorded by the drain through the live table (every-allocation mode;
    // at a sampled rate a handler's allocations are not sampled, as
    // ShouldSampleSlow says).
    if (t.in_hook != 0 && GlobalState().config.rate <= 1 &&
        GlobalState().active.load(std::memory_order_relaxed)) {
      HeaderOf(p)->flags = kHeaderMagic | kInLive;
      DeferAlloc(p, size);
    }
    return;
  }
  if (GlobalState().config.rate > 1 && HS_LIKELY(!HeaderSampleNow(size))) return;
  if (!EnsureInitialized()) return;
  const State& g = GlobalState();
  if (!g.active.load(std::memory_order_relaxed) || g.heap_shadowed) return;
  StartLazyThread(false);
  InHook in_hook;
  RecursionGuard guard;
  RecordAlloc(guard, p, size);
}

// A header for a block of `size` bytes, not recorded (yet); its offset is
// set where the block is made and kept by realloc.
HS_ALWAYS_INLINE void ResetHeader(void* p, size_t size) {
  BlockHeader* h = HeaderOf(p);
  h->size_stack = static_cast<uint64_t>(size) << kHeaderStackBits;
  h->flags = kHeaderMagic;
}

// A block of `size` bytes with a header in front: at offset 16 of the real
// block for malloc's alignment (`align` <= 16), else at offset `align`.
HS_NOINLINE void* HeaderAlloc(size_t size, size_t align, bool zero) {
  if (HS_UNLIKELY(real.malloc == nullptr)) return BootstrapAlloc(size, align < 16 ? 16 : align);
  char* p = BlockWithRoom(size, align, zero, kHeaderMaxSize);
  if (HS_UNLIKELY(p == nullptr)) return nullptr;
  HeaderOf(p)->offset = static_cast<uint32_t>(RoomFor(align));
  ResetHeader(p, size);
  RecordHeaderAlloc(p, size);
  return p;
}

HS_NOINLINE void HeaderFree(void* p) {
  if (HS_UNLIKELY(!HasHeader(p))) return real.free(p);  // not the hooks' block
  const BlockHeader* h = HeaderOf(p);
  void* base = static_cast<char*>(p) - h->offset;
  if ((h->size_stack & kHeaderStackMask) != 0 || (h->flags & kInLive) != 0) {
    if (tls_state.guard == 0 && GlobalState().active.load(std::memory_order_relaxed)) {
      InHook in_hook;
      RecursionGuard guard;
      RecordFree(guard, p);
    } else if (HS_UNLIKELY(InterruptedSection())) {
      return DeferFree(p);  // frees the block now or at the drain
    }
  }
  real.free(base);
}

// A new block, the old one's bytes, the old one freed.
void* HeaderMove(void* p, size_t size) {
  size_t old = HeaderOf(p)->size_stack >> kHeaderStackBits;
  void* q = HeaderAlloc(size, 0, false);
  if (q == nullptr) return nullptr;  // p stays the program's, as realloc says
  memcpy(q, p, old < size ? old : size);
  HeaderFree(p);
  return q;
}

HS_NOINLINE void* HeaderRealloc(void* p, size_t size) {
  // Not the hooks' block: the allocator's own realloc, and the result stays
  // without a header.
  if (HS_UNLIKELY(!HasHeader(p))) return real.realloc(p, size);
  BlockHeader* h = HeaderOf(p);
  if (size == 0 && GlobalState().real_is_glibc) {
    HeaderFree(p);  // glibc's realloc(p, 0) frees p and returns null
    return nullptr;
  }
  // An aligned block (realloc gives malloc's alignment), another
  // allocator's realloc(p, 0) (a block of its smallest size), or a signal
  // handler's call inside a hook: through the other hooks.
  if (h->offset != 16 || size == 0 || tls_state.guard != 0) return HeaderMove(p, size);
  size_t total;
  if (HS_UNLIKELY(size > kHeaderMaxSize || __builtin_add_overflow(size, size_t{16}, &total))) {
    errno = ENOMEM;
    return nullptr;
  }
  void* base = static_cast<char*>(p) - 16;
  uint64_t old_size_stack = h->size_stack;
  bool in_live = (h->flags & kInLive) != 0;
  // At a sampled rate most reallocs neither free a sample nor make one.
  bool sample_new = GlobalState().config.rate <= 1 || HeaderSampleNow(size);
  bool plain = !sample_new && (old_size_stack & kHeaderStackMask) == 0 && !in_live;
  if (plain || !EnsureInitialized() || !GlobalState().active.load(std::memory_order_relaxed) ||
      GlobalState().heap_shadowed) {
    void* b = real.realloc(base, total);
    if (b == nullptr) return nullptr;
    char* q = static_cast<char*>(b) + 16;
    ResetHeader(q, size);
    return q;
  }
  StartLazyThread(false);
  // One section: the live entry (if any) taken out before the real realloc
  // and put back if it fails, as in ReallocSlow.
  InHook in_hook;
  RecursionGuard guard;
  LiveEntry old_entry{};
  bool taken = in_live && TakeLive(guard, p, &old_entry);
  void* b = real.realloc(base, total);
  if (b == nullptr) {
    if (taken) RestoreLive(p, old_entry);
    return nullptr;
  }
  char* q = static_cast<char*>(b) + 16;
  ResetHeader(q, size);
  if (taken) {
    AccountFree(old_entry);
  } else if (!in_live) {
    AccountFree(LiveEntry{old_size_stack >> kHeaderStackBits,
                          static_cast<StackId>(old_size_stack & kHeaderStackMask)});
  }
  if (sample_new) RecordAlloc(guard, q, size);
  return q;
}

HS_NOINLINE void* MallocSlow(size_t size) {
  // Whether blocks have headers is known once the runtime has started,
  // which the sampler's slow path sees to.
  bool sample = !HeadersOn() && ShouldSampleSlow(size);
  if (HS_UNLIKELY(HeadersOn())) return HeaderAlloc(size, 0, false);
  if (sample) return AllocSampled(size, 0, false);
  if (HS_UNLIKELY(real.malloc == nullptr)) return BootstrapAlloc(size, 16);
  return real.malloc(size);
}

HS_ALWAYS_INLINE void* HookMalloc(size_t size) {
  if (HS_LIKELY(TrySkipFast(size))) return real.malloc(size);
  return MallocSlow(size);
}

HS_NOINLINE void FreeSlow(void* p) {
  if (p == nullptr || IsBootstrap(p)) return;
  if (HS_UNLIKELY(real.free == nullptr)) return;
  if (HeadersOn()) return HeaderFree(p);
  bool tagged = IsTagged(p);
  if (HS_LIKELY(!tagged && !MayBeLiveSample(p))) return real.free(p);
  if (tls_state.guard == 0 && GlobalState().active.load(std::memory_order_relaxed)) {
    InHook in_hook;
    RecursionGuard guard;
    RecordFree(guard, p);
  } else if (HS_UNLIKELY(InterruptedSection())) {
    return DeferFree(p);  // frees p now or at the drain
  }
  if (tagged) return FreeTagged(p);
  real.free(p);
}

HS_ALWAYS_INLINE void HookFree(void* p) {
  if (HS_LIKELY(!MaybeSampled(p))) return real.free(p);
  FreeSlow(p);
}

HS_NOINLINE void* AlignedSlow(size_t align, size_t size) {
  bool sample = !HeadersOn() && ShouldSampleSlow(size);
  if (HS_UNLIKELY(HeadersOn())) return HeaderAlloc(size, align, false);
  if (sample) return AllocSampled(size, align, false);
  if (HS_UNLIKELY(real.memalign == nullptr)) return BootstrapAlloc(size, align);
  return real.memalign(align, size);
}

// glibc rounds an alignment that is not a power of two up to the next one;
// a sampled block does the same, so it is recorded like any other.
size_t RoundUpAlignment(size_t align) {
  size_t a = 1;
  while (a < align && a < (size_t{1} << 40)) a <<= 1;
  return a;
}

HS_ALWAYS_INLINE void* HookMemalign(size_t align, size_t size) {
  if (HS_LIKELY(TrySkipFast(size))) {
    if (HS_UNLIKELY(real.memalign == nullptr)) return BootstrapAlloc(size, align);
    return real.memalign(align, size);
  }
  return AlignedSlow(IsPowerOfTwo(align) ? align : RoundUpAlignment(align), size);
}

HS_NOINLINE void* CallocSlow(size_t total) {
  bool sample = !HeadersOn() && ShouldSampleSlow(total);
  if (HS_UNLIKELY(HeadersOn())) return HeaderAlloc(total, 0, true);
  if (sample) return AllocSampled(total, 0, true);
  // Bootstrap slots are static memory, already zero.
  if (HS_UNLIKELY(real.calloc == nullptr)) return BootstrapAlloc(total, 16);
  return real.calloc(1, total);
}

// realloc by a signal handler inside a hook: a new block, copied, and the
// old one freed through the queue, so neither address is recorded while
// the interrupted section holds the tables.
HS_NOINLINE void* ReallocDeferred(void* p, size_t size) {
  if (size == 0) {
    if (!GlobalState().real_is_glibc) return real.realloc(p, 0);
    DeferFree(p);  // glibc's realloc(p, 0) frees p and returns null
    return nullptr;
  }
  size_t old = real.malloc_usable_size != nullptr ? UsableSize(p) : 0;
  void* q = real.malloc(size);
  if (q == nullptr) return nullptr;  // p stays the program's, as realloc says
  memcpy(q, p, old < size ? old : size);
  if (GlobalState().config.rate <= 1) DeferAlloc(q, size);
  DeferFree(p);
  return q;
}

HS_NOINLINE void* ReallocSlow(void* p, size_t size) {
  if (IsBootstrap(p)) {
    size_t old = BootstrapSize(p);
    void* q = HookMalloc(size);
    if (q != nullptr) memcpy(q, p, old < size ? old : size);
    return q;
  }
  if (HeadersOn()) return HeaderRealloc(p, size);
  if (tls_state.guard != 0) {
    if (InterruptedSection() && GlobalState().active.load(std::memory_order_relaxed)) {
      return ReallocDeferred(p, size);
    }
    // Our own (never recorded, never tagged), or a signal handler's while
    // recording is off.
    if (IsTagged(p)) return ReallocTagged(p, size, UsableSize(p));
    return real.realloc(p, size);
  }
  bool recording = GlobalState().active.load(std::memory_order_relaxed);
  // Decided before the section (the sampler says no inside it).
  bool sample = size != 0 && !TrySkipFast(size) && ShouldSampleSlow(size);
  if (sample) StartLazyThread(false);
  // One section for all of it: the live entry taken out, the real realloc,
  // and the entry accounted or put back, with no gap where a signal
  // handler's allocation could take a table lock this thread holds.
  InHook in_hook;
  RecursionGuard guard;
  bool tracked = false;
  LiveEntry old_entry{};
  if (recording && MaybeSampled(p)) tracked = TakeLive(guard, p, &old_entry);
  bool tagged = IsTagged(p);
  if (tagged && (size == 0 || !sample)) {
    void* q = ReallocTagged(p, size, tracked ? old_entry.size : UsableSize(p));
    if (tracked) {
      if (q == nullptr && size != 0) {
        RestoreLive(p, old_entry);
      } else {
        AccountFree(old_entry);
      }
    }
    return q;
  }
  if (size == 0) {
    // Keep the allocator's own realloc(p, 0) semantics.
    if (tracked) AccountFree(old_entry);
    return real.realloc(p, 0);
  }
  if (!sample) {
    void* q = real.realloc(p, size);
    if (tracked) {
      if (q == nullptr) {
        RestoreLive(p, old_entry);
      } else {
        AccountFree(old_entry);
      }
    }
    return q;
  }
  void* q;
  if (GlobalState().align_sampled && size >= kNativeLargeMin && !tagged) {
    // Let the allocator grow it in place if it can; move it only if the
    // result is not recognisable.
    q = real.realloc(p, size);
    if (q != nullptr && !IsRecognisable(q)) {
      void* moved = real.memalign(kPageSize, size);
      if (moved == nullptr) {
        // Keep the program's block as it is; this sample is lost, counted.
        if (tracked) AccountFree(old_entry);
        GlobalState().dropped_live.fetch_add(1, std::memory_order_relaxed);
        return q;
      }
      memcpy(moved, q, size);
      real.free(q);
      q = moved;
    }
  } else if (GlobalState().align_sampled && real.malloc_usable_size != nullptr) {
    // Move to a tagged (else page-aligned) block so the new object is
    // recognisable.
    q = g_tag_key != 0 ? TaggedAlloc(size, 0, false) : real.memalign(kPageSize, size);
    if (q != nullptr) {
      size_t old = tracked ? old_entry.size : UsableSize(p);
      memcpy(q, p, old < size ? old : size);
      FreeUnrecorded(p);
    }
  } else {
    q = real.realloc(p, size);
  }
  if (q == nullptr) {
    if (tracked) RestoreLive(p, old_entry);
    return nullptr;
  }
  if (tracked) AccountFree(old_entry);
  RecordAlloc(guard, q, size);
  return q;
}

// operator new's failure path: run the new_handler and retry until an
// allocation succeeds; bad_alloc when there is no handler. Returns nullptr
// instead of throwing when `nothrow`, so the nothrow forms never raise (and
// allocate) an exception inside the profiler.
template <typename Retry>
void* NewHandlerLoop(bool nothrow, Retry retry) {
  for (;;) {
    std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      // The exception object is the profiler's doing, not the program's
      // allocation site: keep it out of the profile.
      RecursionGuard guard;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        handler();
      } catch (...) {
        return nullptr;
      }
    } else {
      handler();
    }
    if (void* p = retry(); p != nullptr) return p;
  }
}

HS_NOINLINE void* NewFailed(size_t size, size_t align, bool nothrow) {
  return NewHandlerLoop(nothrow, [&] {
    return align == 0 ? HookMalloc(size) : HookMemalign(align, size);
  });
}

HS_ALWAYS_INLINE void* HookNew(size_t size, bool nothrow = false) {
  void* p = HookMalloc(size);
  if (HS_LIKELY(p != nullptr)) return p;
  return NewFailed(size, 0, nothrow);
}

HS_ALWAYS_INLINE void* HookNewAligned(size_t size, std::align_val_t al, bool nothrow = false) {
  size_t align = static_cast<size_t>(al);
  void* p = HookMemalign(align, size == 0 ? 1 : size);
  if (HS_LIKELY(p != nullptr)) return p;
  return NewFailed(size == 0 ? 1 : size, align, nothrow);
}

// ---- operator new and delete, as the C++ library's own ----
//
// Each form calls the one the C++ library's would (libstdc++: arrays and
// nothrow forms call the basic form, the basic forms call malloc,
// aligned_alloc and free), taking the program's own definition of that
// one when it has one (see real_functions.h). Only when the chain ends in
// ours does it reach the hooks.

// The program's own definitions are known once the runtime has started; a
// program whose own malloc keeps ours from ever being called may reach
// these first.
HS_ALWAYS_INLINE const TheirFunctions& Their() {
  if (HS_UNLIKELY(!__atomic_load_n(&their_known, __ATOMIC_ACQUIRE))) EnsureInitialized();
  return their;
}

// operator new(size_t) over the program's own malloc, as the C++ library
// has it: retry through the new_handler, else bad_alloc (nullptr when
// `nothrow`).
HS_NOINLINE void* NewFromTheirs(size_t size, size_t align, bool nothrow) {
  if (size == 0) size = 1;
  if (align != 0) size = (size + align - 1) & ~(align - 1);  // aligned_alloc wants a multiple
  auto allocate = [&] { return align == 0 ? their.malloc(size) : their.aligned_alloc(align, size); };
  if (void* p = allocate(); p != nullptr) return p;
  return NewHandlerLoop(nothrow, allocate);
}

// operator new(size_t): malloc.
HS_ALWAYS_INLINE void* BasicNew(size_t size, bool nothrow) {
  if (HS_UNLIKELY(Their().malloc != nullptr)) return NewFromTheirs(size, 0, nothrow);
  return HookNew(size, nothrow);
}

// operator new(size_t, align_val_t): aligned_alloc.
HS_ALWAYS_INLINE void* BasicNewAligned(size_t size, std::align_val_t al, bool nothrow) {
  if (HS_UNLIKELY(Their().aligned_alloc != nullptr)) {
    return NewFromTheirs(size, static_cast<size_t>(al), nothrow);
  }
  return HookNewAligned(size, al, nothrow);
}

// Calls one of the program's operator new forms; a nothrow form turns its
// exception into nullptr.
template <typename Fn, typename... Args>
HS_NOINLINE void* CallTheirNew(bool nothrow, Fn fn, Args... args) {
  if (!nothrow) return fn(args...);
  try {
    return fn(args...);
  } catch (...) {
    return nullptr;
  }
}

// The form a derived one calls: the program's, else ours.
HS_ALWAYS_INLINE void* ScalarNew(size_t size, bool nothrow) {
  if (HS_UNLIKELY(Their().new_ != nullptr)) return CallTheirNew(nothrow, their.new_, size);
  return BasicNew(size, nothrow);
}
HS_ALWAYS_INLINE void* ArrayNew(size_t size, bool nothrow) {
  if (HS_UNLIKELY(Their().new_array != nullptr)) return CallTheirNew(nothrow, their.new_array, size);
  return ScalarNew(size, nothrow);
}
HS_ALWAYS_INLINE void* ScalarNewAligned(size_t size, std::align_val_t al, bool nothrow) {
  if (HS_UNLIKELY(Their().new_aligned != nullptr)) {
    return CallTheirNew(nothrow, their.new_aligned, size, al);
  }
  return BasicNewAligned(size, al, nothrow);
}
HS_ALWAYS_INLINE void* ArrayNewAligned(size_t size, std::align_val_t al, bool nothrow) {
  if (HS_UNLIKELY(Their().new_array_aligned != nullptr)) {
    return CallTheirNew(nothrow, their.new_array_aligned, size, al);
  }
  return ScalarNewAligned(size, al, nothrow);
}

// operator delete(void*) and its aligned form: free.
HS_ALWAYS_INLINE void BasicDelete(void* p) {
  if (HS_UNLIKELY(Their().free != nullptr)) return their.free(p);
  HookFree(p);
}
HS_ALWAYS_INLINE void ScalarDelete(void* p) {
  if (HS_UNLIKELY(Their().delete_ != nullptr)) return their.delete_(p);
  BasicDelete(p);
}
HS_ALWAYS_INLINE void ArrayDelete(void* p) {
  if (HS_UNLIKELY(Their().delete_array != nullptr)) return their.delete_array(p);
  ScalarDelete(p);
}
HS_ALWAYS_INLINE void ScalarDeleteAligned(void* p, std::align_val_t al) {
  if (HS_UNLIKELY(Their().delete_aligned != nullptr)) return their.delete_aligned(p, al);
  BasicDelete(p);
}
HS_ALWAYS_INLINE void ArrayDeleteAligned(void* p, std::align_val_t al) {
  if (HS_UNLIKELY(Their().delete_array_aligned != nullptr)) {
    return their.delete_array_aligned(p, al);
  }
  ScalarDeleteAligned(p, al);
}

// The usable size of the program's block p, whatever the runtime put in
// front of it.
size_t ProgramUsableSize(void* p) {
  if (p == nullptr) return 0;
  if (IsBootstrap(p)) return BootstrapSize(p);
  if (real.malloc_usable_size == nullptr) return 0;
  if (HeadersOn() && HasHeader(p)) {
    uint32_t offset = HeaderOf(p)->offset;
    size_t n = real.malloc_usable_size(static_cast<char*>(p) - offset);
    return n > offset ? n - offset : 0;
  }
  return UsableSize(p);
}

// ---- jemalloc's own API: mallocx and its kin ----
//
// BIND 9.18 allocates through jemalloc's mallocx, rallocx, sallocx and
// sdallocx rather than malloc, as programs that look for jemalloc do: its
// heap went unseen. With jemalloc behind malloc (allocx_is_malloc), a call
// that names no arena or thread cache and is not sampled goes to jemalloc
// as it is; a sampled one, or any while blocks have headers, takes the
// malloc family's paths, for as many bytes as nallocx says the program may
// use (its size class, which is what it is recorded with). Every block is
// jemalloc's either way, so its frees and free() take any of them. A call
// naming an arena or a thread cache goes to jemalloc unsampled (the block
// must live in that arena). With jemalloc loaded beside glibc's malloc,
// each call goes to jemalloc unsampled; with none, to the malloc family's
// equivalent.

constexpr int kAllocxLgAlign = 0x3f;  // MALLOCX_LG_ALIGN(la)
constexpr int kAllocxZero = 0x40;     // MALLOCX_ZERO
// MALLOCX_TCACHE(tc) and MALLOCX_ARENA(a) set the bits above these.
constexpr int kAllocxPlainBits = kAllocxLgAlign | kAllocxZero;

size_t AllocxAlign(int flags) {
  int lg = flags & kAllocxLgAlign;
  return lg == 0 ? 0 : size_t{1} << lg;
}

// Whether jemalloc takes the call as it is, unsampled and unseen.
HS_ALWAYS_INLINE bool AllocxPassedOn(int flags) {
  return real.mallocx != nullptr && (!real.allocx_is_malloc || (flags & ~kAllocxPlainBits) != 0);
}

// mallocx through the malloc family's slow paths: a sample, or a block
// with a header.
HS_NOINLINE void* AllocxSlow(size_t size, int flags) {
  if (real.nallocx != nullptr) {
    size_t usable = real.nallocx(size, flags);
    if (usable > size) size = usable;
  }
  size_t align = AllocxAlign(flags);
  bool zero = (flags & kAllocxZero) != 0;
  if (align <= 16) return zero ? CallocSlow(size) : MallocSlow(size);
  void* p = AlignedSlow(align, size);
  if (p != nullptr && zero) memset(p, 0, size);
  return p;
}

// mallocx(size, flags) with the hooks taking part.
HS_ALWAYS_INLINE void* HookAllocx(size_t size, int flags) {
  if (HS_LIKELY(TrySkipFast(size))) {
    if (real.mallocx != nullptr) return real.mallocx(size, flags);
    size_t align = AllocxAlign(flags);
    bool zero = (flags & kAllocxZero) != 0;
    void* p = align <= 16 ? (zero ? real.calloc(1, size) : real.malloc(size))
                          : real.memalign(align, size);
    if (p != nullptr && zero && align > 16) memset(p, 0, size);
    return p;
  }
  return AllocxSlow(size, flags);
}

// Frees a block of the allocx API (`size`: sdallocx's, when `sized`).
HS_ALWAYS_INLINE void HookDallocx(void* p, size_t size, int flags, bool sized) {
  if (real.dallocx == nullptr) return HookFree(p);
  if (!real.allocx_is_malloc || HS_LIKELY(!HeadersOn() && !MaybeSampled(p))) {
    if (sized) return real.sdallocx(p, size, flags);
    return real.dallocx(p, flags);
  }
  FreeSlow(p);  // any block of jemalloc's, recorded if sampled
}

// rallocx by a new block: the old one's bytes (as many as it could hold,
// which is where MALLOCX_ZERO starts zeroing), the old one freed.
// `sample`: the sampler already said the new one is a sample.
HS_NOINLINE void* AllocxMove(void* p, size_t size, int flags, bool sample) {
  void* q;
  if (sample) {
    q = AllocxSlow(size, flags);
  } else if (AllocxPassedOn(flags)) {
    q = real.mallocx(size, flags);
  } else {
    q = HookAllocx(size, flags);
  }
  if (q == nullptr) return nullptr;  // p stays the program's
  size_t old = ProgramUsableSize(p);
  memcpy(q, p, old < size ? old : size);
  FreeSlow(p);
  return q;
}

}  // namespace
}  // namespace heapscope::runtime

using heapscope::runtime::BootstrapAlloc;
using heapscope::runtime::BootstrapSize;
using heapscope::runtime::HookFree;
using heapscope::runtime::HookMalloc;
using heapscope::runtime::HookMemalign;
using heapscope::runtime::HookNew;
using heapscope::runtime::HookNewAligned;
using heapscope::runtime::IsBootstrap;
using heapscope::runtime::real;

#define HS_EXPORT extern "C" __attribute__((visibility("default")))

HS_EXPORT void* malloc(size_t size) { return HookMalloc(size); }

HS_EXPORT void free(void* p) { HookFree(p); }

HS_EXPORT void cfree(void* p) { HookFree(p); }

HS_EXPORT void* calloc(size_t n, size_t size) {
  size_t total;
  if (HS_UNLIKELY(__builtin_mul_overflow(n, size, &total))) {
    if (real.calloc == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    return real.calloc(n, size);
  }
  if (HS_LIKELY(heapscope::runtime::TrySkipFast(total))) return real.calloc(n, size);
  return heapscope::runtime::CallocSlow(total);
}

HS_EXPORT void* realloc(void* p, size_t size) {
  if (p == nullptr) return HookMalloc(size);
  // Neither an old sampled object nor a new sample: straight through.
  if (HS_LIKELY(!heapscope::runtime::MaybeSampled(p) &&
                size != 0 && heapscope::runtime::TrySkipFast(size))) {
    return real.realloc(p, size);
  }
  return heapscope::runtime::ReallocSlow(p, size);
}

HS_EXPORT void* reallocarray(void* p, size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, total);
}

HS_EXPORT void* memalign(size_t align, size_t size) { return HookMemalign(align, size); }

HS_EXPORT void* aligned_alloc(size_t align, size_t size) {
  using heapscope::runtime::IsPowerOfTwo;
  if (HS_LIKELY(heapscope::runtime::TrySkipFast(size)) || real.aligned_alloc == nullptr) {
    if (real.aligned_alloc == nullptr) return HookMemalign(align, size);
    return real.aligned_alloc(align, size);
  }
  if (!IsPowerOfTwo(align)) {
    // Keep the allocator's answer to an odd alignment (EINVAL or rounding
    // up, by glibc version): ask it, and sample only what it would give.
    void* probe = real.aligned_alloc(align, 1);
    if (probe == nullptr) return nullptr;
    real.free(probe);
    align = heapscope::runtime::RoundUpAlignment(align);
  }
  return heapscope::runtime::AlignedSlow(align, size);
}

HS_EXPORT int posix_memalign(void** out, size_t align, size_t size) {
  if (align < sizeof(void*) || !heapscope::runtime::IsPowerOfTwo(align)) return EINVAL;
  if (HS_LIKELY(heapscope::runtime::TrySkipFast(size)) && real.posix_memalign != nullptr) {
    return real.posix_memalign(out, align, size);
  }
  int saved = errno;
  void* p = heapscope::runtime::AlignedSlow(align, size);
  if (p == nullptr) return ENOMEM;
  errno = saved;
  *out = p;
  return 0;
}

HS_EXPORT void* valloc(size_t size) {
  return HookMemalign(heapscope::runtime::kPageSize, size);
}

HS_EXPORT void* pvalloc(size_t size) {
  size_t page = heapscope::runtime::kPageSize;
  size_t rounded = size == 0 ? page : (size + page - 1) & ~(page - 1);
  if (rounded < size) {
    errno = ENOMEM;
    return nullptr;
  }
  return HookMemalign(page, rounded);
}

HS_EXPORT size_t malloc_usable_size(void* p) { return heapscope::runtime::ProgramUsableSize(p); }

// jemalloc's API (see above). mallocx(0) and the frees of null are the
// program's own mistakes, passed on.
HS_EXPORT void* mallocx(size_t size, int flags) {
  using namespace heapscope::runtime;  // NOLINT
  if (HS_UNLIKELY(AllocxPassedOn(flags))) return real.mallocx(size, flags);
  return HookAllocx(size, flags);
}

HS_EXPORT void* rallocx(void* p, size_t size, int flags) {
  using namespace heapscope::runtime;  // NOLINT
  if (HS_UNLIKELY(real.rallocx != nullptr && !real.allocx_is_malloc)) {
    return real.rallocx(p, size, flags);
  }
  // Neither the old block one of the runtime's nor the new one a sample:
  // jemalloc's own, in place where it can.
  bool theirs = real.rallocx != nullptr && !HeadersOn() && !MaybeSampled(p);
  if (theirs && AllocxPassedOn(flags)) return real.rallocx(p, size, flags);
  if (theirs && HS_LIKELY(TrySkipFast(size))) return real.rallocx(p, size, flags);
  return AllocxMove(p, size, flags, /*sample=*/theirs);
}

HS_EXPORT size_t xallocx(void* p, size_t size, size_t extra, int flags) {
  using namespace heapscope::runtime;  // NOLINT
  if (real.xallocx == nullptr) return ProgramUsableSize(p);
  if (!real.allocx_is_malloc) return real.xallocx(p, size, extra, flags);
  // A block of the runtime's keeps its size: xallocx may always decline,
  // and says so by returning the size the block has.
  if (HeadersOn() || (MaybeSampled(p) && (IsTagged(p) || MayBeLiveSample(p)))) {
    return ProgramUsableSize(p);
  }
  return real.xallocx(p, size, extra, flags);
}

HS_EXPORT size_t sallocx(const void* p, int flags) {
  using namespace heapscope::runtime;  // NOLINT
  if (real.sallocx != nullptr && !real.allocx_is_malloc) return real.sallocx(p, flags);
  return ProgramUsableSize(const_cast<void*>(p));
}

HS_EXPORT void dallocx(void* p, int flags) {
  heapscope::runtime::HookDallocx(p, 0, flags, /*sized=*/false);
}

HS_EXPORT void sdallocx(void* p, size_t size, int flags) {
  heapscope::runtime::HookDallocx(p, size, flags, /*sized=*/true);
}

// operator new and delete, every form (replacement functions, exported),
// each calling the form the C++ library's would (see above). Sized deletes
// ignore the size (the allocator below may not take it).
#define HS_NEW __attribute__((visibility("default")))
using heapscope::runtime::ArrayDelete;
using heapscope::runtime::ArrayDeleteAligned;
using heapscope::runtime::ArrayNew;
using heapscope::runtime::ArrayNewAligned;
using heapscope::runtime::BasicDelete;
using heapscope::runtime::BasicNew;
using heapscope::runtime::BasicNewAligned;
using heapscope::runtime::ScalarDelete;
using heapscope::runtime::ScalarDeleteAligned;
using heapscope::runtime::ScalarNew;
using heapscope::runtime::ScalarNewAligned;
HS_NEW void* operator new(size_t size) { return BasicNew(size, false); }
HS_NEW void* operator new[](size_t size) { return ScalarNew(size, false); }
HS_NEW void* operator new(size_t size, const std::nothrow_t&) noexcept {
  return ScalarNew(size, true);
}
HS_NEW void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  return ArrayNew(size, true);
}
HS_NEW void* operator new(size_t size, std::align_val_t al) {
  return BasicNewAligned(size, al, false);
}
HS_NEW void* operator new[](size_t size, std::align_val_t al) {
  return ScalarNewAligned(size, al, false);
}
HS_NEW void* operator new(size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return ScalarNewAligned(size, al, true);
}
HS_NEW void* operator new[](size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return ArrayNewAligned(size, al, true);
}
HS_NEW void operator delete(void* p) noexcept { BasicDelete(p); }
HS_NEW void operator delete[](void* p) noexcept { ScalarDelete(p); }
HS_NEW void operator delete(void* p, size_t) noexcept { ScalarDelete(p); }
HS_NEW void operator delete[](void* p, size_t) noexcept { ArrayDelete(p); }
HS_NEW void operator delete(void* p, const std::nothrow_t&) noexcept { ScalarDelete(p); }
HS_NEW void operator delete[](void* p, const std::nothrow_t&) noexcept { ArrayDelete(p); }
HS_NEW void operator delete(void* p, std::align_val_t) noexcept { BasicDelete(p); }
HS_NEW void operator delete[](void* p, std::align_val_t al) noexcept {
  ScalarDeleteAligned(p, al);
}
HS_NEW void operator delete(void* p, size_t, std::align_val_t al) noexcept {
  ScalarDeleteAligned(p, al);
}
HS_NEW void operator delete[](void* p, size_t, std::align_val_t al) noexcept {
  ArrayDeleteAligned(p, al);
}
HS_NEW void operator delete(void* p, std::align_val_t al, const std::nothrow_t&) noexcept {
  ScalarDeleteAligned(p, al);
}
HS_NEW void operator delete[](void* p, std::align_val_t al, const std::nothrow_t&) noexcept {
  ArrayDeleteAligned(p, al);
}
