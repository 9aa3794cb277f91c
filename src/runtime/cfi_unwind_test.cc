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

// ---- The remembered walk ----

struct Walked {
  uintptr_t cfi[256];
  void* unw[256];
  int n = -2;
  int m = -2;
  bool complete = false;
  WalkInfo info;
  bool Same() const {
    return n == m && n > 1 &&
           memcmp(cfi + 1, unw + 1, sizeof(uintptr_t) * static_cast<size_t>(n - 1)) == 0;
  }
  // The hash the walk took as it went is the stack depot's hash of what it
  // returned, replayed frames included.
  bool HashedRight() const {
    if (!info.hashed || n < 0) return false;
    StackHash a = info.hash.Finish(n, !complete);
    StackHash b = StackDepot::Hash(cfi, n, !complete);
    return a.key == b.key && a.tag == b.tag;
  }
};

__attribute__((noinline)) void WalkInto(Walked* w, int max) {
  w->n = CfiBacktrace(w->cfi, max, &w->complete, 0, 0, false, &w->info);
  w->m = unw_backtrace(w->unw, max);
}

template <int N>
__attribute__((noinline, optimize("omit-frame-pointer"))) int Inner(Walked* w, int depth,
                                                                     int max) {
  volatile char buf[N];
  buf[0] = static_cast<char>(depth);
  if (depth > 0) {
    Inner<N>(w, depth - 1, max);
  } else {
    WalkInto(w, max);
  }
  return buf[0];  // keeps the call from being a tail call
}

// Two callers with the same frame size: the frames they call sit at the
// same addresses, under a different return address.
__attribute__((noinline, optimize("omit-frame-pointer"))) int ViaA(Walked* w, int depth, int max) {
  volatile char buf[48];
  buf[0] = 1;
  Inner<32>(w, depth, max);
  return buf[0];
}
__attribute__((noinline, optimize("omit-frame-pointer"))) int ViaB(Walked* w, int depth, int max) {
  volatile char buf[48];
  buf[0] = 2;
  Inner<32>(w, depth, max);
  return buf[0];
}

// A frame-pointer frame (alloca) between the caller choice and the root.
__attribute__((noinline)) int Outer(Walked* w, bool via_a, int depth, int max, size_t extra) {
  auto* p = static_cast<volatile char*>(alloca(16 + extra));
  p[0] = 0;
  int r = via_a ? ViaA(w, depth, max) : ViaB(w, depth, max);
  return r + p[0];
}

TEST(CfiUnwind, RememberedWalkReplaysOnlyWhatIsUnchanged) {
  ASSERT_TRUE(InitCfiUnwinder());
  FlushCfiCache();
  ForgetRememberedWalk();
  // Every walk must equal libunwind's, whatever the last walk was: the
  // same path, the other caller at the same addresses, another depth,
  // another frame-pointer frame size.
  struct Case {
    bool via_a;
    int depth;
    size_t extra;
  };
  const Case cases[] = {{true, 3, 0},  {true, 3, 0},  {false, 3, 0}, {true, 3, 0},
                        {true, 7, 0},  {true, 2, 0},  {false, 2, 64}, {false, 2, 64},
                        {true, 0, 64}, {false, 0, 64}, {true, 40, 0}, {false, 40, 0},
                        {false, 40, 0}, {true, 80, 0}, {true, 80, 0}, {true, 3, 0}};
  int same_as_last = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const Case& c = cases[i];
    Walked w;
    Outer(&w, c.via_a, c.depth, 256, c.extra);
    EXPECT_TRUE(w.Same()) << "case " << i << " cfi " << w.n << " unw " << w.m;
    EXPECT_TRUE(w.complete) << "case " << i;
    EXPECT_TRUE(w.HashedRight()) << "case " << i;
    EXPECT_NE(w.info.serial, 0u) << "case " << i;
    bool repeat = i > 0 && cases[i - 1].via_a == c.via_a && cases[i - 1].depth == c.depth &&
                  cases[i - 1].extra == c.extra;
    // Identical stacks are recognised as such (when the walk fits the
    // memory), and different ones never are.
    if (!repeat) {
      EXPECT_FALSE(w.info.same_as_last) << "case " << i;
    }
    if (repeat && c.depth < 40) {
      EXPECT_TRUE(w.info.same_as_last) << "case " << i;
    }
    same_as_last += w.info.same_as_last ? 1 : 0;
  }
  EXPECT_GE(same_as_last, 3);
}

TEST(CfiUnwind, RememberedWalkHonoursMax) {
  ASSERT_TRUE(InitCfiUnwinder());
  ForgetRememberedWalk();
  Walked full;
  Outer(&full, true, 20, 256, 0);
  ASSERT_TRUE(full.Same());
  Walked cut;
  Outer(&cut, true, 20, 10, 0);  // the same stack, now cut short
  EXPECT_EQ(cut.n, 10);
  EXPECT_FALSE(cut.complete);
  EXPECT_TRUE(cut.HashedRight());
  Walked again;
  Outer(&again, true, 20, 256, 0);
  EXPECT_TRUE(again.Same());
  EXPECT_TRUE(again.complete);
}

TEST(CfiUnwind, StacksThatShareLittleWalkWithoutTheMemoryForAWhile) {
  ASSERT_TRUE(InitCfiUnwinder());
  ForgetRememberedWalk();
  // Alternating callers under 30 frames: each walk replays only the frames
  // above Outer, a small part of it.
  int kept = 0;
  for (int i = 0; i < 64; i++) {
    Walked w;
    Outer(&w, i % 2 == 0, 30, 256, 0);
    EXPECT_TRUE(w.Same()) << "walk " << i;
    EXPECT_TRUE(w.HashedRight()) << "walk " << i;
    kept += w.info.serial != 0 ? 1 : 0;
  }
  EXPECT_EQ(kept, 32);  // after a window of 32 poor walks, the next ones go without
  Walked w;
  Outer(&w, true, 3, 256, 0);
  EXPECT_TRUE(w.Same());
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
