#include "runtime/live_table.h"

#include "base/base.h"
#include "base/mmap_arena.h"

namespace heapscope::runtime {
namespace {

constexpr uint64_t kStackBits = 24;
constexpr uint64_t kStackMask = (uint64_t{1} << kStackBits) - 1;
constexpr uint64_t kMaxSize = (uint64_t{1} << (64 - kStackBits)) - 1;

uint64_t Pack(const LiveEntry& e) {
  uint64_t size = e.size > kMaxSize ? kMaxSize : e.size;
  return size << kStackBits | (e.stack & kStackMask);
}

LiveEntry UnpackValue(uint64_t v, uint64_t birth) {
  return LiveEntry{v >> kStackBits, static_cast<StackId>(v & kStackMask),
                   static_cast<uint32_t>(birth)};
}

uintptr_t LoadKey(const uintptr_t* k) { return __atomic_load_n(k, __ATOMIC_RELAXED); }
void StoreKey(uintptr_t* k, uintptr_t v) { __atomic_store_n(k, v, __ATOMIC_RELAXED); }

}  // namespace

LiveEntry LiveTable::Unpack(const Slot& s) { return UnpackValue(s.value, s.birth); }

void LiveTable::BeginWrite(Shard& s) {
  s.version.store(s.version.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}

void LiveTable::EndWrite(Shard& s) {
  s.version.store(s.version.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

bool LiveTable::AbsentLockFree(Shard& s, uintptr_t p, uint64_t h) {
  uint32_t v1 = s.version.load(std::memory_order_acquire);
  if ((v1 & 1) != 0) return false;
  SlotArray* a = s.array.load(std::memory_order_acquire);
  bool absent = true;
  if (a != nullptr) {
    size_t j = (h >> kShardBits) & a->mask;
    for (size_t n = 0; n <= a->mask; n++, j = (j + 1) & a->mask) {
      uintptr_t k = LoadKey(&a->slots[j].key);
      if (k == 0) break;
      if (k == p) {
        absent = false;
        break;
      }
    }
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return absent && s.version.load(std::memory_order_relaxed) == v1;
}

bool LiveTable::Grow(Shard& s) {
  SlotArray* old = s.array.load(std::memory_order_relaxed);
  size_t old_cap = old == nullptr ? 0 : old->mask + 1;
  size_t cap = old_cap == 0 ? 256 : old_cap * 2;
  size_t bytes = sizeof(SlotArray) + cap * sizeof(Slot);
  auto* a = static_cast<SlotArray*>(base::MapPages(bytes));
  if (a == nullptr) return false;
  mapped_.fetch_add(bytes, std::memory_order_relaxed);
  a->mask = cap - 1;
  for (size_t i = 0; i < old_cap; i++) {
    uintptr_t key = old->slots[i].key;
    if (key == 0) continue;
    size_t j = (Mix(key) >> kShardBits) & a->mask;
    while (a->slots[j].key != 0) j = (j + 1) & a->mask;
    a->slots[j] = old->slots[i];
  }
  // Readers without the lock may still be probing the old array: it stays
  // mapped (the arrays a shard ever had add up to less than twice its last),
  // but its pages go back to the system. Such a reader may then see zeros
  // (an empty slot: "absent"), so this is a write: the count it checks
  // after its probe changes, and it asks again under the lock.
  BeginWrite(s);
  s.array.store(a, std::memory_order_release);
  s.array_mask.store(cap - 1, std::memory_order_relaxed);
  if (old != nullptr) base::ReleasePages(old, sizeof(SlotArray) + old_cap * sizeof(Slot));
  EndWrite(s);
  return true;
}

LiveTable::InsertResult LiveTable::Insert(uintptr_t p, const LiveEntry& e, LiveEntry* replaced) {
  uint64_t h = Mix(p);
  Shard& s = shards_[h & (kShards - 1)];
  base::SpinLockHolder hold(s.lock);
  SlotArray* a = s.array.load(std::memory_order_relaxed);
  size_t mask = s.array_mask.load(std::memory_order_relaxed);
  if (a != nullptr) {
    for (size_t j = (h >> kShardBits) & mask;; j = (j + 1) & mask) {
      if (a->slots[j].key == 0) break;
      if (a->slots[j].key == p) {
        *replaced = Unpack(a->slots[j]);
        a->slots[j].value = Pack(e);
        a->slots[j].birth = e.birth;
        return InsertResult::kReplaced;
      }
    }
  }
  size_t used = s.used.load(std::memory_order_relaxed);
  if (used >= max_per_shard_) return InsertResult::kFull;
  if (HS_UNLIKELY(exact_count_) && count_.load(std::memory_order_relaxed) >= max_entries_) {
    return InsertResult::kFull;
  }
  if (a == nullptr || (used + 1) * 10 > (mask + 1) * 7) {
    bool grown = Grow(s);
    a = s.array.load(std::memory_order_relaxed);
    mask = s.array_mask.load(std::memory_order_relaxed);
    // Without growth, keep at least one empty slot so probes end.
    if (!grown && (a == nullptr || used + 1 > mask)) return InsertResult::kFull;
  }
  size_t j = (h >> kShardBits) & mask;
  while (a->slots[j].key != 0) j = (j + 1) & mask;
  BeginWrite(s);
  a->slots[j].value = Pack(e);
  a->slots[j].birth = e.birth;
  StoreKey(&a->slots[j].key, p);
  EndWrite(s);
  s.used.store(used + 1, std::memory_order_relaxed);
  if (HS_UNLIKELY(exact_count_)) count_.fetch_add(1, std::memory_order_relaxed);
  return InsertResult::kInserted;
}

bool LiveTable::Remove(uintptr_t p, LiveEntry* out, bool likely_present) {
  uint64_t h = Mix(p);
  Shard& s = shards_[h & (kShards - 1)];
  if (!likely_present && AbsentLockFree(s, p, h)) return false;
  base::SpinLockHolder hold(s.lock);
  SlotArray* a = s.array.load(std::memory_order_relaxed);
  if (a == nullptr) return false;
  size_t mask = s.array_mask.load(std::memory_order_relaxed);
  Slot* slots = a->slots;
  size_t j = (h >> kShardBits) & mask;
  for (;; j = (j + 1) & mask) {
    if (slots[j].key == 0) return false;
    if (slots[j].key == p) break;
  }
  *out = Unpack(slots[j]);
  BeginWrite(s);
  // Backward-shift deletion keeps probe chains intact without tombstones.
  size_t hole = j;
  for (size_t k = (hole + 1) & mask; slots[k].key != 0; k = (k + 1) & mask) {
    size_t home = (Mix(slots[k].key) >> kShardBits) & mask;
    // Move k into the hole if its home is not cyclically in (hole, k].
    bool between = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
    if (!between) {
      slots[hole].value = slots[k].value;
      slots[hole].birth = slots[k].birth;
      StoreKey(&slots[hole].key, slots[k].key);
      hole = k;
    }
  }
  StoreKey(&slots[hole].key, 0);
  EndWrite(s);
  s.used.store(s.used.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  if (HS_UNLIKELY(exact_count_)) count_.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

void LiveTable::Init(size_t max_entries) {
  max_entries_ = max_entries;
  exact_count_ = max_entries < kShards * kMinPerShard;
  max_per_shard_ = exact_count_ ? max_entries : max_entries / kShards;
}

size_t LiveTable::size() const {
  size_t n = 0;
  for (const Shard& s : shards_) n += s.used.load(std::memory_order_relaxed);
  return n;
}

void LiveTable::LockAll() {
  for (auto& s : shards_) s.lock.Lock();
}
void LiveTable::UnlockAll() {
  for (auto& s : shards_) s.lock.Unlock();
}
void LiveTable::ResetLocksAfterFork() {
  for (auto& s : shards_) s.lock.ResetAfterFork();
}

}  // namespace heapscope::runtime
