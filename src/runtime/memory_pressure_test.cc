#include "runtime/memory_pressure.h"

#include <gtest/gtest.h>

#include <vector>

namespace heapscope::runtime {
namespace {

// Resident memory as a percentage of the limit, reading after reading:
// the snapshots written (0: none) and the levels passed after each.
std::vector<uint32_t> Snapshots(const std::vector<uint64_t>& percents) {
  std::vector<uint32_t> out;
  size_t fired = 0;
  for (uint64_t p : percents) {
    PressureStep s = StepPressure(p, fired);
    fired = s.fired;
    out.push_back(s.snapshot_at);
  }
  return out;
}

TEST(MemoryPressureTest, EachLevelOnceOnTheWayUp) {
  EXPECT_EQ(Snapshots({10, 50, 89, 90, 91, 94, 95, 97, 98, 99, 100, 150}),
            (std::vector<uint32_t>{0, 0, 0, 90, 0, 0, 95, 0, 98, 0, 0, 0}));
}

TEST(MemoryPressureTest, LevelsPassedTogetherMakeOneSnapshot) {
  // 80% then 97%: 90 and 95 both passed, one snapshot (at 95); then 98.
  EXPECT_EQ(Snapshots({80, 97, 98}), (std::vector<uint32_t>{0, 95, 98}));
  EXPECT_EQ(Snapshots({99}), (std::vector<uint32_t>{98}));
}

TEST(MemoryPressureTest, RearmedOnlyBelowTheRearmLevel) {
  // Down to 86% and up again: nothing new; below 85% and up: all again.
  EXPECT_EQ(Snapshots({92, 86, 92, 84, 92, 96}), (std::vector<uint32_t>{90, 0, 0, 0, 90, 95}));
  EXPECT_EQ(StepPressure(84, 3).fired, 0u);
  EXPECT_EQ(StepPressure(85, 3).fired, 3u);
}

}  // namespace
TEST(MemoryPressureTest, HeldMemoryTakesTheCgroupsWhenLarger) {
  // Not read: resident memory alone.
  EXPECT_EQ(HeldMemory(100, 0, 0), 100u);
  // The cgroup holds more (another process, a tmpfs file), moved by the
  // process's own growth or shrinking since the reading.
  EXPECT_EQ(HeldMemory(100, 1000, 100), 1000u);
  EXPECT_EQ(HeldMemory(150, 1000, 100), 1050u);
  EXPECT_EQ(HeldMemory(60, 1000, 100), 960u);
  // The process's own memory is the larger: it stands.
  EXPECT_EQ(HeldMemory(900, 500, 100), 1300u);
  EXPECT_EQ(HeldMemory(900, 50, 800), 900u);
  // A shrink past the reading leaves the resident memory.
  EXPECT_EQ(HeldMemory(10, 50, 500), 10u);
}

}  // namespace heapscope::runtime
