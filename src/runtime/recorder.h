// What happens to a sampled allocation or a free of a sampled object:
// stack capture, depot insert, live table, unbiased weights.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/live_table.h"
#include "runtime/runtime.h"
#include "runtime/stack_depot.h"

namespace heapscope::runtime {

// Pages that may hold a live sampled object: a counting filter, one byte
// per page number modulo 2^kFilterBits (recorder.cc says why); null in
// every-allocation mode.
inline constexpr int kFilterBits = 20;
extern uint8_t* g_page_filter;
HS_ALWAYS_INLINE uint8_t* PageFilterSlot(uintptr_t p) {
  return &g_page_filter[(p >> 12) & ((uintptr_t{1} << kFilterBits) - 1)];
}
// False when p is certainly not a live sampled object. Lock-free, a few
// instructions: free() asks it before the live table.
HS_ALWAYS_INLINE bool MayBeLiveSample(const void* p) {
  return g_page_filter == nullptr ||
         __atomic_load_n(PageFilterSlot(reinterpret_cast<uintptr_t>(p)), __ATOMIC_RELAXED) != 0;
}

// ---- Every-allocation mode and low rates: a header before each block ----
//
// Recording every allocation (HEAPSCOPE_RATE=1), each block the program
// gets has 16 bytes of the runtime's just before it: the stack it came
// from and its size. free() reads them where glibc's own free reads its
// chunk header (the same cache line, already on its way), instead of
// looking the address up in a table that every thread updates. The live
// table then holds only a sample of the objects (about one per
// kAgeSampleRate bytes allocated), for their ages, and the objects a signal
// handler allocated inside a hook (recorded later, see deferred.h).
// Sampling at a rate below 64 KiB (too many samples to page-align them,
// the sampled mode's way of telling them apart), blocks have headers too:
// a sampled one carries its stack (and is in the live table, for its age,
// as without headers), every other one stack 0, and free() reads the
// header instead of probing the live table.
// Decided before the first block is handed out and kept for the life of
// the process: every block from the hooks has a header, the runtime's own
// included. Blocks aligned beyond 16 bytes put the header in front of the
// aligned address, in a block `align` bytes larger.
extern bool g_headers;

struct BlockHeader {
  // size << kHeaderStackBits | stack id (0: not recorded)
  uint64_t size_stack;
  // Bytes from the real allocator's block to the program's pointer: 16, or
  // the alignment asked for.
  uint32_t offset;
  // kHeaderMagic in the upper half, so that a block the hooks did not make
  // (from __libc_malloc, say) is told apart and handed on untouched: there
  // glibc's chunk size sits, whose upper half is 0 below 4 GiB. kInLive:
  // the object is in the live table, which then accounts for it.
  uint32_t flags;
};
static_assert(sizeof(BlockHeader) == 16);
inline constexpr int kHeaderStackBits = 24;
inline constexpr uint64_t kHeaderStackMask = (uint64_t{1} << kHeaderStackBits) - 1;
// Larger requests fail as the allocator would (ENOMEM).
inline constexpr uint64_t kHeaderMaxSize = (uint64_t{1} << (64 - kHeaderStackBits)) - 1;
inline constexpr uint32_t kInLive = 1;
inline constexpr uint32_t kHeaderMagic = 0x5ea10000;
inline constexpr uint32_t kHeaderMagicMask = 0xffff0000;

// The bytes of the block headers of `objects` live objects (0 without
// headers): the runtime's memory inside the allocator's in-use chunks.
inline uint64_t HeaderBytes(uint64_t objects) {
  return g_headers ? objects * sizeof(BlockHeader) : 0;
}

HS_ALWAYS_INLINE BlockHeader* HeaderOf(const void* p) {
  return reinterpret_cast<BlockHeader*>(const_cast<char*>(static_cast<const char*>(p))) - 1;
}
// A block the hooks made (with a header), not another allocator's.
HS_ALWAYS_INLINE bool HasHeader(const void* p) {
  return (HeaderOf(p)->flags & kHeaderMagicMask) == kHeaderMagic;
}
HS_ALWAYS_INLINE void* BlockBase(const void* p) {
  return const_cast<char*>(static_cast<const char*>(p)) - HeaderOf(p)->offset;
}

// ---- Sampled mode over glibc: a tag before each sampled block ----
//
// At the default rate a sampled object of alignment below a page comes
// from glibc's malloc like any other, 16 bytes (or its alignment) larger,
// with 16 bytes of the runtime's just before the program's pointer: a
// check word, the pointer XOR a random key (g_tag_key), and the offset to
// glibc's block with kTagLarge set. Read as glibc's chunk header (free()'s
// fast path does, to recognise large blocks), the second word is a size
// of 2^62, so a tagged block takes free()'s slow path with no test of its
// own; there the check word tells it from a genuine large block. The key's
// top bits (10 binary) make the check word neither a pointer nor a small
// number of either sign, so program data matches it by chance at 2^-64 a
// free (it sits in the last 8 bytes of the block before). The check word is
// cleared when the block is freed, so a later block at the same address
// never finds a stale one. Over other allocators (no chunk header to read)
// sampled objects stay page-aligned. 0: no tags.
extern uintptr_t g_tag_key;
inline constexpr uint64_t kTagLarge = uint64_t{1} << 62;
inline constexpr uint64_t kTagOffsetMask = 0xffffffff;

HS_ALWAYS_INLINE bool IsTagged(const void* p) {
  uintptr_t key = g_tag_key;
  return key != 0 && static_cast<const uintptr_t*>(p)[-2] == (reinterpret_cast<uintptr_t>(p) ^ key);
}
HS_ALWAYS_INLINE void* TaggedBase(const void* p) {
  return const_cast<char*>(static_cast<const char*>(p)) -
         (static_cast<const uint64_t*>(p)[-1] & kTagOffsetMask);
}
// Tags p, `offset` bytes into the real allocator's block.
HS_ALWAYS_INLINE void SetTag(void* p, size_t offset) {
  auto* w = static_cast<uint64_t*>(p);
  w[-1] = kTagLarge | offset;
  w[-2] = reinterpret_cast<uintptr_t>(p) ^ g_tag_key;
}
// Clears p's tag and frees its block.
void FreeTagged(void* p);

// The profiler's own CPU time spent recording sampled allocations and frees
// (stack walk, stack table, live table, counts; not the allocation itself),
// in nanoseconds since start: every record timed in sampled mode, one in 64
// (scaled up) in every-allocation mode.
uint64_t RecordNs();

// When live objects were allocated (LiveEntry::birth): TSC ticks since the
// runtime started, shifted right by kBirthShift (2^24 ticks, a few ms; 32
// bits last about nine months at 3 GHz). Read once per sampled
// allocation, so a tick count rather than a clock call.
inline constexpr int kBirthShift = 24;
uint32_t BirthNow();
// Seconds per birth unit, from the TSC's pace against CLOCK_MONOTONIC since
// start; 0 while unknown.
double BirthUnitSeconds();

StackDepot& Depot();
LiveTable& Live();

// Moves every thread's pending counts into the stacks' counters (see
// recorder.cc): whoever reads the counters calls it first.
void FlushPendingCounts();
// Samples recorded since start (each thread counts its own in its table).
uint64_t SamplesRecorded();
// Around fork: no table is copied halfway through applying its log (an
// event being logged without the lock is either published before the fork
// or not in the child's copy at all); in the child the locks are free
// again.
void LockPendingCountsForFork();
void UnlockPendingCountsAfterFork();
void ResetPendingCountsAfterFork();

// Allocates the tables. Returns false if memory cannot be had.
bool InitRecorder(const Config& c);

// Horvitz-Thompson weight of a sample of `size` bytes, fixed point: an
// allocation of s bytes is sampled with probability 1 - exp(-s/rate), so
// each sample stands for 1/p allocations.
uint64_t SampleWeight(uint64_t size);

// The weight of a live-table entry for the ages of in-use objects: the
// sample weight, or with block headers that of the age sample.
uint64_t AgeSampleWeight(uint64_t size);

// Records a sampled allocation at p (already allocated).
void RecordAlloc(const RecursionGuard& g, void* p, size_t size);

// Records a sampled allocation at p with a stack already captured.
void RecordAllocAt(const RecursionGuard& g, void* p, size_t size, const uintptr_t* frames,
                   int depth, bool truncated);

// Records an allocation that was freed before it could be recorded: it
// counts as allocated and freed at its stack, and is not in the live table.
void RecordAllocFreed(const RecursionGuard& g, size_t size, const uintptr_t* frames, int depth,
                      bool truncated);

// Frees a block the runtime has recorded, or not: through its header when
// blocks have one.
void FreeBlock(void* p);

// Records the free of p if p is a live sampled object. Call before the
// real free, so the address cannot be reused in between.
void RecordFree(const RecursionGuard& g, void* p);

// Splits RecordFree for realloc: take the entry out first, account it once
// the real realloc succeeded, or put it back if it failed.
bool TakeLive(const RecursionGuard& g, void* p, LiveEntry* e);
void AccountFree(const LiveEntry& e);
void RestoreLive(void* p, const LiveEntry& e);

}  // namespace heapscope::runtime
