#include "runtime/stack_depot.h"

#include <string.h>

namespace heapscope::runtime {

bool StackDepot::Init(size_t max_stacks) {
  max_stacks_ = max_stacks;
  buckets_ = static_cast<std::atomic<StackNode*>*>(
      base::MapPages(kBuckets * sizeof(std::atomic<StackNode*>)));
  nodes_ = static_cast<StackNode**>(base::MapPages((max_stacks + 1) * sizeof(StackNode*)));
  return buckets_ != nullptr && nodes_ != nullptr;
}

uint64_t StackDepot::Hash(const uintptr_t* frames, int depth) {
  uint64_t h = 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(depth);
  for (int i = 0; i < depth; i++) {
    h ^= frames[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
  }
  return h;
}

static bool Same(const StackNode* n, uint64_t hash, const uintptr_t* frames, int depth,
                 bool truncated) {
  return n->hash == hash && n->depth == depth && (n->truncated != 0) == truncated &&
         memcmp(n->frames, frames, sizeof(uintptr_t) * static_cast<size_t>(depth)) == 0;
}

StackId StackDepot::FindOrInsert(const uintptr_t* frames, int depth, bool truncated,
                                 bool* is_new) {
  *is_new = false;
  uint64_t hash = Hash(frames, depth);
  std::atomic<StackNode*>& bucket = buckets_[hash & (kBuckets - 1)];
  for (StackNode* n = bucket.load(std::memory_order_acquire); n != nullptr;
       n = n->next.load(std::memory_order_acquire)) {
    if (Same(n, hash, frames, depth, truncated)) return n->id;
  }
  base::SpinLockHolder h(lock_);
  // Another thread may have inserted it while we waited.
  for (StackNode* n = bucket.load(std::memory_order_acquire); n != nullptr;
       n = n->next.load(std::memory_order_acquire)) {
    if (Same(n, hash, frames, depth, truncated)) return n->id;
  }
  size_t id = count_.load(std::memory_order_relaxed) + 1;
  if (id > max_stacks_) return 0;
  size_t bytes = sizeof(StackNode) + sizeof(uintptr_t) * static_cast<size_t>(depth);
  auto* n = static_cast<StackNode*>(arena_.Alloc(bytes, 64));
  if (n == nullptr) return 0;
  n->hash = hash;
  n->id = static_cast<StackId>(id);
  n->depth = static_cast<uint16_t>(depth);
  n->truncated = truncated ? 1 : 0;
  memcpy(n->frames, frames, sizeof(uintptr_t) * static_cast<size_t>(depth));
  n->next.store(bucket.load(std::memory_order_relaxed), std::memory_order_relaxed);
  nodes_[id] = n;
  count_.store(id, std::memory_order_release);
  bucket.store(n, std::memory_order_release);
  *is_new = true;
  return static_cast<StackId>(id);
}

size_t StackDepot::mapped_bytes() const {
  return arena_.mapped_bytes() + kBuckets * sizeof(void*) + (max_stacks_ + 1) * sizeof(void*);
}

}  // namespace heapscope::runtime
