#include "analyze/diff.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

// BASE: main calls grow (1000), keep (5000) and shrink (3000).
format::Profile Base() {
  ProfileBuilder b({{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  uint32_t m = b.Mapping("/bin/app", 0x400000, 0x500000, 0);
  uint32_t grow = b.Loc({"grow"}, m, 0x401000);
  uint32_t keep = b.Loc({"keep"}, m, 0x402000);
  uint32_t shrink = b.Loc({"shrink"}, m, 0x403000);
  uint32_t main_loc = b.Loc({"main"}, m, 0x404000);
  b.Sample({grow, main_loc}, {1, 1000});
  b.Sample({keep, main_loc}, {5, 5000});
  b.Sample({shrink, main_loc}, {3, 3000});
  return b.Build();
}

// NEW, from another run: other addresses, other location and function
// ids; grow 4000 (over two call sites), keep 5000, shrink 1000, fresh 500.
format::Profile New() {
  ProfileBuilder b({{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  uint32_t m = b.Mapping("/bin/app", 0x7f0000, 0x800000, 0);
  uint32_t main_loc = b.Loc({"main"}, m, 0x7f4010);
  uint32_t fresh = b.Loc({"fresh"}, m, 0x7f5000);
  uint32_t shrink = b.Loc({"shrink"}, m, 0x7f3000);
  uint32_t grow1 = b.Loc({"grow"}, m, 0x7f1000);
  uint32_t grow2 = b.Loc({"grow"}, m, 0x7f1040);
  uint32_t keep = b.Loc({"keep"}, m, 0x7f2000);
  b.Sample({grow1, main_loc}, {3, 3000});
  b.Sample({grow2, main_loc}, {1, 1000});
  b.Sample({keep, main_loc}, {5, 5000});
  b.Sample({shrink, main_loc}, {1, 1000});
  b.Sample({fresh, main_loc}, {1, 500});
  return b.Build();
}

DiffReport Diff(const format::Profile& base, const format::Profile& next, size_t rows) {
  format::Result<std::string> type = SelectDiffSampleType(base, next, "");
  EXPECT_TRUE(type.ok()) << type.error();
  format::Result<CollapsedStacks> b = CollapseStacks(base, *type);
  format::Result<CollapsedStacks> n = CollapseStacks(next, *type);
  EXPECT_TRUE(b.ok() && n.ok());
  return ComputeDiff(*b, *n, rows);
}

TEST(DiffTest, GrowthFirstThenShrinksByName) {
  format::Profile base = Base(), next = New();
  DiffReport r = Diff(base, next, 0);
  EXPECT_EQ(r.sample_type, "inuse_space");
  EXPECT_EQ(FormatDiffText(r),
            "Type: inuse_space\n"
            "Total: 9000B -> 10500B (+1500B, +16.67%)\n"
            "\n"
            "Functions by growth:\n"
            " flat delta   cum delta  base flat   new flat  function\n"
            "     +3000B      +3000B      1000B      4000B  grow\n"
            "      +500B       +500B          0       500B  fresh\n"
            "          0      +1500B          0          0  main\n"
            "     -2000B      -2000B      3000B      1000B  shrink\n"
            "\n"
            "Stacks by growth:\n"
            "      delta       base        new  stack (root;...;leaf)\n"
            "     +3000B      1000B      4000B  main;grow\n"
            "      +500B          0       500B  main;fresh\n"
            "     -2000B      3000B      1000B  main;shrink\n");
}

TEST(DiffTest, RowsLimitEachList) {
  format::Profile base = Base(), next = New();
  DiffReport r = Diff(base, next, 1);
  EXPECT_EQ(r.function_count, 4u);
  EXPECT_EQ(r.stack_count, 3u);
  ASSERT_EQ(r.functions.size(), 1u);
  ASSERT_EQ(r.stacks.size(), 1u);
  std::string text = FormatDiffText(r);
  EXPECT_NE(text.find("Functions by growth (top 1 of 4 that changed):"), std::string::npos) << text;
  EXPECT_NE(text.find("Stacks by growth (top 1 of 3 that changed):"), std::string::npos) << text;
}

TEST(DiffTest, ReverseDiffShrinksWhatGrew) {
  format::Profile base = Base(), next = New();
  DiffReport r = Diff(next, base, 0);
  ASSERT_EQ(r.functions.size(), 4u);
  EXPECT_EQ(r.functions[0].function, "shrink");
  EXPECT_EQ(r.functions[0].flat_delta(), 2000);
  EXPECT_EQ(r.functions[1].function, "grow");
  EXPECT_EQ(r.functions[1].flat_delta(), -3000);
  EXPECT_EQ(r.functions[2].function, "fresh");
  EXPECT_EQ(r.functions[3].function, "main");
  EXPECT_EQ(r.functions[3].cum_delta(), -1500);
}

TEST(DiffTest, Json) {
  format::Profile base = Base(), next = New();
  nlohmann::json j = nlohmann::json::parse(FormatDiffJson(Diff(base, next, 0)));
  EXPECT_EQ(j["sample_type"], "inuse_space");
  EXPECT_EQ(j["unit"], "bytes");
  EXPECT_EQ(j["base_total"], 9000);
  EXPECT_EQ(j["new_total"], 10500);
  EXPECT_EQ(j["functions"][0], nlohmann::json::parse(R"({"function": "grow", "flat_delta": 3000,
              "cum_delta": 3000, "base_flat": 1000, "new_flat": 4000, "base_cum": 1000,
              "new_cum": 4000})"));
  EXPECT_EQ(j["stacks"][2],
            nlohmann::json::parse(
                R"({"frames": ["main", "shrink"], "delta": -2000, "base": 3000, "new": 1000})"));
}

TEST(DiffTest, IdenticalProfilesHaveNoChanges) {
  format::Profile a = Base(), b = Base();
  DiffReport r = Diff(a, b, 0);
  EXPECT_TRUE(r.functions.empty());
  EXPECT_TRUE(r.stacks.empty());
  std::string text = FormatDiffText(r);
  EXPECT_NE(text.find("(no function changed)"), std::string::npos) << text;
  EXPECT_NE(text.find("(no stack changed)"), std::string::npos) << text;
}

TEST(DiffTest, SampleTypesMustMatch) {
  format::Profile base = Base();
  ProfileBuilder cpu({{"samples", "count"}, {"cpu", "nanoseconds"}});
  format::Profile next = cpu.Build();
  format::Result<std::string> t = SelectDiffSampleType(base, next, "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error(),
            "BASE has no sample type cpu (it has inuse_objects, inuse_space; NEW has samples, "
            "cpu); diff needs two profiles with the same sample type");
  format::Result<std::string> t2 = SelectDiffSampleType(base, next, "inuse_space");
  ASSERT_FALSE(t2.ok());
  EXPECT_EQ(t2.error().rfind("NEW: ", 0), 0u) << t2.error();

  ProfileBuilder other_unit({{"inuse_space", "kilobytes"}});
  format::Profile odd = other_unit.Build();
  format::Result<std::string> t3 = SelectDiffSampleType(base, odd, "");
  ASSERT_FALSE(t3.ok());
  EXPECT_EQ(t3.error(),
            "sample type inuse_space is in bytes in BASE but in kilobytes in NEW; diff needs the "
            "same sample type on both sides");

  format::Result<std::string> ok = SelectDiffSampleType(base, New(), "inuse_objects");
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(*ok, "inuse_objects");
}

}  // namespace
}  // namespace heapscope::analyze
