// bench-hooks: the cost of one allocation call, for comparing a process with
// and without a preloaded allocator hook (heapscope's runtime, or another
// allocator). Deliberately independent of heapscope's headers: the binary is
// an ordinary client, and all interception happens through LD_PRELOAD.
//
//   build/bin/bench-hooks
//   LD_PRELOAD=build/lib/libheapscope.so HEAPSCOPE_OUT=/tmp/hs build/bin/bench-hooks
//
// Small sizes are sampled rarely at the default 512 KB rate, so their times
// show the fast path; the large sizes are sampled often and show the cost of
// recording a sample.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

namespace {

void BM_MallocFree(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    void* pointer = std::malloc(size);
    benchmark::DoNotOptimize(pointer);
    std::free(pointer);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFree)->Arg(16)->Arg(64)->Arg(256)->Arg(4096);
BENCHMARK(BM_MallocFree)->Arg(64)->Threads(2)->UseRealTime();

void BM_MallocFreeLarge(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  for (auto _ : state) {
    auto* pointer = static_cast<char*>(std::malloc(size));
    benchmark::DoNotOptimize(pointer);
    pointer[0] = 1;  // Make the allocation real without faulting in every page.
    std::free(pointer);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFreeLarge)->Arg(64 << 10)->Arg(256 << 10)->Arg(1 << 20);

struct SmallObject {
  long fields[4];
};

void BM_NewDelete(benchmark::State& state) {
  for (auto _ : state) {
    auto* object = new SmallObject();
    benchmark::DoNotOptimize(object);
    delete object;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NewDelete);

// malloc+free at the bottom of `depth` frames built without frame pointers
// (like Debian's libraries): under HEAPSCOPE_RATE=1 every call is sampled,
// so this is the cost of recording one allocation and its free with a
// stack of that depth; at the default rate, the fast path under a deep
// stack.
[[gnu::noinline, gnu::optimize("omit-frame-pointer")]] void* AllocAtDepth(int depth,
                                                                         size_t size) {
  volatile char pad[24];
  pad[0] = static_cast<char>(depth);
  void* p = depth > 0 ? AllocAtDepth(depth - 1, size) : std::malloc(size);
  benchmark::DoNotOptimize(pad[0]);  // keeps the recursion from becoming a loop
  return p;
}

void BM_MallocFreeAtDepth(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  for (auto _ : state) {
    void* pointer = AllocAtDepth(depth, 64);
    benchmark::DoNotOptimize(pointer);
    std::free(pointer);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MallocFreeAtDepth)->Arg(4)->Arg(16)->Arg(64);

// Frees in a different order from allocation, over a working set larger than
// the allocator's per-thread caches: closer to a real program than the
// immediate malloc/free pairs above.
void BM_MallocBatchThenFree(benchmark::State& state) {
  const size_t count = static_cast<size_t>(state.range(0));
  std::vector<void*> pointers(count);
  for (auto _ : state) {
    for (size_t i = 0; i < count; ++i) pointers[i] = std::malloc(16 + (i * 40) % 512);
    benchmark::DoNotOptimize(pointers.data());
    for (size_t i = 0; i < count; ++i) std::free(pointers[(i * 7919) % count]);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(count));
}
BENCHMARK(BM_MallocBatchThenFree)->Arg(1000);

}  // namespace

BENCHMARK_MAIN();
