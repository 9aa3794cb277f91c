// NOT A LEAK (decoy b): a periodic, temporary burst.
//
// Every 5 s a background thread renders a usage report of about 30 MB (in
// 64 KB chunks), keeps it for 2 s as if uploading it, then frees all of it.
// Heap use jumps and falls back: a spike, not growth.
#ifndef HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REPORT_BUILDER_H_
#define HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REPORT_BUILDER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace demo {

class ReportBuilder {
 public:
  struct Options {
    std::chrono::milliseconds period{5000};
    std::chrono::milliseconds hold{2000};
    size_t report_bytes = 30 << 20;
    size_t chunk_bytes = 64 << 10;
  };

  // `requests_served` is read for the report's numbers.
  ReportBuilder(Options options, const std::atomic<uint64_t>* requests_served);
  ~ReportBuilder();  // Stops and joins.

  void Start();
  void Stop();

 private:
  void Run();
  // Renders the whole report in memory.
  std::vector<std::string> BuildUsageReport(uint64_t report_number) const;
  // Waits until `deadline`; false if Stop() was called meanwhile.
  bool SleepUntil(std::chrono::steady_clock::time_point deadline);

  const Options options_;
  const std::atomic<uint64_t>* const requests_served_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace demo

#endif  // HEAPSCOPE_EXAMPLES_DEMO_SERVICE_REPORT_BUILDER_H_
