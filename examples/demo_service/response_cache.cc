#include "response_cache.h"

namespace demo {

ResponseCache::ResponseCache(size_t capacity_bytes) : capacity_bytes_(capacity_bytes) {}

size_t ResponseCache::Charge(const Entry& entry) {
  constexpr size_t kOverhead = sizeof(Entry) + 4 * sizeof(void*) + 32;
  return entry.key.size() + entry.value.size() + kOverhead;
}

std::optional<std::string> ResponseCache::Get(std::string_view key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  recency_.splice(recency_.begin(), recency_, it->second);
  return it->second->value;
}

void ResponseCache::Put(std::string_view key, std::string_view value) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto existing = index_.find(key);
  if (existing != index_.end()) {
    const EntryList::iterator entry = existing->second;
    bytes_ -= Charge(*entry);
    index_.erase(existing);  // Before the list node: the map key points into it.
    recency_.erase(entry);
  }
  recency_.push_front(Entry{std::string(key), std::string(value)});
  bytes_ += Charge(recency_.front());
  index_.emplace(recency_.front().key, recency_.begin());
  EvictToFit();
}

void ResponseCache::EvictToFit() {
  while (bytes_ > capacity_bytes_ && recency_.size() > 1) {
    const Entry& oldest = recency_.back();
    bytes_ -= Charge(oldest);
    index_.erase(oldest.key);
    recency_.pop_back();
  }
}

}  // namespace demo
