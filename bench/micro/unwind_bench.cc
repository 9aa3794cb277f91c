// bench-unwind: the stack capture alone, at several depths, through frames
// built without frame pointers: heapscope's CFI walk (src/runtime/
// cfi_unwind.h), with the thread's remembered walk and without it, against libunwind's unw_backtrace with its per-thread
// cache.
//
//   build/bin/bench-unwind
#include <benchmark/benchmark.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <cstdint>

#include "runtime/cfi_unwind.h"

namespace {

using heapscope::runtime::CfiBacktrace;

// kCfiFresh forgets the thread's remembered walk first: every frame is a
// rule lookup, as for a stack that shares nothing with the one before.
enum class Walker { kCfi, kCfiFresh, kLibunwind };

template <Walker W>
[[gnu::noinline]] int Walk() {
  uintptr_t frames[256];
  if constexpr (W != Walker::kLibunwind) {
    if constexpr (W == Walker::kCfiFresh) heapscope::runtime::ForgetRememberedWalk();
    bool complete = false;
    return CfiBacktrace(frames, 256, &complete, 0, 0);
  } else {
    return unw_backtrace(reinterpret_cast<void**>(frames), 256);
  }
}

// `depth` frames without frame pointers, then `repeats` walks from the
// bottom. Alternating between two leaf call sites makes consecutive stacks
// differ in their leaf frame, as consecutive allocations of a program do.
template <Walker W>
[[gnu::noinline, gnu::optimize("omit-frame-pointer")]] int64_t WalkAtDepth(
    int depth, benchmark::State& state, int64_t* frames) {
  volatile char pad[24];
  pad[0] = static_cast<char>(depth);
  int64_t n = 0;
  if (depth > 0) {
    n = WalkAtDepth<W>(depth - 1, state, frames);
  } else {
    bool flip = false;
    for (auto _ : state) {
      flip = !flip;
      if (flip) {
        n = Walk<W>();
      } else {
        n = Walk<W>() + 0;
        benchmark::ClobberMemory();
      }
      *frames = n;
    }
  }
  benchmark::DoNotOptimize(pad[0]);
  return n;
}

template <Walker W>
void BM_Unwind(benchmark::State& state) {
  heapscope::runtime::InitCfiUnwinder();
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  int64_t frames = 0;
  WalkAtDepth<W>(static_cast<int>(state.range(0)), state, &frames);
  state.counters["frames"] = static_cast<double>(frames);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Unwind<Walker::kCfi>)->Arg(4)->Arg(16)->Arg(64)->Name("BM_CfiWalk");
BENCHMARK(BM_Unwind<Walker::kCfiFresh>)->Arg(4)->Arg(16)->Arg(64)->Name("BM_CfiWalkFresh");
BENCHMARK(BM_Unwind<Walker::kLibunwind>)->Arg(4)->Arg(16)->Arg(64)->Name("BM_Libunwind");

}  // namespace

BENCHMARK_MAIN();
