// The demo "server": a few worker threads each pacing through its share of
// synthetic requests (2,000 req/s in total by default), parsing them and
// building responses. Request handling is where the four leaks live; the
// decoys (bounded LRU, periodic report burst, start-up table, per-request
// churn) are owned here and cleaned up normally.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SERVICE_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "geo_table.h"
#include "report_builder.h"
#include "request.h"
#include "response_cache.h"

namespace demo {

struct ServiceOptions {
  int workers = 4;
  double requests_per_second = 2000;
  size_t response_cache_bytes = 4 << 20;
  size_t geo_ranges = 512 << 10;  // 16 bytes each: 8 MB.
  std::chrono::milliseconds new_tenant_period{333};
  std::chrono::milliseconds watchdog_period{3000};
  ReportBuilder::Options report;
};

class Service {
 public:
  explicit Service(const ServiceOptions& options);
  ~Service();  // Stops if still running.

  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  void Start();
  // Stops taking requests and joins the workers and the report thread.
  void Stop();

  uint64_t requests_served() const { return requests_served_.load(std::memory_order_relaxed); }

 private:
  void WorkerLoop(int worker_index);
  std::string Handle(const Request& request);
  std::string ServeItem(const Request& request, const GeoTable::Region& region);
  std::string ServeSearch(const Request& request, const GeoTable::Region& region);
  void MaybeArmWatchdog(std::string_view request_id);
  int64_t TenantEpoch() const;
  int64_t NanosSinceStart() const;

  const ServiceOptions options_;
  const std::chrono::steady_clock::time_point started_;
  const GeoTable geo_table_;
  ResponseCache response_cache_;
  std::atomic<uint64_t> requests_served_{0};
  std::atomic<int64_t> next_watchdog_ns_;
  std::atomic<bool> stopping_{false};
  ReportBuilder report_builder_;
  std::vector<std::thread> workers_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_SERVICE_H_
