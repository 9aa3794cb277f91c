#include "base/raw_log.h"

#include <gtest/gtest.h>

#include <string>

namespace heapscope::base {

TEST(RawBuffer, FormatsNumbers) {
  char mem[64];
  RawBuffer b(mem, sizeof mem);
  b.Str("x=").Int(-42).Char(' ').Uint(18446744073709551615ULL).Char(' ').Hex(0xbeef);
  EXPECT_EQ(std::string(b.CStr()), "x=-42 18446744073709551615 0xbeef");
  EXPECT_FALSE(b.truncated());
}

TEST(RawBuffer, Truncates) {
  char mem[8];
  RawBuffer b(mem, sizeof mem);
  b.Str("0123456789");
  EXPECT_TRUE(b.truncated());
  EXPECT_EQ(std::string(b.CStr()), "0123456");
}

}  // namespace heapscope::base
