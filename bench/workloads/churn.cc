// bench-churn: small-object churn through standard containers.
//
// Each step inserts into and erases from a std::map of strings, a
// std::unordered_map keyed by strings, and a std::vector of strings, holding
// each container near a steady size so nearly every allocation is soon
// matched by a free. Strings are 8..72 bytes: most are past the 15-byte
// small-string buffer, so they really allocate. One thread by default;
// --threads N runs N independent copies.
#include <map>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "workload_common.h"

namespace {

constexpr uint64_t kBaseStepsPerThread = 1'800'000;
constexpr size_t kMapTarget = 20'000;
constexpr size_t kHashTarget = 20'000;
constexpr size_t kVectorTarget = 512;

std::string MakeValue(bench::Rng& rng) {
  const size_t length = rng.Between(8, 72);
  std::string value(length, '\0');
  for (size_t i = 0; i < length; ++i) value[i] = static_cast<char>('a' + (rng.Next() & 15));
  return value;
}

std::string MakeKey(uint64_t id) { return "session:" + std::to_string(id) + ":user"; }

uint64_t RunThread(uint64_t seed, uint64_t steps) {
  bench::Rng rng(seed);
  std::map<uint32_t, std::string> ordered;
  std::unordered_map<std::string, uint64_t> hashed;
  std::vector<std::string> recent;
  uint64_t checksum = 0;

  for (uint64_t step = 0; step < steps; ++step) {
    // Ordered map: insert a fresh entry, erase one near a random key.
    const uint32_t key = static_cast<uint32_t>(rng.Below(kMapTarget * 4));
    ordered.insert_or_assign(key, MakeValue(rng));
    if (ordered.size() > kMapTarget) {
      auto it = ordered.lower_bound(static_cast<uint32_t>(rng.Below(kMapTarget * 4)));
      if (it == ordered.end()) it = ordered.begin();
      checksum = bench::MixChecksum(checksum, it->second.size());
      ordered.erase(it);
    }

    // Hash map keyed by heap strings: insert, look up, erase.
    const uint64_t id = rng.Below(kHashTarget * 3);
    hashed[MakeKey(id)] += step;
    if (hashed.size() > kHashTarget) {
      const auto it = hashed.find(MakeKey(rng.Below(kHashTarget * 3)));
      if (it != hashed.end()) {
        checksum = bench::MixChecksum(checksum, it->second);
        hashed.erase(it);
      }
    }

    // Vector of strings: append, and periodically drop the older half.
    recent.push_back(MakeValue(rng));
    if (recent.size() >= kVectorTarget) {
      checksum = bench::MixChecksum(checksum, recent.front().size() + recent.back().size());
      recent.erase(recent.begin(), recent.begin() + kVectorTarget / 2);
    }
  }
  checksum = bench::MixChecksum(checksum, ordered.size());
  checksum = bench::MixChecksum(checksum, hashed.size());
  return bench::MixChecksum(checksum, recent.size());
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "churn", 1, true);
  const uint64_t steps = bench::Scaled(kBaseStepsPerThread, args.scale);
  bench::Stopwatch stopwatch;

  std::vector<uint64_t> checksums(static_cast<size_t>(args.threads));
  std::vector<std::thread> threads;
  for (int i = 0; i < args.threads; ++i) {
    threads.emplace_back([&checksums, i, steps] {
      checksums[static_cast<size_t>(i)] = RunThread(0xC4u + static_cast<uint64_t>(i), steps);
    });
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t checksum = 0;
  for (uint64_t value : checksums) checksum = bench::MixChecksum(checksum, value);
  bench::PrintResult("churn", args, steps * static_cast<uint64_t>(args.threads), checksum,
                     stopwatch.Seconds());
  return 0;
}
