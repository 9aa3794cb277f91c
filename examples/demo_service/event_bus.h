// LEAK 2: listeners registered per request and never removed.
//
// Each subscribe request registers a listener that keeps a private copy of
// the client's filter (a few hundred bytes to 2 KB). The matching unsubscribe
// path does not exist, so listeners pile up: about 250 per second at the
// demo's request mix, roughly 200-400 KB/s. Leaky singleton, never destroyed.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_EVENT_BUS_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_EVENT_BUS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "request.h"

namespace demo {

class EventBus {
 public:
  using Listener = std::function<bool(std::string_view event)>;

  static EventBus& Instance();

  // Registers a listener on `topic` that fires for events containing any
  // word of `filter`. Returns the number of listeners now on the topic.
  size_t Subscribe(std::string_view topic, std::string_view filter);

  // Delivers `event` to every listener on `topic`; returns how many matched.
  size_t Publish(std::string_view topic, std::string_view event);

 private:
  EventBus() = default;

  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Listener>, StringHash, std::equal_to<>> topics_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_EVENT_BUS_H_
