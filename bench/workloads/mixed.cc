// bench-mixed: allocation-heavy, two threads by default.
//
// Sizes 16 B .. 64 KB, skewed to small. Every allocation happens at the
// bottom of a call chain 2 to 28 frames deep, recursing through distinct
// template instantiations (four "families", switching family at each of the
// first six levels by a random path), so the workload produces thousands of
// distinct stacks, as a real service does. Most objects die within a few
// allocations; one in sixteen is parked in a ring of 4096 and freed when the
// ring wraps, so there is always a few MB of longer-lived memory.
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "workload_common.h"

namespace {

constexpr int kFamilies = 4;
constexpr int kMaxLevel = 26;     // Deepest template level; plus thread frames ~28.
constexpr int kBranchLevels = 6;  // Levels at which the path may switch family.
constexpr size_t kRingSize = 4096;
constexpr size_t kRecentSize = 8;
constexpr uint64_t kBaseAllocationsPerThread = 16'000'000;

// Cache-line aligned: the states sit side by side in one vector, and without
// this the two threads write to shared lines (false sharing) by an amount that
// depends on where the allocator happened to place the vector.
struct alignas(64) ThreadState {
  explicit ThreadState(uint64_t seed) : rng(seed), ring(kRingSize, nullptr) {}

  bench::Rng rng;
  std::vector<void*> ring;
  size_t ring_next = 0;
  void* recent[kRecentSize] = {};
  size_t recent_next = 0;
  uint64_t checksum = 0;
};

size_t PickSize(bench::Rng& rng) {
  const uint64_t bucket = rng.Below(100);
  if (bucket < 60) return rng.Between(16, 128);
  if (bucket < 85) return rng.Between(129, 1024);
  if (bucket < 96) return rng.Between(1025, 8192);
  return rng.Between(8193, 65536);
}

[[gnu::noinline]] uint64_t AllocateAndPlace(ThreadState& state, size_t size, int family) {
  auto* bytes = static_cast<unsigned char*>(std::malloc(size));
  if (bytes == nullptr) std::abort();
  // Touch the object like a constructor would: the head and the last byte.
  std::memset(bytes, family + 1, size < 64 ? size : 64);
  bytes[size - 1] = static_cast<unsigned char>(size);
  const uint64_t value = bytes[0] + bytes[size - 1] * 3u + size;

  if (state.rng.Below(16) == 0) {
    void*& slot = state.ring[state.ring_next];
    state.ring_next = (state.ring_next + 1) % kRingSize;
    std::free(slot);
    slot = bytes;
  } else {
    void*& slot = state.recent[state.recent_next];
    state.recent_next = (state.recent_next + 1) % kRecentSize;
    std::free(slot);
    slot = bytes;
  }
  return value;
}

template <int Family, int Level>
[[gnu::noinline]] uint64_t Frame(ThreadState& state, uint32_t path, int remaining, size_t size) {
  if constexpr (Level >= kMaxLevel) {
    return AllocateAndPlace(state, size, Family) + Level;
  } else {
    if (remaining <= 0) return AllocateAndPlace(state, size, Family) + Level;
    uint64_t result;
    if (Level < kBranchLevels && ((path >> Level) & 1u) != 0) {
      result = Frame<(Family + 1) % kFamilies, Level + 1>(state, path, remaining - 1, size);
    } else {
      result = Frame<Family, Level + 1>(state, path, remaining - 1, size);
    }
    // Work after the call keeps it from becoming a tail call, so every level
    // stays a real frame on the stack.
    return result * 31 + Level;
  }
}

using EntryFunction = uint64_t (*)(ThreadState&, uint32_t, int, size_t);
constexpr EntryFunction kEntries[kFamilies] = {&Frame<0, 0>, &Frame<1, 0>, &Frame<2, 0>,
                                               &Frame<3, 0>};

void RunThread(ThreadState& state, uint64_t allocations) {
  for (uint64_t i = 0; i < allocations; ++i) {
    const size_t size = PickSize(state.rng);
    const int depth = static_cast<int>(state.rng.Below(kMaxLevel));
    const uint32_t path = static_cast<uint32_t>(state.rng.Next());
    const EntryFunction entry = kEntries[state.rng.Below(kFamilies)];
    state.checksum = bench::MixChecksum(state.checksum, entry(state, path, depth, size));
  }
  for (void* object : state.recent) std::free(object);
  for (void* object : state.ring) std::free(object);
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "mixed", 2, true);
  const uint64_t per_thread = bench::Scaled(kBaseAllocationsPerThread, args.scale);
  bench::Stopwatch stopwatch;

  std::vector<ThreadState> states;
  states.reserve(static_cast<size_t>(args.threads));
  for (int i = 0; i < args.threads; ++i) states.emplace_back(0x313u + static_cast<uint64_t>(i));
  std::vector<std::thread> threads;
  for (int i = 0; i < args.threads; ++i) {
    threads.emplace_back(RunThread, std::ref(states[static_cast<size_t>(i)]), per_thread);
  }
  for (std::thread& thread : threads) thread.join();

  uint64_t checksum = 0;
  for (const ThreadState& state : states) checksum = bench::MixChecksum(checksum, state.checksum);
  bench::PrintResult("mixed", args, per_thread * static_cast<uint64_t>(args.threads), checksum,
                     stopwatch.Seconds());
  return 0;
}
