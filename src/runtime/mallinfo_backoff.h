// When glibc's mallinfo2 may be read again after a slow read (memory_
// snapshot.cc): it walks every free chunk with the arena locked, so a read
// slower than HEAPSCOPE_MALLINFO_MAX stops the program's allocations for
// that long. After one, the next read waits kMallinfoFirstPauseNs, and
// each slow read after that twice as long as the last, up to
// kMallinfoLongestPauseNs: a heap fragmented for a while (a burst freed at
// start, say) gets its breakdown back, at the cost of one slow read per
// pause. A fast read ends the pauses. Pure, for tests.
#pragma once

#include <stdint.h>

namespace heapscope::runtime {

inline constexpr uint64_t kMallinfoFirstPauseNs = 10ULL * 60 * 1'000'000'000;
inline constexpr uint64_t kMallinfoLongestPauseNs = 8ULL * 3600 * 1'000'000'000;

struct MallinfoBackoff {
  uint64_t next_ns = 0;   // no read before this (MonoNs); 0: read when asked
  uint64_t pause_ns = 0;  // the pause set by the last slow read; 0: none
};

constexpr bool MallinfoDue(const MallinfoBackoff& b, uint64_t now_ns) {
  return now_ns >= b.next_ns;
}

// The state after a read at now_ns that was `slow` (or not).
constexpr MallinfoBackoff AfterMallinfoRead(const MallinfoBackoff& b, uint64_t now_ns, bool slow) {
  if (!slow) return {};
  uint64_t pause = b.pause_ns == 0 ? kMallinfoFirstPauseNs : b.pause_ns * 2;
  if (pause > kMallinfoLongestPauseNs) pause = kMallinfoLongestPauseNs;
  return {now_ns + pause, pause};
}

}  // namespace heapscope::runtime
