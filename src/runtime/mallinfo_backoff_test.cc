#include "runtime/mallinfo_backoff.h"

#include <gtest/gtest.h>

namespace heapscope::runtime {
namespace {

constexpr uint64_t kMinute = 60ULL * 1'000'000'000;

TEST(MallinfoBackoffTest, FastReadsNeverWait) {
  MallinfoBackoff b;
  EXPECT_TRUE(MallinfoDue(b, 0));
  b = AfterMallinfoRead(b, 5 * kMinute, /*slow=*/false);
  EXPECT_TRUE(MallinfoDue(b, 5 * kMinute));
  EXPECT_EQ(b.pause_ns, 0u);
}

TEST(MallinfoBackoffTest, SlowReadsWaitTenMinutesThenTwiceAsLongUpToEightHours) {
  MallinfoBackoff b;
  uint64_t now = kMinute;
  b = AfterMallinfoRead(b, now, true);
  EXPECT_FALSE(MallinfoDue(b, now + 10 * kMinute - 1));
  EXPECT_TRUE(MallinfoDue(b, now + 10 * kMinute));
  uint64_t want = 10 * kMinute;
  for (int i = 0; i < 12; i++) {
    EXPECT_EQ(b.pause_ns, want) << "slow read " << i + 1;
    now = b.next_ns;
    b = AfterMallinfoRead(b, now, true);
    want = want * 2 > kMallinfoLongestPauseNs ? kMallinfoLongestPauseNs : want * 2;
  }
  EXPECT_EQ(b.pause_ns, 480 * kMinute);
  EXPECT_EQ(b.next_ns, now + 480 * kMinute);
  // A fast read ends the pauses; the next slow one starts again at ten
  // minutes.
  b = AfterMallinfoRead(b, b.next_ns, false);
  EXPECT_TRUE(MallinfoDue(b, 0));
  b = AfterMallinfoRead(b, now, true);
  EXPECT_EQ(b.pause_ns, 10 * kMinute);
}

}  // namespace
}  // namespace heapscope::runtime
