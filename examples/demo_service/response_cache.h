// NOT A LEAK (decoy a): a bounded LRU cache of rendered item responses.
//
// Capacity is counted in bytes (4 MB by default). It fills within the first
// second or two and then stays flat: every insert past capacity evicts the
// least recently used entries, so entries churn but the total does not grow.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RESPONSE_CACHE_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RESPONSE_CACHE_H_

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "request.h"

namespace demo {

class ResponseCache {
 public:
  explicit ResponseCache(size_t capacity_bytes);

  std::optional<std::string> Get(std::string_view key);
  void Put(std::string_view key, std::string_view value);

 private:
  struct Entry {
    std::string key;
    std::string value;
  };
  using EntryList = std::list<Entry>;

  // Bytes charged for an entry: payload plus a fixed estimate for the node,
  // the map slot and the string headers.
  static size_t Charge(const Entry& entry);
  void EvictToFit();  // Requires mutex_.

  const size_t capacity_bytes_;
  std::mutex mutex_;
  size_t bytes_ = 0;
  EntryList recency_;                                                // Front is most recently used.
  std::unordered_map<std::string_view, EntryList::iterator> index_;  // Keys point into recency_.
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_RESPONSE_CACHE_H_
