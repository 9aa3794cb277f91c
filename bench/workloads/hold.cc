// bench-hold: builds a heap of a given size out of small and medium objects
// from a few dozen allocation sites, keeps it, and exits: for measuring
// what the profiler's own memory adds to the peak resident size as the heap
// grows (bench/memory/memory_overhead.py).
//
//   bench-hold --scale X   holds X * 256 MiB (sizes 16 B - 8 KiB, mean ~700 B)
//
// While it builds, a tenth of the objects are replaced, so the heap also
// sees frees (and sampled objects dying) as a real one does.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "workload_common.h"

namespace {

constexpr uint64_t kBaseBytes = uint64_t{256} << 20;
constexpr int kSites = 32;

size_t PickSize(bench::Rng& rng) {
  const uint64_t bucket = rng.Below(100);
  if (bucket < 60) return rng.Between(16, 128);
  if (bucket < 90) return rng.Between(129, 1024);
  return rng.Between(1025, 8192);
}

// kSites distinct allocation sites (template instances), each a real frame.
template <int Site>
[[gnu::noinline]] void* AllocateAt(size_t size) {
  auto* p = static_cast<unsigned char*>(std::malloc(size));
  if (p == nullptr) std::abort();
  std::memset(p, Site + 1, size);  // resident, as a real object would be
  return p;
}

template <int... Sites>
constexpr auto MakeTable(std::integer_sequence<int, Sites...>) {
  return std::array<void* (*)(size_t), sizeof...(Sites)>{&AllocateAt<Sites>...};
}

}  // namespace

int main(int argc, char** argv) {
  const bench::WorkloadArgs args = bench::ParseArgs(argc, argv, "hold", 1, false);
  const uint64_t target = bench::Scaled(kBaseBytes, args.scale);
  constexpr auto kTable = MakeTable(std::make_integer_sequence<int, kSites>{});
  bench::Stopwatch stopwatch;
  bench::Rng rng(0x401Du);
  std::vector<void*> objects;
  std::vector<size_t> sizes;
  uint64_t held = 0;
  uint64_t checksum = 0;
  while (held < target) {
    const size_t size = PickSize(rng);
    void* p = kTable[rng.Below(kSites)](size);
    objects.push_back(p);
    sizes.push_back(size);
    held += size;
    if (rng.Below(10) == 0 && objects.size() > 1) {
      // Replace an older object.
      const size_t victim = rng.Below(objects.size() - 1);
      held -= sizes[victim];
      std::free(objects[victim]);
      const size_t replacement = PickSize(rng);
      objects[victim] = kTable[rng.Below(kSites)](replacement);
      sizes[victim] = replacement;
      held += replacement;
    }
  }
  for (size_t i = 0; i < objects.size(); i += 4096) {
    checksum = bench::MixChecksum(checksum, static_cast<unsigned char*>(objects[i])[0]);
  }
  checksum = bench::MixChecksum(checksum, held);
  bench::PrintResult("hold", args, objects.size(), checksum, stopwatch.Seconds());
  // Exit without freeing: the heap is at its peak when the profile is written.
  std::fflush(stdout);
  return 0;
}
