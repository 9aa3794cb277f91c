// The sampling decision. Hot path: one thread-local subtraction and a
// compare (tcmalloc's Sampler::TryRecordAllocationFast); everything else in
// a noinline slow path.
#pragma once

#include <cstddef>

#include "runtime/runtime.h"

namespace heapscope::runtime {

// True when this allocation of `size` bytes is not sampled and the counter
// has been charged. Inline, no calls.
HS_ALWAYS_INLINE bool TrySkipFast(size_t size) {
  ThreadState& t = tls_state;
  if (HS_LIKELY(size < t.bytes_until_sample)) {
    t.bytes_until_sample -= size;
    return true;
  }
  return false;
}

HS_NOINLINE bool HeaderSampleSlow(size_t size);

// With block headers at a sampled rate (2 to 64K, recorder.h): whether this
// allocation of `size` bytes is sampled, by the same exponential distances
// as TrySkipFast's, counted apart. Only once the runtime has read its
// configuration (the hooks put headers on after that).
HS_ALWAYS_INLINE bool HeaderSampleNow(size_t size) {
  ThreadState& t = tls_state;
  if (HS_LIKELY(size < t.header_until_sample)) {
    t.header_until_sample -= size;
    return false;
  }
  return HeaderSampleSlow(size);
}

// The slow path: initialises the runtime and the thread if needed and
// decides. Returns true if the allocation is to be sampled. Never true
// while the thread is inside the profiler.
HS_NOINLINE bool ShouldSampleSlow(size_t size);

// An exponentially distributed distance in bytes with the given mean, from
// this thread's generator.
uint64_t RandomInterval(uint64_t mean);

// In a forked child (its one thread): draw a new seed, and the distance to
// the next sample with it, at the next allocation. Children of one parent
// would otherwise all sample the same allocations as one another.
void ReseedAfterFork();

}  // namespace heapscope::runtime
