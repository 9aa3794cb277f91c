#include "report_builder.h"

#include <cstdio>

namespace demo {

ReportBuilder::ReportBuilder(Options options, const std::atomic<uint64_t>* requests_served)
    : options_(options), requests_served_(requests_served) {}

ReportBuilder::~ReportBuilder() { Stop(); }

void ReportBuilder::Start() { thread_ = std::thread(&ReportBuilder::Run, this); }

void ReportBuilder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ReportBuilder::SleepUntil(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stop_requested_.wait_until(lock, deadline, [this] { return stopping_; });
}

std::vector<std::string> ReportBuilder::BuildUsageReport(uint64_t report_number) const {
  const uint64_t served = requests_served_->load(std::memory_order_relaxed);
  std::vector<std::string> chunks;
  chunks.reserve(options_.report_bytes / options_.chunk_bytes + 1);
  size_t total = 0;
  uint64_t row = 0;
  char line[160];
  while (total < options_.report_bytes) {
    std::string chunk;
    chunk.reserve(options_.chunk_bytes);
    while (chunk.size() + sizeof(line) < options_.chunk_bytes) {
      const int length = std::snprintf(
          line, sizeof(line), "report=%llu row=%llu tenant=%llu requests=%llu bytes_out=%llu\n",
          static_cast<unsigned long long>(report_number), static_cast<unsigned long long>(row),
          static_cast<unsigned long long>(row % 997),
          static_cast<unsigned long long>((served + row) % 100003),
          static_cast<unsigned long long>(row * 2654435761u % 1000000007u));
      chunk.append(line, static_cast<size_t>(length));
      ++row;
    }
    total += chunk.capacity();
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

void ReportBuilder::Run() {
  uint64_t report_number = 0;
  auto next_report = std::chrono::steady_clock::now() + options_.period;
  while (SleepUntil(next_report)) {
    std::vector<std::string> report = BuildUsageReport(++report_number);
    // "Uploading": the report stays in memory for a while, then goes away.
    SleepUntil(std::chrono::steady_clock::now() + options_.hold);
    next_report += options_.period;
  }
}

}  // namespace demo
