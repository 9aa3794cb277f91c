// Synthetic HTTP/1.1 traffic: the "client" side that writes request text and
// the server side that parses it. Parsing copies into owned strings and maps
// on purpose: that per-request churn is one of the things the demo shows as
// "busy, but not a leak".
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REQUEST_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REQUEST_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "random.h"

namespace demo {

// Lets maps keyed by std::string be searched with a std::string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};

using StringMap = std::unordered_map<std::string, std::string, StringHash, std::equal_to<>>;

enum class Route { kGetItem, kSearch, kSubscribe, kPublish, kNotFound };

struct Request {
  std::string method;
  std::string path;
  Route route = Route::kNotFound;
  StringMap query;
  StringMap headers;  // Names lower-cased.
  std::string body;

  // Empty when absent.
  std::string_view Header(std::string_view name) const;
  std::string_view Query(std::string_view name) const;
};

// Writes the raw text of plausible requests: mostly item lookups, some
// searches, some subscriptions (with a filter body) and a few publishes.
class RequestGenerator {
 public:
  RequestGenerator(int worker_index, uint64_t seed);

  // `tenant_epoch` advances a few times per second; a request names one of
  // the most recent tenants, so new tenants keep appearing at a steady rate.
  std::string Next(int64_t tenant_epoch);

 private:
  void AppendFilterBody(std::string& out, size_t size);

  int worker_index_;
  Random random_;
  uint64_t sequence_ = 0;
};

// Returns nullopt on malformed input.
std::optional<Request> ParseRequest(std::string_view raw);

// Serialises a response with the usual headers.
std::string BuildResponse(int status, std::string_view content_type, std::string_view body);

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REQUEST_H_
