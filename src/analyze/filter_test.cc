#include "analyze/filter.h"

#include <gtest/gtest.h>

#include "analyze/folded.h"
#include "analyze/test_profile.h"
#include "analyze/top.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

// main -> {cache::Put -> malloc: 100, worker -> malloc: 20, worker: 3};
// a sample without a stack: 1.
format::Profile Heap() {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t malloc_loc = b.Loc({"malloc"});
  uint32_t put = b.Loc({"cache::Put"});
  uint32_t worker = b.Loc({"worker"});
  uint32_t main_loc = b.Loc({"main"});
  b.Sample({malloc_loc, put, main_loc}, {100});
  b.Sample({malloc_loc, worker, main_loc}, {20});
  b.Sample({worker, main_loc}, {3});
  b.Sample({}, {1});
  return b.Build();
}

std::string Folded(const format::Profile& p) {
  format::Result<CollapsedStacks> s = CollapseStacks(p, "");
  EXPECT_TRUE(s.ok()) << s.error();
  return FormatFolded(*s);
}

// cache::Put holds 100 bytes 8 s old and 50 bytes under a second old, and
// allocated 400 (the unlabelled sample); worker holds 20 bytes 2 s old.
format::Profile AgedHeap() {
  ProfileBuilder b({{"alloc_space", "bytes"}, {"inuse_space", "bytes"}});
  uint32_t put = b.Loc({"cache::Put"});
  uint32_t worker = b.Loc({"worker"});
  uint32_t main_loc = b.Loc({"main"});
  b.Sample({put, main_loc}, {0, 100}, {{"age", 8, "seconds"}});
  b.Sample({put, main_loc}, {0, 50}, {{"age", 0, "seconds"}});
  b.Sample({put, main_loc}, {400, 0});
  b.Sample({worker, main_loc}, {0, 20}, {{"age", 2000, "ms"}});
  return b.Build();
}

TEST(FilterTest, MinAgeKeepsOldEnoughObjects) {
  format::Profile p = AgedHeap();
  SampleFilter f;
  f.min_age_sec = 2;  // 2000 ms counts
  format::Result<FilterStats> r = ApplySampleFilter(&p, f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kept, 2u);
  EXPECT_EQ(r->dropped, 2u);
  EXPECT_EQ(Folded(p), "main;cache::Put 100\nmain;worker 20\n");

  // Every labelled sample at 0; the unlabelled one (alloc values) goes.
  p = AgedHeap();
  f.min_age_sec = 0;
  r = ApplySampleFilter(&p, f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Folded(p), "main;cache::Put 150\nmain;worker 20\n");

  // With --focus too.
  p = AgedHeap();
  f = SampleFilter{.focus = "Put", .ignore = ""};
  f.min_age_sec = 5;
  r = ApplySampleFilter(&p, f);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Folded(p), "main;cache::Put 100\n");
}

TEST(FilterTest, MinAgeOnAProfileWithoutAgesIsAnError) {
  format::Profile p = Heap();
  SampleFilter f;
  f.min_age_sec = 1;
  format::Result<FilterStats> r = ApplySampleFilter(&p, f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("no object ages"), std::string::npos) << r.error();
  EXPECT_EQ(p.samples.size(), 4u);  // unchanged
}

TEST(FilterTest, NoPatternsKeepEverything) {
  format::Profile p = Heap();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kept, 4u);
  EXPECT_EQ(r->dropped, 0u);
  EXPECT_EQ(p.samples.size(), 4u);
}

TEST(FilterTest, FocusKeepsSamplesThroughAMatchingFrame) {
  format::Profile p = Heap();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {.focus = "work", .ignore = ""});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->kept, 2u);
  EXPECT_EQ(r->dropped, 2u);
  EXPECT_EQ(Folded(p), "main;worker 3\nmain;worker;malloc 20\n");
}

TEST(FilterTest, IgnoreDropsSamplesWithAMatchingFrame) {
  format::Profile p = Heap();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {.focus = "", .ignore = "^cache::"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Folded(p), "[no stack] 1\nmain;worker 3\nmain;worker;malloc 20\n");
}

TEST(FilterTest, FocusAndIgnoreTogether) {
  format::Profile p = Heap();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {.focus = "malloc", .ignore = "Put"});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Folded(p), "main;worker;malloc 20\n");
  // Reports computed afterwards see only what was kept.
  format::Result<TopReport> top = ComputeTop(p, {});
  ASSERT_TRUE(top.ok()) << top.error();
  EXPECT_EQ(top->total, 20);
}

TEST(FilterTest, InlineFramesCount) {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t inl = b.Loc({"inlined_leaf", "outer"});
  uint32_t other = b.Loc({"other"});
  b.Sample({inl}, {5});
  b.Sample({other}, {7});
  format::Profile p = b.Build();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {.focus = "outer", .ignore = ""});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Folded(p), "outer;inlined_leaf 5\n");
}

TEST(FilterTest, BadPatternIsAnErrorAndChangesNothing) {
  format::Profile p = Heap();
  format::Result<FilterStats> r = ApplySampleFilter(&p, {.focus = "main", .ignore = "(unclosed"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().rfind("--ignore \"(unclosed\" is not a valid regular expression", 0), 0u)
      << r.error();
  EXPECT_EQ(r.error().find('\n'), std::string::npos);
  EXPECT_EQ(p.samples.size(), 4u);
  format::Result<FilterStats> f = ApplySampleFilter(&p, {.focus = "[", .ignore = ""});
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().rfind("--focus \"[\"", 0), 0u) << f.error();
}

}  // namespace
}  // namespace heapscope::analyze
