// Live sampled objects: address -> (stack id, size). Sharded open
// addressing with linear probing and backward-shift deletion (no
// tombstones), one spinlock per shard, memory from mmap, grown by doubling.
// Frees of objects that are not here (page-aligned unsampled blocks) are
// answered without the lock, under a per-shard sequence count; replaced slot
// arrays are kept mapped so such readers never touch unmapped memory, but
// their pages are given back (such a reader sees the count change and takes
// the lock).
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
  // When it was allocated: TSC ticks since the runtime started, shifted
  // right by kBirthShift (BirthNow() in recorder.h).
  uint32_t birth = 0;
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

  // Asks for the cache line an Insert of p will write (and its shard's),
  // ahead of time, so that they arrive while the caller does other work
  // (the stack walk). Changes nothing.
  void Prefetch(uintptr_t p) const {
    uint64_t h = Mix(p);
    const Shard& s = shards_[h & (kShards - 1)];
    const SlotArray* a = s.array.load(std::memory_order_relaxed);
    // (Racing a growth, array and mask may not match: a prefetch of an
    // address outside the array is harmless.)
    size_t mask = s.array_mask.load(std::memory_order_relaxed);
    if (a != nullptr) __builtin_prefetch(&a->slots[(h >> kShardBits) & mask], 1);
  }

  // Calls f(const LiveEntry&) for every entry, one shard at a time under its
  // lock. A shard whose lock stays taken (its owner stopped inside the
  // profiler, e.g. by a signal waiting for the final profile) is skipped
  // after a bounded wait; returns the number of shards skipped.
  template <class F>
  size_t ForEach(F&& f);
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
    uint64_t birth;  // LiveEntry::birth
  };
  static LiveEntry Unpack(const Slot& s);
  struct SlotArray {
    size_t mask;  // capacity - 1
    Slot slots[];
  };
  struct alignas(64) Shard {
    base::SpinLock lock;
    std::atomic<uint32_t> version{0};  // odd while a writer changes slots
    std::atomic<SlotArray*> array{nullptr};
    // array->mask, on the shard's own line: the writers under the lock, and
    // Prefetch, read it here and miss the array's first line (readers
    // without the lock read the array's own, which always matches it).
    std::atomic<size_t> array_mask{0};
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

template <class F>
size_t LiveTable::ForEach(F&& f) {
  size_t skipped = 0;
  for (Shard& s : shards_) {
    if (!s.lock.LockBounded()) {
      skipped++;
      continue;
    }
    SlotArray* a = s.array.load(std::memory_order_relaxed);
    if (a != nullptr) {
      for (size_t j = 0; j <= a->mask; j++) {
        if (a->slots[j].key != 0) f(Unpack(a->slots[j]));
      }
    }
    s.lock.Unlock();
  }
  return skipped;
}

}  // namespace heapscope::runtime
