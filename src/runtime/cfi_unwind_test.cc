#include "runtime/cfi_unwind.h"

#include <alloca.h>
#include <gtest/gtest.h>
#include <string.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

namespace heapscope::runtime {
namespace {

struct Result {
  int cfi = -2;
  int unw = -2;
  bool complete = false;
  bool same = false;
};

// Walks with both unwinders from the same function. Their first entries
// differ (each is the return address into this function from its own
// call), the rest must be equal.
__attribute__((noinline)) Result WalkBoth(int max) {
  Result r;
  uintptr_t a[256];
  void* b[256];
  r.cfi = CfiBacktrace(a, max, &r.complete, 0, 0);
  r.unw = unw_backtrace(b, max);
  r.same = r.cfi == r.unw && r.cfi > 1 &&
           memcmp(a + 1, b + 1, sizeof(uintptr_t) * static_cast<size_t>(r.cfi - 1)) == 0;
  return r;
}

// Frames without frame pointers, of different sizes (CFA = rsp + N).
template <int N>
__attribute__((noinline, optimize("omit-frame-pointer"))) Result NoFramePointer(int depth,
                                                                                int max) {
  volatile char buf[N];
  buf[0] = static_cast<char>(depth);
  Result r = depth > 0 ? NoFramePointer<N>(depth - 1, max) : WalkBoth(max);
  r.cfi += buf[0] - depth;  // keeps the call from being a tail call
  return r;
}

// alloca gives the function a frame pointer (CFA = rbp + 16).
__attribute__((noinline)) Result WithAlloca(int depth, int max) {
  auto* p = static_cast<volatile char*>(alloca(64 + static_cast<size_t>(depth) * 32));
  p[0] = static_cast<char>(depth);
  Result r = depth > 0 ? NoFramePointer<4096>(depth, max) : WalkBoth(max);
  r.cfi += p[0] - depth;
  return r;
}

TEST(CfiUnwind, MatchesLibunwindThroughCodeWithoutFramePointers) {
  ASSERT_TRUE(InitCfiUnwinder());
  for (int depth : {0, 1, 5, 40}) {
    for (int round = 0; round < 2; round++) {  // cold, then from the cache
      Result r = NoFramePointer<24>(depth, 256);
      EXPECT_TRUE(r.same) << "depth " << depth << " cfi " << r.cfi << " unw " << r.unw;
      EXPECT_TRUE(r.complete);
      r = WithAlloca(depth, 256);
      EXPECT_TRUE(r.same) << "alloca depth " << depth << " cfi " << r.cfi << " unw " << r.unw;
    }
  }
}

TEST(CfiUnwind, StopsAtMaxAndSaysSo) {
  ASSERT_TRUE(InitCfiUnwinder());
  Result r = NoFramePointer<24>(50, 10);
  EXPECT_EQ(r.cfi, 10);
  EXPECT_FALSE(r.complete);
}

TEST(CfiUnwind, CachedOnlyNeverLooksUpAndEndsShort) {
  ASSERT_TRUE(InitCfiUnwinder());
  FlushCfiCache();
  uintptr_t a[64];
  bool complete = true;
  int n = CfiBacktrace(a, 64, &complete, 0, 0, true);
  // Nothing cached: the first frame is reported, the walk ends there.
  EXPECT_EQ(n, 1);
  EXPECT_FALSE(complete);
  Result full = NoFramePointer<24>(3, 256);  // warms the cache
  EXPECT_TRUE(full.same);
}

}  // namespace
}  // namespace heapscope::runtime
