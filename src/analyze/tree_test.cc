#include "analyze/tree.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

constexpr int64_t kMiB = 1 << 20;

// As in folded_test.cc: 10.5 MiB in use; main calls helper (6, all into
// alloc), rec (2, recursing), alloc (1) and outer (1, inlined_leaf).
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

TreeReport Tree(const format::Profile& p, size_t n) {
  format::Result<CollapsedStacks> s = CollapseStacks(p, "inuse_space");
  EXPECT_TRUE(s.ok()) << s.error();
  return ComputeTree(*s, n);
}

TEST(TreeTest, PeekTextOfTheHeaviestFunctions) {
  format::Profile p = SmallHeap();
  EXPECT_EQ(FormatTreeText(Tree(p, 3)),
            "Type: inuse_space\n"
            "Showing nodes accounting for 7MB, 66.67% of 10.50MB total\n"
            "Showing top 3 nodes out of 7 by cum\n"
            "----------------------------------------------------------+-------------\n"
            "      flat  flat%   sum%        cum   cum%   calls calls% + context\n"
            "----------------------------------------------------------+-------------\n"
            "         0     0%     0%       10MB 95.24%                | main\n"
            "                                               6MB 60.00% |   helper\n"
            "                                               2MB 20.00% |   rec\n"
            "                                               1MB 10.00% |   alloc\n"
            "                                               1MB 10.00% |   outer\n"
            "----------------------------------------------------------+-------------\n"
            "                                               6MB 85.71% |   helper\n"
            "                                               1MB 14.29% |   main\n"
            "       7MB 66.67% 66.67%        7MB 66.67%                | alloc\n"
            "----------------------------------------------------------+-------------\n"
            "                                               6MB   100% |   main\n"
            "         0     0% 66.67%        6MB 57.14%                | helper\n"
            "                                               6MB   100% |   alloc\n"
            "----------------------------------------------------------+-------------\n");
}

TEST(TreeTest, RecursiveEdgesCountOncePerStack) {
  format::Profile p = SmallHeap();
  TreeReport r = Tree(p, 0);
  EXPECT_EQ(r.node_count, 7u);
  ASSERT_EQ(r.nodes.size(), 7u);
  const TreeNode* rec = nullptr;
  for (const TreeNode& n : r.nodes) {
    if (n.function == "rec") rec = &n;
  }
  ASSERT_NE(rec, nullptr);
  EXPECT_EQ(rec->cum, 2 * kMiB);
  EXPECT_EQ(rec->flat, 2 * kMiB);
  ASSERT_EQ(rec->callers.size(), 2u);
  EXPECT_EQ(rec->callers[0].function, "main");
  EXPECT_EQ(rec->callers[0].value, 2 * kMiB);
  EXPECT_EQ(rec->callers[1].function, "rec");
  EXPECT_EQ(rec->callers[1].value, 2 * kMiB);
  ASSERT_EQ(rec->callees.size(), 1u);
  EXPECT_EQ(rec->callees[0].value, 2 * kMiB);
  // By cum, then name: [no stack] (0.5) is last.
  EXPECT_EQ(r.nodes.back().function, "[no stack]");
  EXPECT_EQ(r.nodes[3].function, "rec");
  EXPECT_EQ(r.nodes[4].function, "inlined_leaf");
  EXPECT_EQ(r.nodes[5].function, "outer");
}

TEST(TreeTest, Json) {
  format::Profile p = SmallHeap();
  nlohmann::json j = nlohmann::json::parse(FormatTreeJson(Tree(p, 1)));
  EXPECT_EQ(j["sample_type"], "inuse_space");
  EXPECT_EQ(j["total"], 21 * kMiB / 2);
  EXPECT_EQ(j["node_count"], 7);
  ASSERT_EQ(j["nodes"].size(), 1u);
  EXPECT_EQ(j["nodes"][0], nlohmann::json::parse(R"({"function": "main", "flat": 0, "cum": 10485760,
              "callers": [],
              "callees": [{"function": "helper", "value": 6291456},
                          {"function": "rec", "value": 2097152},
                          {"function": "alloc", "value": 1048576},
                          {"function": "outer", "value": 1048576}]})"));
}

TEST(TreeTest, EmptyProfile) {
  ProfileBuilder b({{"inuse_space", "bytes"}});
  format::Profile p = b.Build();
  TreeReport r = Tree(p, 10);
  EXPECT_EQ(r.node_count, 0u);
  EXPECT_EQ(FormatTreeText(r),
            "Type: inuse_space\n"
            "Showing nodes accounting for 0, 0% of 0 total\n"
            "----------------------------------------------------------+-------------\n"
            "      flat  flat%   sum%        cum   cum%   calls calls% + context\n");
}

}  // namespace
}  // namespace heapscope::analyze
