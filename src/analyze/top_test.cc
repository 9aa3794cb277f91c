#include "analyze/top.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analyze/symbolizer.h"
#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

constexpr int64_t kMiB = 1 << 20;

// inuse_space totals 10.5 MiB: alloc holds 7, rec 2 (recursing three deep),
// inlined_leaf 1 (inlined into outer), and 0.5 has no stack at all.
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

const TopRow* Find(const TopReport& r, const std::string& name) {
  for (const TopRow& row : r.rows) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

TEST(TopTest, FlatAndCumPerFunction) {
  format::Profile p = SmallHeap();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "", .max_rows = 0});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->sample_type, "inuse_space");
  EXPECT_EQ(r->unit, "bytes");
  EXPECT_EQ(r->total, 21 * kMiB / 2);
  EXPECT_EQ(r->node_count, 6u);
  ASSERT_EQ(r->rows.size(), 6u);
  std::vector<std::string> order;
  for (const TopRow& row : r->rows) order.push_back(row.name);
  // By flat, then by name among equal flats.
  EXPECT_EQ(order,
            (std::vector<std::string>{"alloc", "rec", "inlined_leaf", "helper", "main", "outer"}));
  EXPECT_EQ(Find(*r, "alloc")->flat, 7 * kMiB);
  EXPECT_EQ(Find(*r, "alloc")->cum, 7 * kMiB);
  EXPECT_EQ(Find(*r, "helper")->flat, 0);
  EXPECT_EQ(Find(*r, "helper")->cum, 6 * kMiB);
  EXPECT_EQ(Find(*r, "main")->cum, 10 * kMiB);
  // Recursion counts once per sample.
  EXPECT_EQ(Find(*r, "rec")->cum, 2 * kMiB);
  // Flat goes to the innermost frame of an inline chain.
  EXPECT_EQ(Find(*r, "inlined_leaf")->flat, kMiB);
  EXPECT_EQ(Find(*r, "outer")->flat, 0);
  EXPECT_EQ(Find(*r, "outer")->cum, kMiB);
  EXPECT_EQ(r->shown_flat, 10 * kMiB);
}

TEST(TopTest, NoInlinesGivesInlinedFramesToTheirOutOfLineCaller) {
  format::Profile p = SmallHeap();
  DropInlinedFrames(p);
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "", .max_rows = 0});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(Find(*r, "inlined_leaf"), nullptr);
  ASSERT_NE(Find(*r, "outer"), nullptr);
  EXPECT_EQ(Find(*r, "outer")->flat, kMiB);
  EXPECT_EQ(Find(*r, "outer")->cum, kMiB);
  EXPECT_EQ(Find(*r, "alloc")->flat, 7 * kMiB);  // out of line already: unchanged
  EXPECT_EQ(r->total, 21 * kMiB / 2);
}

TEST(TopTest, OtherSampleTypeAndZeroValues) {
  format::Profile p = SmallHeap();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "alloc_space", .max_rows = 0});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->total, 35 * kMiB / 2);
  EXPECT_EQ(Find(*r, "helper")->flat, 5 * kMiB);
  EXPECT_EQ(Find(*r, "helper")->cum, 13 * kMiB);
}

TEST(TopTest, UnknownSampleType) {
  format::Profile p = SmallHeap();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "cpu", .max_rows = 20});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "unknown sample type \"cpu\"; this profile has: alloc_space, inuse_space");
}

TEST(TopTest, TextLooksLikePprof) {
  format::Profile p = SmallHeap();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "", .max_rows = 4});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(FormatTopText(*r),
            "Type: inuse_space\n"
            "Showing nodes accounting for 10MB, 95.24% of 10.50MB total\n"
            "Showing top 4 nodes out of 6\n"
            "      flat  flat%   sum%        cum   cum%\n"
            "       7MB 66.67% 66.67%        7MB 66.67%  alloc\n"
            "       2MB 19.05% 85.71%        2MB 19.05%  rec\n"
            "       1MB  9.52% 95.24%        1MB  9.52%  inlined_leaf (inline)\n"
            "         0     0% 95.24%        6MB 57.14%  helper\n");
}

TEST(TopTest, MarksInlinedFunctionsLikePprof) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t always = b.Loc({"always_inlined", "caller"});
  uint32_t inlined_here = b.Loc({"sometimes_inlined", "caller"});
  uint32_t called = b.Loc({"sometimes_inlined"});
  uint32_t other_caller = b.Loc({"other_caller"});
  uint32_t caller = b.Loc({"caller"});
  uint32_t mixed = b.Loc({"mixed_edge", "caller"});
  uint32_t mixed_called = b.Loc({"mixed_edge"});
  uint32_t root_only = b.Loc({"root_only"});
  b.Sample({always}, {4});
  b.Sample({inlined_here}, {3});
  b.Sample({called, other_caller}, {2});
  // The same caller -> callee edge both inlined and called: pprof counts
  // that edge as a call.
  b.Sample({mixed}, {2});
  b.Sample({mixed_called, caller}, {2});
  b.Sample({root_only}, {1});
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "", .max_rows = 0});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Find(*r, "always_inlined")->inline_label, "(inline)");
  EXPECT_EQ(Find(*r, "sometimes_inlined")->inline_label, "(partial-inline)");
  EXPECT_EQ(Find(*r, "mixed_edge")->inline_label, "");
  EXPECT_EQ(Find(*r, "caller")->inline_label, "");
  EXPECT_EQ(Find(*r, "root_only")->inline_label, "");
}

TEST(TopTest, LightInlineEdgesDoNotCount) {
  // pprof ignores edges below 0.1% of the total when it labels nodes.
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t heavy = b.Loc({"f"});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t light = b.Loc({"f", "rare_caller"});
  b.Sample({heavy, main_loc}, {100000});
  b.Sample({light}, {99});
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Find(*r, "f")->inline_label, "");
}

TEST(TopTest, TextHeaderShowsHeapscopeNotesAndFile) {
  ProfileBuilder b({{"inuse_objects", "count"}});
  uint32_t m = b.Mapping("/srv/bin/cache_server", 0x400000, 0x800000, 0);
  b.profile().mappings[m].build_id = b.Str("4d65822107fcfd52");
  uint32_t l = b.Loc({"Cache::Insert"}, m, 0x401000);
  b.Sample({l}, {3});
  b.profile().comments = {b.Str("heapscope: sample_rate=524288 dropped_samples=0"),
                          b.Str("# not for the header"), b.Str("other tool: x")};
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(FormatTopText(*r),
            "heapscope: sample_rate=524288 dropped_samples=0\n"
            "File: cache_server\n"
            "Build ID: 4d65822107fcfd52\n"
            "Type: inuse_objects\n"
            "Showing nodes accounting for 3, 100% of 3 total\n"
            "      flat  flat%   sum%        cum   cum%\n"
            "         3   100%   100%          3   100%  Cache::Insert\n");
}

TEST(TopTest, JsonShape) {
  format::Profile p = SmallHeap();
  format::Result<TopReport> r = ComputeTop(p, {.sample_type = "", .max_rows = 2});
  ASSERT_TRUE(r.ok()) << r.error();
  nlohmann::json j = nlohmann::json::parse(FormatTopJson(*r));
  EXPECT_EQ(j["sample_type"], "inuse_space");
  EXPECT_EQ(j["unit"], "bytes");
  EXPECT_EQ(j["total"], 21 * kMiB / 2);
  EXPECT_EQ(j["node_count"], 6);
  EXPECT_TRUE(j["comments"].is_array());
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["function"], "alloc");
  EXPECT_EQ(j["rows"][0]["flat"], 7 * kMiB);
  EXPECT_DOUBLE_EQ(j["rows"][0]["flat_pct"].get<double>(), 66.67);
  EXPECT_EQ(j["rows"][0]["cum"], 7 * kMiB);
  EXPECT_DOUBLE_EQ(j["rows"][1]["cum_pct"].get<double>(), 19.05);
}

TEST(TopTest, JsonSurvivesInvalidUtf8Names) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t l = b.Loc({std::string("bad\xff name")});
  b.Sample({l}, {1});
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok());
  nlohmann::json j = nlohmann::json::parse(FormatTopJson(*r));
  EXPECT_EQ(j["rows"][0]["function"], "bad\xEF\xBF\xBD name");
}

TEST(TopTest, DropFramesMovesFlatToTheCaller) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t malloc_loc = b.Loc({"malloc"});
  uint32_t user = b.Loc({"Cache::Fill()"});
  uint32_t main_loc = b.Loc({"main"});
  b.Sample({malloc_loc, user, main_loc}, {64});
  b.profile().drop_frames = b.Str("malloc");
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->rows.size(), 2u);
  EXPECT_EQ(r->rows[0].name, "Cache::Fill");
  EXPECT_EQ(r->rows[0].flat, 64);
  EXPECT_EQ(Find(*r, "malloc"), nullptr);
}

TEST(TopTest, NegativeValuesCountByMagnitude) {
  ProfileBuilder b({{"space", "bytes"}});
  uint32_t a = b.Loc({"grew"});
  uint32_t c = b.Loc({"shrank"});
  b.Sample({a}, {100});
  b.Sample({c}, {-300});
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 400);
  EXPECT_EQ(r->rows[0].name, "shrank");
  EXPECT_EQ(r->rows[0].flat, -300);
}

TEST(TopTest, EmptyProfile) {
  ProfileBuilder b({{"space", "bytes"}});
  format::Profile p = b.Build();
  format::Result<TopReport> r = ComputeTop(p, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->total, 0);
  EXPECT_TRUE(r->rows.empty());
  EXPECT_EQ(FormatTopText(*r),
            "Type: space\n"
            "Showing nodes accounting for 0, 0% of 0 total\n"
            "      flat  flat%   sum%        cum   cum%\n");
}

}  // namespace
}  // namespace heapscope::analyze
