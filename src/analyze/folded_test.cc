#include "analyze/folded.h"

#include <gtest/gtest.h>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

constexpr int64_t kMiB = 1 << 20;

// inuse_space totals 10.5 MiB: alloc holds 7 (6 through helper), rec 2
// (recursing three deep), inlined_leaf 1 (inlined into outer), and 0.5 has
// no stack at all; helper's own sample is zero in inuse_space.
format::Profile SmallHeap() {
  ProfileBuilder b({{"alloc_space", "bytes"}, {"inuse_space", "bytes"}});
  uint32_t alloc = b.Loc({"alloc"});
  uint32_t helper = b.Loc({"helper"});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t rec = b.Loc({"rec"});
  uint32_t inl = b.Loc({"inlined_leaf", "outer"});
  b.Sample({alloc, helper, main_loc}, {8 * kMiB, 6 * kMiB});
  b.Sample({rec, rec, rec, main_loc}, {2 * kMiB, 2 * kMiB});
  b.Sample({inl, main_loc}, {1 * kMiB, 1 * kMiB});
  b.Sample({helper, main_loc}, {5 * kMiB, 0});
  b.Sample({}, {kMiB / 2, kMiB / 2});
  b.Sample({alloc, main_loc}, {1 * kMiB, 1 * kMiB});
  return b.Build();
}

TEST(FoldedTest, OneLinePerNameStackRootFirst) {
  format::Profile p = SmallHeap();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(s->sample_type, "inuse_space");
  EXPECT_EQ(s->unit, "bytes");
  EXPECT_EQ(s->total, 21 * kMiB / 2);
  EXPECT_EQ(FormatFolded(*s),
            "[no stack] 524288\n"
            "main;alloc 1048576\n"
            "main;helper;alloc 6291456\n"
            "main;outer;inlined_leaf 1048576\n"
            "main;rec;rec;rec 2097152\n");
}

TEST(FoldedTest, OtherSampleTypeKeepsZeroInUseStack) {
  format::Profile p = SmallHeap();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "alloc_space");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(FormatFolded(*s),
            "[no stack] 524288\n"
            "main;alloc 1048576\n"
            "main;helper 5242880\n"
            "main;helper;alloc 8388608\n"
            "main;outer;inlined_leaf 1048576\n"
            "main;rec;rec;rec 2097152\n");
}

TEST(FoldedTest, StacksMergeByNamesNotLocations) {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t m = b.Mapping("/bin/app", 0x400000, 0x500000, 0);
  uint32_t a1 = b.Loc({"alloc"}, m, 0x401000);
  uint32_t a2 = b.Loc({"alloc"}, m, 0x401080);  // Another call site.
  uint32_t main1 = b.Loc({"main"}, m, 0x402000);
  uint32_t main2 = b.Loc({"main"}, m, 0x402040);
  uint32_t raw = b.LocWithFunctions({}, m, 0x403010);  // No name.
  b.Sample({a1, main1}, {100});
  b.Sample({a2, main2}, {20});
  b.Sample({a1, main2}, {3});
  b.Sample({raw, main1}, {4});
  b.Sample({raw, main1}, {-4});  // Cancels out: no line.
  b.Sample({a1, main1}, {0});
  format::Profile p = b.Build();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "inuse_space");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(FormatFolded(*s), "main;alloc 123\n");
  EXPECT_EQ(s->total, 131);
}

TEST(FoldedTest, SeparatorsInNamesAreReplaced) {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t odd = b.Loc({"odd;name\nhere"});
  b.Sample({odd}, {7});
  format::Profile p = b.Build();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "");
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_EQ(FormatFolded(*s), "odd:name here 7\n");
}

TEST(FoldedTest, MergeMatchesStacksByNames) {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t a = b.Loc({"a"}), c = b.Loc({"c"}), m = b.Loc({"main"});
  b.Sample({a, m}, {10});
  b.Sample({c, m}, {30});
  format::Profile base_profile = b.Build();
  ProfileBuilder n({{"inuse_space", "bytes"}});
  uint32_t m2 = n.Loc({"main"}), c2 = n.Loc({"c"}), b2 = n.Loc({"b"});
  n.Sample({b2, m2}, {5});
  n.Sample({c2, m2}, {40});
  n.Sample({m2}, {1});
  format::Profile next_profile = n.Build();
  format::Result<CollapsedStacks> base = CollapseStacks(base_profile, "");
  format::Result<CollapsedStacks> next = CollapseStacks(next_profile, "");
  ASSERT_TRUE(base.ok() && next.ok());
  MergedStacks m_all = MergeStacks(&*base, *next);
  EXPECT_EQ(m_all.names, (std::vector<std::string>{"a", "b", "c", "main"}));
  std::string got;
  for (const MergedStack& s : m_all.stacks) {
    for (uint32_t f : s.frames) got += m_all.names[f] + ";";
    got += " " + std::to_string(s.base) + " " + std::to_string(s.next) + "\n";
  }
  EXPECT_EQ(got,
            "main; 0 1\n"
            "main;a; 10 0\n"
            "main;b; 0 5\n"
            "main;c; 30 40\n");
  MergedStacks only = MergeStacks(nullptr, *next);
  EXPECT_EQ(only.names, next->names);
  ASSERT_EQ(only.stacks.size(), 3u);
  EXPECT_EQ(only.stacks[2].next, 40);
  EXPECT_EQ(only.stacks[2].base, 0);
}

TEST(FoldedTest, UnknownSampleTypeIsAnError) {
  format::Profile p = SmallHeap();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "cpu");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("alloc_space, inuse_space"), std::string::npos) << s.error();
}

TEST(FoldedTest, FunctionValuesCountRecursionOnce) {
  format::Profile p = SmallHeap();
  format::Result<CollapsedStacks> s = CollapseStacks(p, "");
  ASSERT_TRUE(s.ok()) << s.error();
  FunctionValues fv = ComputeFunctionValues(*s);
  auto index = [&](const std::string& name) {
    for (size_t i = 0; i < s->names.size(); i++) {
      if (s->names[i] == name) return i;
    }
    ADD_FAILURE() << name;
    return size_t{0};
  };
  EXPECT_EQ(fv.flat[index("rec")], 2 * kMiB);
  EXPECT_EQ(fv.cum[index("rec")], 2 * kMiB);
  EXPECT_EQ(fv.cum[index("main")], 10 * kMiB);
  EXPECT_EQ(fv.flat[index("main")], 0);
  EXPECT_EQ(fv.cum[index("outer")], kMiB);
  EXPECT_EQ(fv.flat[index("alloc")], 7 * kMiB);
}

}  // namespace
}  // namespace heapscope::analyze
