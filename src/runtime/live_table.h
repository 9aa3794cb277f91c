// Live sampled objects: address -> (stack id, size). Sharded open
// addressing with linear probing and backward-shift deletion (no
// tombstones), one spinlock per shard, memory from mmap, grown by doubling.
// Frees of objects that are not here (page-aligned unsampled blocks) are
// answered without the lock, under a per-shard sequence count; replaced slot
// arrays are kept mapped so such readers never touch unmapped memory.
// Only sampled objects are here, so at the default rate it stays small and
// is rarely touched; in every-allocation mode it holds every live object.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "base/spinlock.h"
#include "runtime/stack_depot.h"

namespace heapscope::runtime {

struct LiveEntry {
  uint64_t size;
  StackId stack;
};

class LiveTable {
 public:
  // At most max_entries live objects. A large limit is spread over the
  // shards (each holds max_entries / kShards), so that no count is shared
  // between threads; a small one (tests, tiny budgets) is counted exactly
  // in one shared counter.
  void Init(size_t max_entries);

  enum class InsertResult { kInserted, kReplaced, kFull };
  // Inserts p. If p is already present (its free was never seen, e.g. freed
  // inside a signal handler that interrupted the profiler), the old entry is
  // returned in *replaced and overwritten.
  InsertResult Insert(uintptr_t p, const LiveEntry& e, LiveEntry* replaced);
  // Removes p; returns false if absent. Unless `likely_present` (every
  // allocation is tracked), absence is first checked without the lock.
  bool Remove(uintptr_t p, LiveEntry* out, bool likely_present = false);

  size_t size() const;
  size_t mapped_bytes() const { return mapped_.load(std::memory_order_relaxed); }

  void LockAll();
  void UnlockAll();
  void ResetLocksAfterFork();

 private:
  static constexpr int kShardBits = 7;
  static constexpr size_t kShards = size_t{1} << kShardBits;
  struct Slot {
    uintptr_t key;  // 0: empty; read without the lock, so accessed atomically
    uint64_t value;  // size << 24 | stack id (sizes up to 2^40)
  };
  struct SlotArray {
    size_t mask;  // capacity - 1
    SlotArray* retired;  // the array this one replaced, still mapped
    Slot slots[];
  };
  struct alignas(64) Shard {
    base::SpinLock lock;
    std::atomic<uint32_t> version{0};  // odd while a writer changes slots
    std::atomic<SlotArray*> array{nullptr};
    std::atomic<size_t> used{0};  // written under the lock
  };
  // True if p is certainly absent, decided without the lock.
  static bool AbsentLockFree(Shard& s, uintptr_t p, uint64_t h);
  static void BeginWrite(Shard& s);
  static void EndWrite(Shard& s);
  static uint64_t Mix(uintptr_t p) {
    uint64_t h = p * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
  }
  bool Grow(Shard& s);

  Shard shards_[kShards];
  static constexpr size_t kMinPerShard = 1024;
  size_t max_per_shard_ = 0;
  size_t max_entries_ = 0;
  bool exact_count_ = true;
  std::atomic<size_t> count_{0};  // only when exact_count_
  std::atomic<size_t> mapped_{0};
};

}  // namespace heapscope::runtime
