#include "runtime/stack_depot.h"

#include <string.h>

#include "base/base.h"

namespace heapscope::runtime {

bool StackDepot::Init(size_t max_stacks) {
  max_stacks_ = max_stacks;
  chunks_ = static_cast<IdChunk**>(base::MapPages(ChunkCount() * sizeof(IdChunk*)));
  Index* index = NewIndex(kInitialSlots);
  index_.store(index, std::memory_order_release);
  return chunks_ != nullptr && index != nullptr;
}

StackDepot::Index* StackDepot::NewIndex(size_t slots) {
  size_t bytes = sizeof(Index) + slots * sizeof(Slot);
  auto* index = static_cast<Index*>(base::MapPages(bytes));
  if (index == nullptr) return nullptr;
  index->mask = slots - 1;
  return index;
}

StackId StackDepot::Find(const Index* index, StackHash h) {
  for (size_t i = h.key & index->mask;; i = (i + 1) & index->mask) {
    const Slot& s = index->slots[i];
    uint64_t key = s.key.load(std::memory_order_acquire);
    if (key == 0) return 0;
    if (key != h.key) continue;
    uint64_t tag_id = s.tag_id.load(std::memory_order_relaxed);
    if (static_cast<uint32_t>(tag_id >> 32) == h.tag) return static_cast<StackId>(tag_id);
  }
}

void StackDepot::Place(Index* index, StackHash h, StackId id) {
  size_t i = h.key & index->mask;
  while (index->slots[i].key.load(std::memory_order_relaxed) != 0) i = (i + 1) & index->mask;
  Slot& s = index->slots[i];
  s.tag_id.store(static_cast<uint64_t>(h.tag) << 32 | id, std::memory_order_relaxed);
  s.key.store(h.key, std::memory_order_release);
}

StackId StackDepot::FindOrInsert(const uintptr_t* frames, int depth, bool truncated, StackHash h,
                                 bool* is_new) {
  *is_new = false;
  if (StackId id = Find(index_.load(std::memory_order_acquire), h); id != 0) return id;
  base::SpinLockHolder hold(lock_);
  // Another thread may have inserted it while we waited, or grown the index.
  Index* index = index_.load(std::memory_order_relaxed);
  if (StackId id = Find(index, h); id != 0) return id;
  size_t id = count_.load(std::memory_order_relaxed) + 1;
  if (id > max_stacks_) return 0;
  // At most half full, so that probes stay short (and one always ends).
  if (2 * id > index->mask + 1) {
    Index* bigger = NewIndex(2 * (index->mask + 1));
    if (bigger == nullptr) return 0;
    for (size_t k = 1; k < id; k++) {
      const StackNode* n = chunks_[k >> kChunkBits]->nodes[k & (kIdsPerChunk - 1)];
      Place(bigger, StackHash{n->hash, n->tag}, n->id);
    }
    index_.store(bigger, std::memory_order_release);
    index = bigger;
  }
  IdChunk*& chunk = chunks_[id >> kChunkBits];
  if (chunk == nullptr) {
    chunk = static_cast<IdChunk*>(base::MapPages(sizeof(IdChunk)));
    if (chunk == nullptr) return 0;
  }
  size_t bytes = sizeof(StackNode) + sizeof(uintptr_t) * static_cast<size_t>(depth);
  auto* n = static_cast<StackNode*>(arena_.Alloc(bytes, alignof(StackNode)));
  if (n == nullptr) return 0;
  n->hash = h.key;
  n->tag = h.tag;
  n->id = static_cast<StackId>(id);
  n->depth = static_cast<uint16_t>(depth);
  n->truncated = truncated ? 1 : 0;
  n->counters = &chunk->counters[id & (kIdsPerChunk - 1)];
  memcpy(n->frames, frames, sizeof(uintptr_t) * static_cast<size_t>(depth));
  chunk->nodes[id & (kIdsPerChunk - 1)] = n;
  count_.store(id, std::memory_order_release);
  Place(index, h, static_cast<StackId>(id));
  *is_new = true;
  return static_cast<StackId>(id);
}

}  // namespace heapscope::runtime
