// LEAK 1: an unbounded cache keyed per request.
//
// Every request's session is remembered under its request id so a "replay"
// endpoint could look it up later. The sweeper that was meant to expire old
// entries was never wired up, so the map only grows: one record (a few
// hundred bytes) per request, roughly 0.6-1 MB/s at the demo's 2,000 req/s.
// The instance is a leaky singleton: it is never destroyed.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SESSION_CACHE_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SESSION_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "request.h"

namespace demo {

class SessionCache {
 public:
  static SessionCache& Instance();

  // Stores a snapshot of the request's session under its request id.
  void Remember(std::string_view request_id, const Request& request);

  // Returns how many times `request_id` was looked up so far, or -1 if unknown.
  int64_t Touch(std::string_view request_id);

  size_t size() const;

 private:
  struct SessionRecord {
    std::string snapshot;  // "name=value;" for every header of the request.
    int64_t created_at_ns = 0;
    int64_t lookups = 0;
  };

  SessionCache() = default;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, SessionRecord, StringHash, std::equal_to<>> sessions_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SESSION_CACHE_H_
