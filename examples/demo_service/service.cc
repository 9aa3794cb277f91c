#include "service.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <unordered_map>
#include <utility>

#include "audit_log.h"
#include "event_bus.h"
#include "session_cache.h"
#include "watchdog.h"

namespace demo {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kTick{10};
// A worker further behind schedule than this (say, under a slow profiler)
// drops the backlog instead of bursting to catch up, like a server shedding load.
constexpr std::chrono::milliseconds kMaxLag{250};

uint64_t Mix(uint64_t value) {
  value ^= value >> 33;
  value *= 0xFF51AFD7ED558CCDull;
  value ^= value >> 33;
  return value;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    if (space != 0) words.emplace_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

std::string RenderItem(uint64_t item, std::string_view lang, const GeoTable::Region& region) {
  // Deterministic per item, 1-3 KB, built from many small pieces like a
  // template engine would.
  const uint64_t seed = Mix(item + 1);
  const size_t description_size = 1024 + seed % 2048;
  std::vector<std::string> fields;
  fields.push_back("\"id\":" + std::to_string(item));
  fields.push_back("\"lang\":\"" + std::string(lang) + "\"");
  fields.push_back("\"price_cents\":" + std::to_string(seed % 100000));
  fields.push_back("\"stock\":" + std::to_string((seed >> 20) % 500));
  fields.push_back("\"region\":" + std::to_string(region.country) + "." +
                   std::to_string(region.zone));
  std::string description = "\"description\":\"";
  uint64_t word = seed;
  while (description.size() < description_size) {
    word = Mix(word);
    description += "lorem-" + std::to_string(word % 10000) + ' ';
  }
  description += '"';
  fields.push_back(std::move(description));

  std::string body = "{";
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) body += ',';
    body += fields[i];
  }
  body += '}';
  return body;
}

}  // namespace

Service::Service(const ServiceOptions& options)
    : options_(options),
      started_(Clock::now()),
      geo_table_(GeoTable::Build(options.geo_ranges)),
      response_cache_(options.response_cache_bytes),
      next_watchdog_ns_(
          std::chrono::duration_cast<std::chrono::nanoseconds>(options.watchdog_period).count()),
      report_builder_(options.report, &requests_served_) {}

Service::~Service() { Stop(); }

void Service::Start() {
  report_builder_.Start();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back(&Service::WorkerLoop, this, i);
}

void Service::Stop() {
  stopping_.store(true, std::memory_order_relaxed);
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  report_builder_.Stop();
}

int64_t Service::NanosSinceStart() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
}

int64_t Service::TenantEpoch() const {
  return NanosSinceStart() /
         std::chrono::duration_cast<std::chrono::nanoseconds>(options_.new_tenant_period).count();
}

void Service::WorkerLoop(int worker_index) {
  RequestGenerator generator(worker_index, 0x5EED0000u + static_cast<uint64_t>(worker_index));
  const double requests_per_tick = options_.requests_per_second / options_.workers *
                                   std::chrono::duration<double>(kTick).count();
  double owed = 0;
  Clock::time_point next_tick = Clock::now();
  while (!stopping_.load(std::memory_order_relaxed)) {
    owed += requests_per_tick;
    for (; owed >= 1 && !stopping_.load(std::memory_order_relaxed); owed -= 1) {
      const std::string raw = generator.Next(TenantEpoch());
      const std::optional<Request> request = ParseRequest(raw);
      // The response would be written to a socket; building it is the work.
      const std::string response =
          request ? Handle(*request) : BuildResponse(400, "text/plain", "malformed request\n");
      requests_served_.fetch_add(1, std::memory_order_relaxed);
    }
    next_tick += kTick;
    const Clock::time_point now = Clock::now();
    if (now > next_tick + kMaxLag) {
      next_tick = now;
    } else {
      std::this_thread::sleep_until(next_tick);
    }
  }
}

void Service::MaybeArmWatchdog(std::string_view request_id) {
  const int64_t now = NanosSinceStart();
  int64_t due = next_watchdog_ns_.load(std::memory_order_relaxed);
  if (now < due) return;
  const int64_t period =
      std::chrono::duration_cast<std::chrono::nanoseconds>(options_.watchdog_period).count();
  // Only the worker that advances the deadline arms the watchdog.
  if (next_watchdog_ns_.compare_exchange_strong(due, due + period, std::memory_order_relaxed)) {
    SpawnWatchdog(request_id);
  }
}

std::string Service::Handle(const Request& request) {
  const std::string_view request_id = request.Header("x-request-id");
  SessionCache::Instance().Remember(request_id, request);
  const GeoTable::Region region = geo_table_.Lookup(request.Header("x-forwarded-for"));
  MaybeArmWatchdog(request_id);

  switch (request.route) {
    case Route::kGetItem:
      return ServeItem(request, region);
    case Route::kSearch:
      return ServeSearch(request, region);
    case Route::kSubscribe: {
      AuditLog::Instance().Append(
          request.Header("x-tenant"),
          std::string(request_id) + " subscribe " + std::string(request.Query("topic")));
      const size_t listeners = EventBus::Instance().Subscribe(request.Query("topic"), request.body);
      return BuildResponse(201, "application/json",
                           "{\"subscribed\":true,\"listeners\":" + std::to_string(listeners) + "}");
    }
    case Route::kPublish: {
      AuditLog::Instance().Append(
          request.Header("x-tenant"),
          std::string(request_id) + " publish " + std::string(request.Query("topic")));
      const size_t matched = EventBus::Instance().Publish(request.Query("topic"), request.body);
      return BuildResponse(202, "application/json",
                           "{\"delivered\":" + std::to_string(matched) + "}");
    }
    case Route::kNotFound:
      break;
  }
  return BuildResponse(404, "text/plain", "not found\n");
}

std::string Service::ServeItem(const Request& request, const GeoTable::Region& region) {
  const std::string_view id_text =
      std::string_view(request.path).substr(request.path.rfind('/') + 1);
  uint64_t item = 0;
  const auto [end, error] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), item);
  if (error != std::errc() || end != id_text.data() + id_text.size()) {
    return BuildResponse(400, "text/plain", "bad item id\n");
  }
  const std::string_view lang = request.Query("lang");
  const std::string cache_key = request.path + "?lang=" + std::string(lang);
  if (std::optional<std::string> cached = response_cache_.Get(cache_key)) {
    return BuildResponse(200, "application/json", *cached);
  }
  const std::string body = RenderItem(item, lang, region);
  response_cache_.Put(cache_key, body);
  return BuildResponse(200, "application/json", body);
}

std::string Service::ServeSearch(const Request& request, const GeoTable::Region& region) {
  const std::vector<std::string> terms = SplitWords(request.Query("q"));
  size_t limit = 20;
  const std::string_view limit_text = request.Query("limit");
  std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);

  // Score candidate documents per term, merge, rank.
  std::unordered_map<std::string, double> scores;
  for (const std::string& term : terms) {
    const uint64_t term_hash = Mix(std::hash<std::string>{}(term) ^ region.zone);
    for (uint64_t i = 0; i < 40; ++i) {
      const uint64_t doc = Mix(term_hash + i) % 5000;
      scores["doc-" + std::to_string(doc)] += 1.0 / static_cast<double>(i + 1);
    }
  }
  std::vector<std::pair<std::string, double>> ranked(scores.begin(), scores.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (ranked.size() > limit) ranked.resize(limit);

  std::string body = "{\"hits\":[";
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (i > 0) body += ',';
    body +=
        "{\"doc\":\"" + ranked[i].first + "\",\"score\":" + std::to_string(ranked[i].second) + "}";
  }
  body += "]}";
  return BuildResponse(200, "application/json", body);
}

}  // namespace demo
