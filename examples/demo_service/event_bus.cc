#include "event_bus.h"

#include <utility>

namespace demo {
namespace {

// True if any quoted word of the filter occurs in the event.
bool FilterMatches(const std::vector<char>& filter, std::string_view event) {
  const std::string_view text(filter.data(), filter.size());
  size_t pos = 0;
  while ((pos = text.find('"', pos)) != std::string_view::npos) {
    const size_t end = text.find('"', pos + 1);
    if (end == std::string_view::npos) break;
    const std::string_view word = text.substr(pos + 1, end - pos - 1);
    if (word == "*" || (!word.empty() && event.find(word) != std::string_view::npos)) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace

EventBus& EventBus::Instance() {
  // Never destroyed: worker threads may still be using it while the process exits.
  static EventBus* const instance = new EventBus();
  return *instance;
}

size_t EventBus::Subscribe(std::string_view topic, std::string_view filter) {
  // The listener owns a copy of the filter: the request that carried it is
  // gone by the time an event arrives.
  std::vector<char> filter_copy(filter.begin(), filter.end());
  Listener listener = [filter = std::move(filter_copy)](std::string_view event) {
    return FilterMatches(filter, event);
  };

  std::lock_guard<std::mutex> lock(mutex_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) it = topics_.emplace(std::string(topic), std::vector<Listener>()).first;
  it->second.push_back(std::move(listener));
  return it->second.size();
}

size_t EventBus::Publish(std::string_view topic, std::string_view event) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = topics_.find(topic);
  if (it == topics_.end()) return 0;
  size_t matched = 0;
  for (const Listener& listener : it->second) matched += listener(event) ? 1 : 0;
  return matched;
}

}  // namespace demo
