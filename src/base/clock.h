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

// CPU time of the calling thread in nanoseconds (a system call, ~0.5 us):
// the work a call did, without the time the thread waited to run.
inline uint64_t ThreadCpuNs() {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace heapscope::base
