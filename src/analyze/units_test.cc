#include "analyze/units.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace heapscope::analyze {
namespace {

TEST(UnitsTest, ScalesBytesLikePprof) {
  EXPECT_EQ(Label(13107200, "bytes"), "12.50MB");
  EXPECT_EQ(Label(1024, "bytes"), "1kB");
  EXPECT_EQ(Label(1023, "bytes"), "1023B");
  EXPECT_EQ(Label(uint64_t{3} << 30, "bytes"), "3GB");
  EXPECT_EQ(ScaledLabel(512 * 1024, "bytes", "MB"), "0.50MB");
  EXPECT_EQ(ScaledLabel(1536, "bytes", "kB"), "1.50kB");
  EXPECT_EQ(ScaledLabel(-1536, "bytes", "kB"), "-1.50kB");
  EXPECT_EQ(ScaledLabel(1, "bytes", "MB"), "0");
  EXPECT_EQ(ScaledLabel(0, "bytes", "MB"), "0");
}

TEST(UnitsTest, CountsPrintPlainly) {
  EXPECT_EQ(Label(123456, "count"), "123456");
  EXPECT_EQ(ScaledLabel(123456, "count", "count"), "123456");
  EXPECT_EQ(ScaledLabel(7, "objects", "objects"), "7objects");
}

TEST(UnitsTest, GroupsThousands) {
  EXPECT_EQ(Grouped(0), "0");
  EXPECT_EQ(Grouped(999), "999");
  EXPECT_EQ(Grouped(1000), "1,000");
  EXPECT_EQ(Grouped(1234567), "1,234,567");
  EXPECT_EQ(Grouped(-2048), "-2,048");
  EXPECT_EQ(Grouped(INT64_MIN), "-9,223,372,036,854,775,808");
}

TEST(UnitsTest, ScalesTime) {
  EXPECT_EQ(Label(1500000000, "nanoseconds"), "1.50s");
  EXPECT_EQ(Label(2500, "nanoseconds"), "2.50us");
  EXPECT_EQ(ScaledLabel(30, "ms", "s"), "0.03s");
  EXPECT_EQ(Label(7200000000000, "nanoseconds"), "2hrs");
}

TEST(UnitsTest, PercentageFormats) {
  EXPECT_EQ(Percentage(1, 1), "  100%");
  EXPECT_EQ(Percentage(4186, 10000), "41.86%");
  EXPECT_EQ(Percentage(52, 10000), " 0.52%");
  EXPECT_EQ(Percentage(5, 100000), "0.005%");
  EXPECT_EQ(Percentage(-50, 100), "50.00%");
  EXPECT_EQ(Percentage(0, 100), "    0%");
  EXPECT_EQ(Percentage(3, 0), "    0%");
}

TEST(UnitsTest, SelectsOneOutputUnit) {
  // Everything in MB: the smallest value is 1.5MB.
  EXPECT_EQ(SelectOutputUnit(1536 * 1024, 100 << 20, "bytes"), "MB");
  // A 100kB minimum against a 10GB total: scaled up one step so the
  // smallest still reads as at least 0.01 of the unit.
  EXPECT_EQ(SelectOutputUnit(100 << 10, int64_t{10} << 30, "bytes"), "MB");
  // Close range: the minimum's unit.
  EXPECT_EQ(SelectOutputUnit(100 << 10, 2 << 20, "bytes"), "kB");
  EXPECT_EQ(SelectOutputUnit(5, 100, "count"), "count");
  EXPECT_EQ(SelectOutputUnit(0, 4096, "bytes"), "kB");
}

}  // namespace
}  // namespace heapscope::analyze
