#include "base/parse.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace heapscope::base {

TEST(ParseDuration, Units) {
  uint64_t ns = 0;
  ASSERT_TRUE(ParseDuration("10s", &ns));
  EXPECT_EQ(ns, 10'000'000'000ULL);
  ASSERT_TRUE(ParseDuration("10", &ns));
  EXPECT_EQ(ns, 10'000'000'000ULL);
  ASSERT_TRUE(ParseDuration("500ms", &ns));
  EXPECT_EQ(ns, 500'000'000ULL);
  ASSERT_TRUE(ParseDuration("1.5s", &ns));
  EXPECT_EQ(ns, 1'500'000'000ULL);
  ASSERT_TRUE(ParseDuration("2m", &ns));
  EXPECT_EQ(ns, 120'000'000'000ULL);
  ASSERT_TRUE(ParseDuration("1h", &ns));
  EXPECT_EQ(ns, 3600'000'000'000ULL);
  ASSERT_TRUE(ParseDuration("250us", &ns));
  EXPECT_EQ(ns, 250'000ULL);
}

TEST(ParseDuration, Rejects) {
  uint64_t ns = 7;
  EXPECT_FALSE(ParseDuration("", &ns));
  EXPECT_FALSE(ParseDuration("s", &ns));
  EXPECT_FALSE(ParseDuration("-1s", &ns));
  EXPECT_FALSE(ParseDuration("10x", &ns));
  EXPECT_FALSE(ParseDuration("10s junk", &ns));
  EXPECT_FALSE(ParseDuration("99999999999999999999h", &ns));
  EXPECT_FALSE(ParseDuration(nullptr, &ns));
  EXPECT_EQ(ns, 7u);
}

TEST(ParseSize, Units) {
  uint64_t b = 0;
  ASSERT_TRUE(ParseSize("524288", &b));
  EXPECT_EQ(b, 524288u);
  ASSERT_TRUE(ParseSize("512K", &b));
  EXPECT_EQ(b, 524288u);
  ASSERT_TRUE(ParseSize("64MiB", &b));
  EXPECT_EQ(b, 64ULL << 20);
  ASSERT_TRUE(ParseSize("1g", &b));
  EXPECT_EQ(b, 1ULL << 30);
  ASSERT_TRUE(ParseSize("1.5G", &b));
  EXPECT_EQ(b, 3ULL << 29);
}

TEST(ParseSize, Rejects) {
  uint64_t b = 0;
  EXPECT_FALSE(ParseSize("", &b));
  EXPECT_FALSE(ParseSize("12Q", &b));
  EXPECT_FALSE(ParseSize("1.5", &b));
  EXPECT_FALSE(ParseSize("-3", &b));
  EXPECT_FALSE(ParseSize("99999999999999999999T", &b));
}

TEST(ParseSignal, Names) {
  int sig = -1;
  ASSERT_TRUE(ParseSignal("USR2", &sig));
  EXPECT_EQ(sig, SIGUSR2);
  ASSERT_TRUE(ParseSignal("SIGUSR1", &sig));
  EXPECT_EQ(sig, SIGUSR1);
  ASSERT_TRUE(ParseSignal("SIGRTMIN+3", &sig));
  EXPECT_EQ(sig, SIGRTMIN + 3);
  ASSERT_TRUE(ParseSignal("12", &sig));
  EXPECT_EQ(sig, 12);
  ASSERT_TRUE(ParseSignal("off", &sig));
  EXPECT_EQ(sig, 0);
  EXPECT_FALSE(ParseSignal("65", &sig));
  EXPECT_FALSE(ParseSignal("RTMIN+999", &sig));
  EXPECT_FALSE(ParseSignal("HUP?", &sig));
  EXPECT_FALSE(ParseSignal("", &sig));
}

TEST(ParseUint, Basic) {
  uint64_t v = 0;
  ASSERT_TRUE(ParseUint("18446744073709551615", &v));
  EXPECT_EQ(v, UINT64_MAX);
  EXPECT_FALSE(ParseUint("18446744073709551616", &v));
  EXPECT_FALSE(ParseUint("12a", &v));
  EXPECT_FALSE(ParseUint("", &v));
}

}  // namespace heapscope::base
