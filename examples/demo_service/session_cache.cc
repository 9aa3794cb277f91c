#include "session_cache.h"

#include <chrono>

namespace demo {

SessionCache& SessionCache::Instance() {
  // Never destroyed: worker threads may still be using it while the process exits.
  static SessionCache* const instance = new SessionCache();
  return *instance;
}

void SessionCache::Remember(std::string_view request_id, const Request& request) {
  SessionRecord record;
  size_t snapshot_size = 0;
  for (const auto& [name, value] : request.headers) snapshot_size += name.size() + value.size() + 2;
  record.snapshot.reserve(snapshot_size);
  for (const auto& [name, value] : request.headers) {
    record.snapshot += name;
    record.snapshot += '=';
    record.snapshot += value;
    record.snapshot += ';';
  }
  record.created_at_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();

  std::lock_guard<std::mutex> lock(mutex_);
  sessions_.insert_or_assign(std::string(request_id), std::move(record));
}

int64_t SessionCache::Touch(std::string_view request_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = sessions_.find(request_id);
  if (it == sessions_.end()) return -1;
  return ++it->second.lookups;
}

size_t SessionCache::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sessions_.size();
}

}  // namespace demo
