// bench-large: large allocations (256 KB .. 8 MB) and realloc growth.
//
// Half the operations allocate a buffer of log-uniform size and fill it page
// by page; the other half grow a buffer from 256 KB with realloc (x1.25 to
// x2 per step) up to a random target, touching each new page, like a
// serializer or a log buffer. Each thread keeps up to four buffers alive, so
// frees come in a different order than allocations. Two threads by default.
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr uint64_t kBaseOperationsPerThread = 5'000;
constexpr size_t kMinSize = 256 << 10;
constexpr size_t kPage = 4096;
constexpr size_t kLiveSlots = 4;

size_t PickSize(bench::Rng& rng) {
  const size_t base = kMinSize << rng.Below(5);  // 256 KB, 512 KB, ... 4 MB.
  return base + rng.Below(base);                 // Up to just under 8 MB.
}

// Writes one byte per page in [from, to) and returns a value read back.
uint64_t TouchPages(unsigned char* buffer, size_t from, size_t to, unsigned char tag) {
  uint64_t sum = 0;
  for (size_t offset = from; offset < to; offset += kPage) {
    buffer[offset] = static_cast<unsigned char>(tag + offset / kPage);
    sum += buffer[offset];
  }
  buffer[to - 1] = tag;
  return sum + buffer[to - 1];
}

struct ThreadResult {
  uint64_t checksum = 0;
  uint64_t bytes = 0;
};

void RunThread(uint64_t seed, uint64_t operations, ThreadResult& result) {
  bench::Rng rng(seed);
  void* live[kLiveSlots] = {};
  for (uint64_t op = 0; op < operations; ++op) {
    const auto tag = static_cast<unsigned char>(rng.Next());
    const size_t target = PickSize(rng);
    unsigned char* buffer = nullptr;
    if (rng.Below(2) == 0) {
      buffer = static_cast<unsigned char*>(std::malloc(target));
      if (buffer == nullptr) std::abort();
      result.checksum = bench::MixChecksum(result.checksum, TouchPages(buffer, 0, target, tag));
    } else {
      size_t size = kMinSize;
      buffer = static_cast<unsigned char*>(std::malloc(size));
      if (buffer == nullptr) std::abort();
      uint64_t sum = TouchPages(buffer, 0, size, tag);
      while (size < target) {
        size_t grown = size + size * rng.Between(1, 4) / 4;
        if (grown > target) grown = target;
        auto* moved = static_cast<unsigned char*>(std::realloc(buffer, grown));
        if (moved == nullptr) std::abort();
        buffer = moved;
        sum += buffer[size - 1];  // Must have survived the move.
        sum += TouchPages(buffer, size, grown, tag);
        size = grown;
      }
      result.checksum = bench::MixChecksum(result.checksum, sum);
    }
    result.bytes += target;
    void*& slot = live[rng.Below(kLiveSlots)];
    std::free(slot);
    slot = buffer;
  }
  for (void* buffer : live) std::free(buffer);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "large", 2, true);
  const uint64_t per_thread = bench::Scaled(kBaseOperationsPerThread, args.scale);
  bench::Stopwatch stopwatch;

  std::vector<ThreadResult> results(static_cast<size_t>(args.threads));
  std::vector<std::thread> threads;
  for (int i = 0; i < args.threads; ++i) {
    threads.emplace_back(RunThread, 0x1A96Eu + static_cast<uint64_t>(i), per_thread,
                         std::ref(results[static_cast<size_t>(i)]));
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t checksum = 0;
  for (const ThreadResult& result : results) {
    checksum = bench::MixChecksum(bench::MixChecksum(checksum, result.checksum), result.bytes);
  }
  bench::PrintResult("large", args, per_thread * static_cast<uint64_t>(args.threads), checksum,
                     stopwatch.Seconds());
  return 0;
}
