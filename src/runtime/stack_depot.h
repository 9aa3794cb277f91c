// Deduplicated call stacks with their allocation counters, in mmap'ed
// memory. Lookups are lock-free; inserts (new stacks only, rare after
// warm-up) take one lock. Ids are small integers, 0 meaning "none", in the
// manner of sanitizer_common's StackDepot.
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

// Counters of one stack. They are written on every sampled allocation and
// free, so they sit on their own cache line, away from the immutable
// frames that lookups from other threads read.
struct alignas(64) StackCounters {
  std::atomic<uint64_t> alloc_objects;  // fixed point
  std::atomic<uint64_t> alloc_bytes;    // fixed point
  std::atomic<uint64_t> free_objects;
  std::atomic<uint64_t> free_bytes;
};

struct StackNode {
  StackCounters counters;
  alignas(64) std::atomic<StackNode*> next;  // bucket chain
  uint64_t hash;
  StackId id;
  uint16_t depth;
  uint16_t truncated;
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
    return id != 0 && id <= count_.load(std::memory_order_acquire) ? nodes_[id] : nullptr;
  }
  // Highest id handed out.
  size_t size() const { return count_.load(std::memory_order_acquire); }
  size_t mapped_bytes() const;

  void LockForFork() { lock_.Lock(); }
  void UnlockAfterFork() { lock_.Unlock(); }
  void ResetLockAfterFork() { lock_.ResetAfterFork(); }

  static uint64_t Hash(const uintptr_t* frames, int depth);

 private:
  static constexpr size_t kBuckets = 1 << 16;
  std::atomic<StackNode*>* buckets_ = nullptr;
  StackNode** nodes_ = nullptr;  // by id
  size_t max_stacks_ = 0;
  std::atomic<size_t> count_{0};
  base::SpinLock lock_;
  base::MmapArena arena_{1 << 20};
};

}  // namespace heapscope::runtime
