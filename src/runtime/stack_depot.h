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
  StackId FindOrInsert(const uintptr_t* frames, int depth, bool truncated, bool* is_new);

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

  struct Hash96 {
    uint64_t key;  // never 0
    uint32_t tag;
  };
  static Hash96 Hash(const uintptr_t* frames, int depth, bool truncated);

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
  static StackId Find(const Index* index, Hash96 h);
  static void Place(Index* index, Hash96 h, StackId id);

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
