// Snapshots ahead of an OOM kill (dumper.cc): the levels of the cgroup's
// memory limit at which resident memory gets a snapshot written, and the
// step from one reading to the next. Pure, for tests.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace heapscope::runtime {

inline constexpr uint32_t kPressureLevels[] = {90, 95, 98};  // percent of the limit
inline constexpr size_t kPressureLevelCount = sizeof kPressureLevels / sizeof kPressureLevels[0];
// Below this the levels are armed again.
inline constexpr uint32_t kPressureRearm = 85;

struct PressureStep {
  size_t fired = 0;          // levels passed since the last re-arm, now
  uint32_t snapshot_at = 0;  // the highest level newly passed: a snapshot; 0: none
};

// Memory held (HeldMemory) at `percent` of the limit, `fired` levels passed before:
// the levels passed now, and whether (at which level) to write a snapshot.
// Several levels passed between two readings make one snapshot.
constexpr PressureStep StepPressure(uint64_t percent, size_t fired) {
  if (percent < kPressureRearm) return {0, 0};
  size_t level = fired;
  while (level < kPressureLevelCount && percent >= kPressureLevels[level]) level++;
  if (level == fired) return {fired, 0};
  return {level, kPressureLevels[level - 1]};
}

// The memory held against the limit: the larger of the process's
// resident memory and what the cgroup cannot reclaim (anon + shmem, its
// other processes and tmpfs files included), the latter read every few
// seconds (`cgroup`, with `rss_then` the resident memory at that reading;
// 0: not read) and moved since by the process's own change.
constexpr uint64_t HeldMemory(uint64_t rss, uint64_t cgroup, uint64_t rss_then) {
  if (cgroup == 0) return rss;
  uint64_t now = rss >= rss_then ? cgroup + (rss - rss_then)
                                 : cgroup - (rss_then - rss < cgroup ? rss_then - rss : cgroup);
  return now > rss ? now : rss;
}

}  // namespace heapscope::runtime
