// The monotonic clock in nanoseconds: a vDSO call, no allocation, safe in
// signal handlers.
#pragma once

#include <stdint.h>
#include <time.h>

namespace heapscope::base {

inline uint64_t MonoNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace heapscope::base
