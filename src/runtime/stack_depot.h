// Deduplicated call stacks with their allocation counters, in mmap'ed
// memory. Lookups are lock-free; inserts (new stacks only, rare after
// warm-up) take one lock. Ids are small integers, 0 meaning "none", in the
// manner of sanitizer_common's StackDepot.
//
// A stack is found by a 96-bit hash of its frames alone: the lookup reads
// one slot of an open-addressing index and never the stack itself, so a
// program whose allocations come from thousands of stacks pays one cache
// miss per lookup instead of four or five (the slot, the node, its frames).
// Two different stacks would have to agree on all 96 bits to be merged:
// with the largest depot allowed (2^24 stacks) that happens with a
// probability of about 2^-49.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/base.h"
#include "base/mmap_arena.h"
#include "base/spinlock.h"

namespace heapscope::runtime {

using StackId = uint32_t;

// Counters are unbiased estimates in units of 1/kWeightOne (fixed point).
inline constexpr uint64_t kWeightOne = 256;

// Counters of one stack, in a dense array by id (two to a cache line):
// threads add to them in batches (see recorder.cc), so lines are seldom
// shared in practice, and the counters of the stacks in use stay few lines.
struct alignas(32) StackCounters {
  std::atomic<uint64_t> alloc_objects;  // fixed point
  std::atomic<uint64_t> alloc_bytes;    // fixed point
  std::atomic<uint64_t> free_objects;
  std::atomic<uint64_t> free_bytes;
};

// A 96-bit hash of a stack: the index key (never 0) and a tag.
struct StackHash {
  uint64_t key;
  uint32_t tag;
};

// The stack hash, taken a frame at a time (leaf first), so that the stack
// walk can compute it as it goes: its few multiplies a frame run beside
// the walk's chain of dependent loads, which leaves the core waiting
// anyway. Two lanes in the manner of MurmurHash3 x64-128 (each frame goes
// into both, mixed differently), finished with its fmix64.
class StackHasher {
 public:
  HS_ALWAYS_INLINE void Add(uint64_t frame) {
    constexpr uint64_t c1 = 0x87c37b91114253d5ULL;
    constexpr uint64_t c2 = 0x4cf5ad432745937fULL;
    uint64_t k1 = Rotl(frame * c1, 31) * c2;
    uint64_t k2 = Rotl(frame * c2, 33) * c1;
    h1_ = Rotl(h1_ ^ k1, 27) + h2_;
    h1_ = h1_ * 5 + 0x52dce729;
    h2_ = Rotl(h2_ ^ k2, 31) + h1_;
    h2_ = h2_ * 5 + 0x38495ab5;
  }
  // The hash of the frames added, `depth` of them (cut short of the stack
  // when `truncated`).
  StackHash Finish(int depth, bool truncated) const {
    uint64_t seed = static_cast<uint64_t>(depth) | (truncated ? uint64_t{1} << 32 : 0);
    uint64_t h1 = h1_ ^ seed, h2 = h2_ ^ (seed * 0x9E3779B97F4A7C15ULL);
    h1 += h2;
    h2 += h1;
    h1 = Fmix(h1);
    h2 = Fmix(h2);
    h1 += h2;
    h2 += h1;
    return StackHash{h1 != 0 ? h1 : 1, static_cast<uint32_t>(h2 >> 32)};
  }

 private:
  static uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
  static uint64_t Fmix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
  }
  uint64_t h1_ = 0x243F6A8885A308D3ULL;
  uint64_t h2_ = 0x13198A2E03707344ULL;
};

// A stack, immutable once published.
struct StackNode {
  uint64_t hash;  // the index key (never 0)
  uint32_t tag;   // the other 32 bits of the hash
  StackId id;
  uint16_t depth;
  uint16_t truncated;
  StackCounters* counters;
  uintptr_t frames[];  // return addresses, leaf first
};

class StackDepot {
 public:
  // Maps the tables. Returns false if memory cannot be had.
  bool Init(size_t max_stacks);

  // The id of this stack, inserting it if new; 0 when the depot is full.
  // *is_new tells whether this call inserted it.
  StackId FindOrInsert(const uintptr_t* frames, int depth, bool truncated, bool* is_new) {
    return FindOrInsert(frames, depth, truncated, Hash(frames, depth, truncated), is_new);
  }
  // The same, with the stack's hash already taken (by the walk).
  StackId FindOrInsert(const uintptr_t* frames, int depth, bool truncated, StackHash h,
                       bool* is_new);

  StackNode* Get(StackId id) const {
    return id != 0 && id <= count_.load(std::memory_order_acquire)
               ? chunks_[id >> kChunkBits]->nodes[id & (kIdsPerChunk - 1)]
               : nullptr;
  }
  // The counters of a stack id handed out by FindOrInsert.
  StackCounters& Counters(StackId id) {
    return chunks_[id >> kChunkBits]->counters[id & (kIdsPerChunk - 1)];
  }
  // Highest id handed out.
  size_t size() const { return count_.load(std::memory_order_acquire); }

  void LockForFork() { lock_.Lock(); }
  void UnlockAfterFork() { lock_.Unlock(); }
  void ResetLockAfterFork() { lock_.ResetAfterFork(); }

  static StackHash Hash(const uintptr_t* frames, int depth, bool truncated) {
    StackHasher h;
    for (int i = 0; i < depth; i++) h.Add(frames[i]);
    return h.Finish(depth, truncated);
  }

 private:
  // Index slot: the key, then the tag and id. Written under the lock, id
  // word first, key last (release); readers load the key first (acquire).
  struct Slot {
    std::atomic<uint64_t> key;     // 0: empty
    std::atomic<uint64_t> tag_id;  // tag << 32 | id
  };
  // An index is never unmapped: readers may still be in an old one after it
  // was replaced by one twice its size (they then miss, take the lock and
  // look again in the new one). The old ones add up to less than the newest.
  struct Index {
    size_t mask;  // slots - 1
    Slot slots[];
  };
  static constexpr size_t kInitialSlots = 4096;

  Index* NewIndex(size_t slots);
  size_t ChunkCount() const { return (max_stacks_ >> kChunkBits) + 1; }
  static StackId Find(const Index* index, StackHash h);
  static void Place(Index* index, StackHash h, StackId id);

  std::atomic<Index*> index_{nullptr};
  // Nodes and counters by id, in chunks mapped as ids reach them (so the
  // depot maps what its stacks need, not what its limit allows).
  static constexpr int kChunkBits = 12;
  static constexpr size_t kIdsPerChunk = size_t{1} << kChunkBits;
  struct IdChunk {
    StackCounters counters[kIdsPerChunk];
    StackNode* nodes[kIdsPerChunk];
  };
  IdChunk** chunks_ = nullptr;  // by id >> kChunkBits
  size_t max_stacks_ = 0;
  std::atomic<size_t> count_{0};
  base::SpinLock lock_;
  base::MmapArena arena_{1 << 20};
};

}  // namespace heapscope::runtime
