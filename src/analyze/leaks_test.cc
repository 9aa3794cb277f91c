#include "analyze/leaks.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "analyze/test_profile.h"
#include "format/profile_writer.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

// A heap profile at `second` with the given in-use bytes per stack (exact
// mode, so the values are the truth). Two call sites of Cache::Put differ
// only in address and must merge.
format::Profile Snapshot(int64_t second, int64_t leak, int64_t cache, int64_t table, int64_t burst,
                         const std::vector<std::string>& comments = {}) {
  ProfileBuilder b({{"alloc_objects", "count"},
                    {"alloc_space", "bytes"},
                    {"inuse_objects", "count"},
                    {"inuse_space", "bytes"}});
  format::Profile& p = b.profile();
  p.time_nanos = (1700000000 + second) * 1000000000LL;
  p.comments.push_back(b.Str("heapscope: rate=1 mode=exact pid=1"));
  for (const std::string& c : comments) p.comments.push_back(b.Str(c));
  uint32_t main_loc = b.Loc({"main"});
  uint32_t leak_a = b.Loc({"Sessions::Remember(int)"}, format::kNoIndex, 0x1000);
  uint32_t leak_b = b.Loc({"Sessions::Remember(int)"}, format::kNoIndex, 0x1008);
  uint32_t cache_loc = b.Loc({"Cache::Put"});
  uint32_t table_loc = b.Loc({"Table::Build"});
  uint32_t burst_loc = b.Loc({"Report::Build"});
  b.Sample({leak_a, main_loc}, {0, 0, leak / 200, leak / 2});
  b.Sample({leak_b, main_loc}, {0, 0, leak / 200, leak - leak / 2});
  b.Sample({cache_loc, main_loc}, {0, 0, cache / 100, cache});
  b.Sample({table_loc, main_loc}, {0, 0, table / 100, table});
  b.Sample({burst_loc, main_loc}, {0, 0, burst / 100, burst});
  return b.Build();
}

std::vector<LeakSnapshot> Series(size_t n) {
  std::vector<LeakSnapshot> out;
  for (size_t i = 0; i < n; i++) {
    int64_t s = static_cast<int64_t>(i);
    auto snap = SummarizeSnapshot(
        Snapshot(s, 10000 * (s + 1), std::min<int64_t>(s + 1, 3) * 50000, 400000,
                 s == 4 ? 5000000 : 0),
        "heap." + std::to_string(i));
    EXPECT_TRUE(snap.ok()) << snap.error();
    out.push_back(std::move(*snap));
  }
  return out;
}

TEST(LeaksTest, SummarizeMergesStacksByName) {
  auto snap = SummarizeSnapshot(Snapshot(0, 1000, 0, 0, 0), "x");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->rate, 1);
  EXPECT_EQ(snap->stacks.size(), 1u);  // Only non-zero stacks.
  EXPECT_EQ(snap->stacks.begin()->first, "Sessions::Remember\nmain\n");
  EXPECT_EQ(snap->stacks.begin()->second.bytes, 1000);
  EXPECT_EQ(snap->functions.at("Sessions::Remember").bytes, 1000);
}

TEST(LeaksTest, GoNamesKeepTheirReceivers) {
  // Go writes methods as "pkg.(*T).M" and closures as "pkg.F.func1": no
  // parameter list to cut, unlike C++'s "Cache<int>::Put(int)".
  ProfileBuilder b({{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
  uint32_t method = b.Loc({"runtime/pprof.(*profileBuilder).appendLocsForStack"});
  uint32_t closure = b.Loc({"main.(*server).handle.func1"});
  uint32_t generic = b.Loc({"main.Cache[...].Put"});
  uint32_t cpp = b.Loc({"Cache<int>::Put(int)"});
  uint32_t main_loc = b.Loc({"main.main"});
  b.Sample({method, closure, generic, cpp, main_loc}, {1, 64});
  auto snap = SummarizeSnapshot(b.Build(), "go");
  ASSERT_TRUE(snap.ok()) << snap.error();
  ASSERT_EQ(snap->stacks.size(), 1u);
  EXPECT_EQ(snap->stacks.begin()->first,
            "runtime/pprof.(*profileBuilder).appendLocsForStack\nmain.(*server).handle.func1\n"
            "main.Cache[...].Put\nCache::Put\nmain.main\n");
}

TEST(LeaksTest, FindsTheLeakAndRulesOutTheRest) {
  LeakOptions o;
  o.limit = 1000000;
  o.limit_source = "--limit";
  LeakReport r = AnalyzeLeaks(Series(12), o);
  EXPECT_TRUE(r.enough_snapshots);
  ASSERT_EQ(r.suspects.size(), 1u);
  const LeakSuspect& s = r.suspects[0];
  EXPECT_EQ(s.frames, (std::vector<std::string>{"Sessions::Remember", "main"}));
  EXPECT_EQ(s.inuse, 120000);
  EXPECT_NEAR(s.growth_per_sec, 10000, 1e-6);
  EXPECT_GT(s.confidence, 0.99);
  EXPECT_GT(s.share_of_growth, 0.5);
  EXPECT_EQ(r.ruled_out["plateau"], 1u);
  EXPECT_EQ(r.ruled_out["transient"], 1u);
  EXPECT_EQ(r.ruled_out["constant"], 1u);
  ASSERT_EQ(r.functions.size(), 1u);
  EXPECT_EQ(r.functions[0].frames[0], "Sessions::Remember");
  EXPECT_DOUBLE_EQ(r.duration_sec, 11);
  ASSERT_TRUE(r.time_to_limit_sec.has_value());
  EXPECT_GT(*r.time_to_limit_sec, 0);

  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("Sessions::Remember"), std::string::npos) << text;
  EXPECT_NE(text.find("ruled out: 1 plateau (bounded caches), 1 transient (temporary peaks), "
                      "1 constant"),
            std::string::npos)
      << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["snapshots"], 12);
  EXPECT_EQ(j["suspects"][0]["kind"], "heap");
  EXPECT_EQ(j["suspects"][0]["verdict"], "growing");
  EXPECT_EQ(j["suspects"][0]["frames"][0], "Sessions::Remember");
  EXPECT_EQ(j["suspects"][0]["inuse"], 120000);
  EXPECT_NEAR(j["suspects"][0]["growth_per_hour"].get<double>(), 36e6, 1);
  EXPECT_EQ(j["ruled_out"]["plateau"], 1);
  EXPECT_TRUE(j["suspects"][0]["oldest_age_sec"].is_null());  // no ages in these profiles
  EXPECT_TRUE(j["time_to_limit_sec"].is_number());
}

TEST(LeaksTest, TimeToTheCgroupLimitTheRuntimeRecorded) {
  // The runtime's comments: the cgroup's limit and the resident memory.
  auto series = [](bool with_limit, bool with_rss, int64_t high = 0) {
    std::vector<LeakSnapshot> out;
    for (int64_t s = 0; s < 12; s++) {
      std::vector<std::string> comments;
      if (with_limit) {
        comments.push_back("heapscope: memory_limit=" + std::string(s == 11 ? "3000000" : "0") +
                           " cgroup_version=2 cgroup_usage=1234");
      }
      if (high != 0) comments.push_back("heapscope: memory_high=" + std::to_string(high));
      if (with_rss) {
        comments.push_back("heapscope: rss=900000 rss_heap=600000 vm_rss=" +
                           std::to_string(900000 + 20000 * s) + " vm_hwm=1 allocator=glibc");
      }
      auto snap = SummarizeSnapshot(Snapshot(s, 10000 * (s + 1), 50000, 400000, 0, comments),
                                    "heap." + std::to_string(s));
      EXPECT_TRUE(snap.ok()) << snap.error();
      out.push_back(std::move(*snap));
    }
    return out;
  };
  LeakReport r = AnalyzeLeaks(series(true, true), LeakOptions{});
  ASSERT_TRUE(r.limit.has_value());
  EXPECT_EQ(*r.limit, 3000000);  // the newest snapshot's (0: none set, in the others)
  EXPECT_EQ(r.limit_source, "the cgroup's memory limit");
  EXPECT_EQ(r.resident, 900000 + 20000 * 11);
  EXPECT_NEAR(r.total_growth_per_sec, 10000, 1e-6);
  ASSERT_TRUE(r.time_to_limit_sec.has_value());
  // From the resident memory, at the heap's growth rate.
  EXPECT_NEAR(*r.time_to_limit_sec, (3000000.0 - 1120000) / 10000, 1e-6);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("limit 2.86MB (the cgroup's memory limit): 1.07MB resident now; reached in "
                      "about 3m08s at the heap's current growth rate"),
            std::string::npos)
      << text;
  // Each heap suspect: the time at its own growth alone (the leak is all of
  // the growth here).
  ASSERT_EQ(r.suspects.size(), 1u);
  ASSERT_TRUE(r.suspects[0].time_to_limit_sec.has_value());
  EXPECT_NEAR(*r.suspects[0].time_to_limit_sec,
              (3000000.0 - 1120000) / r.suspects[0].growth_per_sec, 1e-6);
  EXPECT_NE(text.find("100% of heap growth; the limit in about 3m08s at this rate alone\n"),
            std::string::npos)
      << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_NEAR(j["suspects"][0]["time_to_limit_sec"].get<double>(), 188, 1e-6);
  EXPECT_NEAR(j["functions"][0]["time_to_limit_sec"].get<double>(), 188, 1e-6);
  EXPECT_EQ(j["limit"], 3000000);
  EXPECT_EQ(j["limit_source"], "the cgroup's memory limit");
  EXPECT_EQ(j["resident"], 1120000);
  EXPECT_TRUE(j["memory_high"].is_null());  // none set
  EXPECT_EQ(text.find("memory.high"), std::string::npos) << text;

  // memory.high below the limit: the time until the throttling starts,
  // from the same resident memory at the same rate.
  r = AnalyzeLeaks(series(true, true, 2000000), LeakOptions{});
  ASSERT_TRUE(r.memory_high.has_value());
  EXPECT_EQ(*r.memory_high, 2000000);
  ASSERT_TRUE(r.time_to_memory_high_sec.has_value());
  EXPECT_NEAR(*r.time_to_memory_high_sec, (2000000.0 - 1120000) / 10000, 1e-6);
  text = FormatLeaksText(r);
  EXPECT_NE(text.find("memory.high 1.91MB (the cgroup's throttling threshold: past it the kernel "
                      "reclaims hard and slows the process down): reached in about 88s\n"),
            std::string::npos)
      << text;
  j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["memory_high"], 2000000);
  EXPECT_NEAR(j["time_to_memory_high_sec"].get<double>(), 88, 1e-6);
  // Past it already: 0. At or above the limit it says nothing the limit
  // does not: left out. Without a limit it stands alone.
  r = AnalyzeLeaks(series(true, true, 1000000), LeakOptions{});
  EXPECT_EQ(r.time_to_memory_high_sec, 0.0);
  EXPECT_NE(FormatLeaksText(r).find("slows the process down): already past it\n"),
            std::string::npos);
  r = AnalyzeLeaks(series(true, true, 3000000), LeakOptions{});
  EXPECT_FALSE(r.memory_high.has_value());
  r = AnalyzeLeaks(series(false, true, 2000000), LeakOptions{});
  EXPECT_FALSE(r.limit.has_value());
  EXPECT_EQ(r.memory_high, 2000000);
  EXPECT_NEAR(*r.time_to_memory_high_sec, 88, 1e-6);

  // --limit wins over the cgroup's.
  LeakOptions o;
  o.limit = 2000000;
  o.limit_source = "--limit";
  r = AnalyzeLeaks(series(true, true), o);
  EXPECT_EQ(r.limit_source, "--limit");
  EXPECT_NEAR(*r.time_to_limit_sec, (2000000.0 - 1120000) / 10000, 1e-6);

  // Without resident memory (Go's profiles): from the heap in use.
  r = AnalyzeLeaks(series(true, false), LeakOptions{});
  EXPECT_EQ(r.resident, 0);
  EXPECT_EQ(r.total_inuse, 120000 + 50000 + 400000);
  EXPECT_NEAR(*r.time_to_limit_sec, (3000000.0 - 570000) / 10000, 1e-6);
  j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_TRUE(j["resident"].is_null());
  EXPECT_NE(FormatLeaksText(r).find("556.64kB of heap in use now"), std::string::npos);

  // No limit anywhere: none, and nothing projected.
  r = AnalyzeLeaks(series(false, true), LeakOptions{});
  EXPECT_FALSE(r.limit.has_value());
  EXPECT_FALSE(r.time_to_limit_sec.has_value());
  j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_TRUE(j["limit_source"].is_null());
  EXPECT_TRUE(j["suspects"][0]["time_to_limit_sec"].is_null());
  EXPECT_EQ(FormatLeaksText(r).find("limit "), std::string::npos);
}

// A frame's source line comes from the symbolized twin of the profile:
// the line in the function the frame names (the outermost of an inline
// chain), of the key's largest sample; the keys stay the plain profile's.
TEST(LeaksTest, StackSourcesFromTheSymbolizedTwin) {
  format::Profile plain = Snapshot(0, 1001, 0, 0, 0);  // Remember: 500 at 0x1000, 501 at 0x1008
  format::Profile sym = Snapshot(0, 1001, 0, 0, 0);
  auto file = [&](const std::string& name, const std::string& path) {
    for (format::Function& fn : sym.functions) {
      if (sym.String(fn.name) == name) fn.filename = sym.AddString(path);
    }
  };
  file("main", "/src/main.cc");
  file("Sessions::Remember(int)", "/src/sessions.cc");
  for (format::Location& loc : sym.locations) {
    const std::string name(sym.String(sym.FunctionOf(sym.LinesOf(loc)[0]).name));
    if (name == "main") sym.lines[loc.line_begin].line = 5;
    if (loc.address == 0x1000) sym.lines[loc.line_begin].line = 10;
    if (loc.address == 0x1008) {
      // Inlined into Remember at line 20: an inner frame first.
      format::Function inner;
      inner.id = sym.functions.size() + 1;
      inner.name = sym.AddString("std::make_unique");
      inner.filename = sym.AddString("/usr/include/c++/12/bits/unique_ptr.h");
      sym.functions.push_back(inner);
      uint32_t outer = sym.lines[loc.line_begin].function;
      loc.line_begin = static_cast<uint32_t>(sym.lines.size());
      loc.line_count = 2;
      sym.lines.push_back({static_cast<uint32_t>(sym.functions.size() - 1), 962, 0});
      sym.lines.push_back({outer, 20, 0});
    }
  }
  FrameSources sources = StackSources(plain, sym);
  ASSERT_EQ(sources.count("Sessions::Remember\nmain\n"), 1u);
  EXPECT_EQ(sources["Sessions::Remember\nmain\n"],
            (std::vector<std::string>{"/src/sessions.cc:20", "/src/main.cc:5"}));
  // A profile that has its inline chains already (Go's, or one
  // symbolized before) gives each frame of a chain its own line.
  FrameSources own = StackSources(sym, sym);
  EXPECT_EQ(own["std::make_unique\nSessions::Remember\nmain\n"],
            (std::vector<std::string>{"/usr/include/c++/12/bits/unique_ptr.h:962",
                                      "/src/sessions.cc:20", "/src/main.cc:5"}));
  EXPECT_EQ(own["Sessions::Remember\nmain\n"],
            (std::vector<std::string>{"/src/sessions.cc:10", "/src/main.cc:5"}));
  // When the largest sample has no line, a smaller one's serves: here
  // 0x1000's sample (first) is the larger, and only 0x1008 has a line.
  format::Profile heavier = Snapshot(0, 1001, 0, 0, 0);
  heavier.samples.values[3] = 900;  // sample 0 (0x1000): inuse_space
  format::Profile partial = Snapshot(0, 1001, 0, 0, 0);
  for (format::Function& fn : partial.functions) {
    if (partial.String(fn.name) == "Sessions::Remember(int)") {
      fn.filename = partial.AddString("/src/sessions.cc");
    }
  }
  for (format::Location& loc : partial.locations) {
    if (loc.address == 0x1000) partial.lines[loc.line_begin].line = 0;
    if (loc.address == 0x1008) partial.lines[loc.line_begin].line = 20;
  }
  EXPECT_EQ(StackSources(heavier, partial)["Sessions::Remember\nmain\n"],
            (std::vector<std::string>{"/src/sessions.cc:20", ""}));
  // A plain profile has no lines to give (line 1 of a function with no
  // file); another profile is not its twin.
  EXPECT_TRUE(StackSources(plain, plain).empty());
  format::Profile other = Snapshot(0, 1001, 0, 0, 0);
  other.locations.push_back(other.locations[0]);
  EXPECT_TRUE(StackSources(plain, other).empty());

  // The report gives them beside the frames, the newest snapshot's.
  auto series = Series(12);
  series.back().sources = sources;
  LeakReport r = AnalyzeLeaks(series, LeakOptions{});
  ASSERT_EQ(r.suspects.size(), 1u);
  EXPECT_EQ(r.suspects[0].sources, sources["Sessions::Remember\nmain\n"]);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("Sessions::Remember  sessions.cc:20\n"), std::string::npos) << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["suspects"][0]["sources"][0], "/src/sessions.cc:20");
  // Without lines, `sources` is still there, one "" per frame.
  LeakReport plain_report = AnalyzeLeaks(Series(12), LeakOptions{});
  auto pj = nlohmann::json::parse(FormatLeaksJson(plain_report));
  EXPECT_EQ(pj["suspects"][0]["sources"], (std::vector<std::string>{"", ""}));
}

// Two stacks rising alike for 12 s; the newest profile carries ages: what
// Sessions::Remember holds is as old as the run, what Pool::Take holds is
// all under a second old (its objects turn over, the level rose anyway).
TEST(LeaksTest, AgesRuleOutWhatTurnsOver) {
  std::vector<LeakSnapshot> snaps;
  for (int64_t i = 0; i < 12; i++) {
    ProfileBuilder b({{"inuse_objects", "count"}, {"inuse_space", "bytes"}});
    format::Profile& p = b.profile();
    p.time_nanos = (1700000000 + i) * 1000000000LL;
    p.comments.push_back(b.Str("heapscope: rate=1 mode=exact pid=1"));
    uint32_t main_loc = b.Loc({"main"});
    uint32_t keep = b.Loc({"Sessions::Remember"});
    uint32_t pool = b.Loc({"Pool::Take"});
    const int64_t level = 10000 * (i + 1);
    if (i < 11) {
      b.Sample({keep, main_loc}, {level / 100, level});
      b.Sample({pool, main_loc}, {level / 100, level});
    } else {
      for (auto [age, bytes] : std::vector<std::pair<int64_t, int64_t>>{
               {0, 10000}, {1, 10000}, {2, 10000}, {3, 10000}, {4, 20000}, {6, 20000}, {8, 40000}}) {
        b.Sample({keep, main_loc}, {bytes / 100, bytes}, {{"age", age, "seconds"}});
      }
      b.Sample({pool, main_loc}, {level / 100, level}, {{"age", 0, "seconds"}});
    }
    auto snap = SummarizeSnapshot(b.Build(), "heap." + std::to_string(i));
    ASSERT_TRUE(snap.ok()) << snap.error();
    snaps.push_back(std::move(*snap));
  }
  const AgeHistogram& h = snaps.back().stack_ages.at("Sessions::Remember\nmain\n");
  ASSERT_EQ(h.size(), 7u);
  EXPECT_EQ(h.front().age_sec, 0);
  EXPECT_EQ(h.back().age_sec, 8);
  EXPECT_EQ(h.back().bytes, 40000);

  LeakReport r = AnalyzeLeaks(snaps, LeakOptions{});
  ASSERT_EQ(r.suspects.size(), 1u);
  EXPECT_EQ(r.suspects[0].frames[0], "Sessions::Remember");
  ASSERT_TRUE(r.suspects[0].oldest_age_sec.has_value());
  EXPECT_EQ(*r.suspects[0].oldest_age_sec, 8);
  EXPECT_EQ(r.ruled_out[kTurnedOver], 1u);
  ASSERT_EQ(r.functions.size(), 1u);
  EXPECT_EQ(r.functions[0].frames[0], "Sessions::Remember");
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("1 of them rose but kept little of what they added early"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("(oldest at least 8s old)"), std::string::npos) << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["ruled_out"]["turned_over"], 1);
  EXPECT_EQ(j["suspects"][0]["oldest_age_sec"], 8);
}

TEST(LeaksTest, SampledReportStatesTheSlowestLeakItCanShow) {
  // Exact mode: no floor, no line.
  LeakReport exact = AnalyzeLeaks(Series(12), LeakOptions{});
  EXPECT_EQ(exact.heap_growth_floor_per_sec, 0);
  EXPECT_EQ(FormatLeaksText(exact).find("slowest heap leak"), std::string::npos);
  // The same series sampled at 512 KiB over its 11 s: 9 * 524288 / 11.
  std::vector<LeakSnapshot> sampled = Series(12);
  for (LeakSnapshot& s : sampled) s.rate = 524288;
  LeakReport r = AnalyzeLeaks(sampled, LeakOptions{});
  EXPECT_DOUBLE_EQ(r.heap_growth_floor_per_sec, 9.0 * 524288 / 11);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("slowest heap leak this window can show: about 418.91kB/s"),
            std::string::npos)
      << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_DOUBLE_EQ(j["heap_growth_floor_per_sec"].get<double>(), 9.0 * 524288 / 11);
}

TEST(LeaksTest, NotEnoughSnapshots) {
  LeakReport r = AnalyzeLeaks(Series(2), LeakOptions{});
  EXPECT_FALSE(r.enough_snapshots);
  EXPECT_TRUE(r.suspects.empty());
  EXPECT_NE(FormatLeaksText(r).find("not enough snapshots"), std::string::npos);
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_TRUE(j["time_to_limit_sec"].is_null());
}

TEST(LeaksTest, ListSnapshotFilesOrder) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("hs-leaks-test-" + std::to_string(getpid()));
  fs::create_directories(dir);
  // After snapshot 9999 the names have five digits and still sort by number.
  for (const char* name : {"heap.10000.pb.gz", "heap.9999.pb.gz", "heap.final.pb.gz",
                           "heap.123.0001.pb.gz", "heap.123.final.pb.gz", "other.txt"}) {
    std::ofstream(dir / name) << "x";
  }
  auto files = ListSnapshotFiles(dir.string(), 0);
  ASSERT_TRUE(files.ok()) << files.error();
  ASSERT_EQ(files->size(), 3u);
  EXPECT_EQ(fs::path((*files)[0]).filename(), "heap.9999.pb.gz");
  EXPECT_EQ(fs::path((*files)[1]).filename(), "heap.10000.pb.gz");
  EXPECT_EQ(fs::path((*files)[2]).filename(), "heap.final.pb.gz");
  auto child = ListSnapshotFiles(dir.string(), 123);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->size(), 2u);
  // Corrupt files: all unreadable is an error.
  std::vector<std::string> warnings;
  auto loaded = LoadLeakSnapshots({dir.string()}, 0, &warnings);
  EXPECT_FALSE(loaded.ok());
  EXPECT_FALSE(ListSnapshotFiles((dir / "missing").string(), 0).ok());
  fs::remove_all(dir);
}

// A program whose malloc is another allocator's (Chromium's): the runtime
// says so in every profile, and the report says the heap was not seen
// rather than that nothing grew.
TEST(LeaksTest, HeapNotSeenIsSaid) {
  std::vector<LeakSnapshot> series;
  for (int64_t s = 0; s < 8; s++) {
    ProfileBuilder b({{"alloc_objects", "count"},
                      {"alloc_space", "bytes"},
                      {"inuse_objects", "count"},
                      {"inuse_space", "bytes"}});
    format::Profile& p = b.profile();
    p.time_nanos = (1700000000 + s) * 1000000000LL;
    p.comments.push_back(b.Str("heapscope: rate=524288 mode=sampled pid=7"));
    p.comments.push_back(
        b.Str("heapscope: heap_not_seen=1 malloc_from=/usr/lib/chromium/chromium"));
    auto snap = SummarizeSnapshot(b.Build(), "heap." + std::to_string(s));
    ASSERT_TRUE(snap.ok()) << snap.error();
    EXPECT_EQ(snap->heap_not_seen, "/usr/lib/chromium/chromium");
    series.push_back(std::move(*snap));
  }
  LeakReport r = AnalyzeLeaks(series, LeakOptions{});
  EXPECT_EQ(r.heap_not_seen, "/usr/lib/chromium/chromium");
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("heap: not profiled: malloc comes from /usr/lib/chromium/chromium"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("slowest heap leak"), std::string::npos) << text;
  EXPECT_EQ(text.find("process in use"), std::string::npos) << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["heap_not_seen"], "/usr/lib/chromium/chromium");
  // A profiled heap: null.
  auto plain = nlohmann::json::parse(FormatLeaksJson(AnalyzeLeaks(Series(8), LeakOptions{})));
  EXPECT_TRUE(plain["heap_not_seen"].is_null());
}

TEST(LeaksTest, ParseSnapshotName) {
  auto main10k = ParseSnapshotName("heap.10000.pb.gz");
  ASSERT_TRUE(main10k);
  EXPECT_EQ(main10k->pid, 0);
  EXPECT_EQ(main10k->seq, 10000u);
  EXPECT_FALSE(main10k->final);
  auto child = ParseSnapshotName("heap.4242.0007.pb.gz");
  ASSERT_TRUE(child);
  EXPECT_EQ(child->pid, 4242);
  EXPECT_EQ(child->seq, 7u);
  auto child_final = ParseSnapshotName("heap.4242.final.pb.gz");
  ASSERT_TRUE(child_final);
  EXPECT_TRUE(child_final->final);
  EXPECT_EQ(child_final->pid, 4242);
  EXPECT_TRUE(ParseSnapshotName("heap.final.pb.gz")->final);
  for (const char* bad : {"heap.123.pb.gz", "heap.0001.pb.gz.tmp", "fds.0001.pb.gz",
                          "heap..0001.pb.gz", "heap.01.0001.pb.gz", "heap.x.final.pb.gz",
                          "heap.1.2.0001.pb.gz", "heap.pb.gz", "heap.1234567890123456789.pb.gz"}) {
    EXPECT_FALSE(ParseSnapshotName(bad)) << bad;
  }
}

// The runtime's profile at exit comes after the program's teardown: here
// the destructors free everything, the leak (a global cache) included.
// The series are judged without that profile; told nothing of it, the
// teardown hides the leak.
TEST(LeaksTest, SeriesAreJudgedWithoutTheProfileAtExit) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("hs-leaks-exit-" + std::to_string(getpid()));
  fs::create_directories(dir);
  for (int64_t s = 0; s < 12; s++) {
    char name[32];
    std::snprintf(name, sizeof name, "heap.%04d.pb.gz", static_cast<int>(s) + 1);
    ASSERT_TRUE(format::WriteProfileFile(
                    Snapshot(s, 10000 * (s + 1), std::min<int64_t>(s + 1, 3) * 50000, 400000, 0),
                    (dir / name).string())
                    .ok());
  }
  ASSERT_TRUE(
      format::WriteProfileFile(Snapshot(12, 0, 0, 0, 0), (dir / "heap.final.pb.gz").string()).ok());
  std::vector<std::string> warnings;
  auto snaps = LoadLeakSnapshots({dir.string()}, 0, &warnings);
  fs::remove_all(dir);
  ASSERT_TRUE(snaps.ok()) << snaps.error();
  ASSERT_EQ(snaps->size(), 13u);
  EXPECT_FALSE(snaps->front().at_exit);
  EXPECT_TRUE(snaps->back().at_exit);

  LeakReport r = AnalyzeLeaks(*snaps, LeakOptions{});
  EXPECT_TRUE(r.running_only);
  EXPECT_EQ(r.snapshots, 12u);
  EXPECT_DOUBLE_EQ(r.duration_sec, 11);
  EXPECT_EQ(r.total_verdict, Verdict::kGrowing);
  EXPECT_EQ(r.total_inuse, 120000 + 150000 + 400000);  // the last snapshot before exit
  ASSERT_EQ(r.suspects.size(), 1u);
  EXPECT_EQ(r.suspects[0].frames[0], "Sessions::Remember");
  EXPECT_EQ(r.suspects[0].inuse, 120000);
  EXPECT_NE(FormatLeaksText(r).find("judged while running"), std::string::npos);
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["total_verdict"], "growing");
  EXPECT_EQ(j["running_only"], true);

  // The same series, not knowing which profile came at exit.
  snaps->back().at_exit = false;
  LeakReport blind = AnalyzeLeaks(*snaps, LeakOptions{});
  EXPECT_FALSE(blind.running_only);
  EXPECT_NE(blind.total_verdict, Verdict::kGrowing);
  EXPECT_TRUE(blind.suspects.empty());

  // Too few snapshots before it: the profile at exit counts.
  std::vector<LeakSnapshot> few(snaps->end() - 6, snaps->end());
  few.back().at_exit = true;
  EXPECT_FALSE(AnalyzeLeaks(few, LeakOptions{}).running_only);
}

// An fds profile as the runtime writes it: per stack, a count.
format::Profile FdProfile(int64_t opened_by_leak, int64_t config_files) {
  ProfileBuilder b({{"fds", "count"}});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t leak = b.Loc({"AuditLog::OpenForPath(std::string const&)"});
  uint32_t config = b.Loc({"ReadConfig"});
  b.Sample({leak, main_loc}, {opened_by_leak});
  b.Sample({config, main_loc}, {config_files});
  return b.Build();
}

format::Profile ThreadProfile(int64_t pool) {
  ProfileBuilder b({{"threads", "count"}});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t start = b.Loc({"StartPool"});
  for (int64_t i = 0; i < pool; i++) b.Sample({start, main_loc}, {1});
  return b.Build();
}

TEST(LeaksTest, ResourceKindsAreExactCountsRankedWithinTheirKind) {
  std::vector<LeakSnapshot> snaps = Series(12);
  for (size_t i = 0; i < snaps.size(); i++) {
    int64_t n = static_cast<int64_t>(i);
    // Two descriptors a snapshot, never closed; a config file open now and then.
    auto fds = SummarizeResource(FdProfile(3 + 2 * n, n % 3 == 0 ? 1 : 0), LeakKind::kFd, "fds");
    ASSERT_TRUE(fds.ok()) << fds.error();
    snaps[i].resources[ResourceIndex(LeakKind::kFd)] = std::move(*fds);
    // A pool of 4 started at once: constant. Thread profiles start late.
    if (i >= 2) {
      auto th = SummarizeResource(ThreadProfile(4), LeakKind::kThread, "threads");
      ASSERT_TRUE(th.ok());
      snaps[i].resources[ResourceIndex(LeakKind::kThread)] = std::move(*th);
    }
  }
  LeakReport r = AnalyzeLeaks(snaps, LeakOptions{});
  ASSERT_EQ(r.resources.size(), 2u);
  EXPECT_EQ(r.resources[0].kind, LeakKind::kFd);
  EXPECT_EQ(r.resources[0].total, 3 + 2 * 11);
  EXPECT_EQ(r.resources[0].snapshots, 12u);
  EXPECT_EQ(r.resources[1].kind, LeakKind::kThread);
  EXPECT_EQ(r.resources[1].snapshots, 10u);
  EXPECT_EQ(r.resources[1].suspects_total, 0u);
  // The heap leak (10 KB/s) and the fd leak (2/s): each the first of its
  // kind; bytes and counts are never compared.
  ASSERT_EQ(r.suspects.size(), 2u);
  EXPECT_EQ(r.suspects[0].kind, LeakKind::kHeap);
  EXPECT_EQ(r.suspects[0].rank, 1u);
  EXPECT_EQ(r.suspects[1].kind, LeakKind::kFd);
  EXPECT_EQ(r.suspects[1].rank, 1u);
  EXPECT_EQ(r.suspects[1].frames[0], "AuditLog::OpenForPath");
  EXPECT_NEAR(r.suspects[1].growth_per_sec, 2, 1e-9);
  EXPECT_EQ(r.suspects[1].inuse, 25);
  EXPECT_DOUBLE_EQ(r.suspects[1].share_of_growth, 1);
  EXPECT_EQ(r.suspects_total, 2u);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("2. fd +2.00 fds/s"), std::string::npos) << text;
  EXPECT_NE(text.find("fd: 25 fds open now"), std::string::npos) << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["suspects"][1]["kind"], "fd");
  EXPECT_EQ(j["suspects"][1]["unit"], "count");
  EXPECT_EQ(j["resources"][0]["kind"], "fd");
  EXPECT_EQ(j["resources"][1]["verdict"], "constant");
  // No fd_limit in these profiles: no projection.
  EXPECT_TRUE(j["resources"][0]["limit"].is_null());
  EXPECT_TRUE(j["resources"][0]["time_to_limit_sec"].is_null());
}

// Connections a client opened and closed again: the kind's slope over
// the window is positive, but the report says the series came back down,
// and nothing is a suspect (memcached under a client that exited).
TEST(LeaksTest, ResourceKindThatFellBackSaysSo) {
  std::vector<LeakSnapshot> snaps = Series(12);
  for (size_t i = 0; i < snaps.size(); i++) {
    int64_t open = i < 10 ? 3 + 30 * static_cast<int64_t>(i) : 3;
    auto fds = SummarizeResource(FdProfile(open, 0), LeakKind::kFd, "fds");
    ASSERT_TRUE(fds.ok()) << fds.error();
    snaps[i].resources[ResourceIndex(LeakKind::kFd)] = std::move(*fds);
  }
  LeakReport r = AnalyzeLeaks(snaps, LeakOptions{});
  ASSERT_EQ(r.resources.size(), 1u);
  EXPECT_EQ(r.resources[0].verdict, Verdict::kTransient);
  for (const LeakSuspect& s : r.suspects) EXPECT_NE(s.kind, LeakKind::kFd);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("fd: 3 fds open now, "), std::string::npos) << text;
  EXPECT_NE(text.find("snapshots), transient: rose and fell back\n"), std::string::npos) << text;
}

TEST(LeaksTest, FdLeakIsProjectedToTheOpenFileLimit) {
  std::vector<LeakSnapshot> snaps = Series(12);
  for (size_t i = 0; i < snaps.size(); i++) {
    format::Profile p = FdProfile(3 + 2 * static_cast<int64_t>(i), 0);
    p.comments.push_back(p.AddString("heapscope: fds=0 inherited=3 fd_limit=100"));
    auto fds = SummarizeResource(p, LeakKind::kFd, "fds");
    ASSERT_TRUE(fds.ok()) << fds.error();
    ASSERT_TRUE(fds->limit.has_value());
    EXPECT_EQ(*fds->limit, 100);
    snaps[i].resources[ResourceIndex(LeakKind::kFd)] = std::move(*fds);
  }
  LeakReport r = AnalyzeLeaks(snaps, LeakOptions{});
  ASSERT_EQ(r.resources.size(), 1u);
  ASSERT_TRUE(r.resources[0].time_to_limit_sec.has_value());
  // 25 open now, 2 more a second: 75 to go.
  EXPECT_NEAR(*r.resources[0].time_to_limit_sec, 37.5, 1e-9);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("the open-file limit (100) is reached in about"), std::string::npos) << text;
  auto j = nlohmann::json::parse(FormatLeaksJson(r));
  EXPECT_EQ(j["resources"][0]["limit"], 100);
  EXPECT_NEAR(j["resources"][0]["time_to_limit_sec"].get<double>(), 37.5, 1e-9);

  // 179.5 s to go: three minutes, not 2m60s.
  snaps.back().resources[0].limit = 25 + 359;
  r = AnalyzeLeaks(snaps, LeakOptions{});
  text = FormatLeaksText(r);
  EXPECT_NE(text.find("(384) is reached in about 3m00s at this rate"), std::string::npos) << text;
  // Hours round to the minute the same way: 2h00m, not 1h60m.
  snaps.back().resources[0].limit = 25 + 2 * 7199;
  text = FormatLeaksText(AnalyzeLeaks(snaps, LeakOptions{}));
  EXPECT_NE(text.find("is reached in about 2h00m at this rate"), std::string::npos) << text;

  // Past the limit already: 0. Unlimited (fd_limit=0) or a bad value: none.
  snaps.back().resources[0].limit = 20;
  r = AnalyzeLeaks(snaps, LeakOptions{});
  ASSERT_TRUE(r.resources[0].time_to_limit_sec.has_value());
  EXPECT_EQ(*r.resources[0].time_to_limit_sec, 0);
  for (const char* c : {"heapscope: fd_limit=0", "heapscope: fd_limit=-5",
                        "heapscope: fd_limit=12x", "heapscope: fd_limit=99999999999999999999"}) {
    format::Profile p = FdProfile(1, 0);
    p.comments.push_back(p.AddString(c));
    auto fds = SummarizeResource(p, LeakKind::kFd, "fds");
    ASSERT_TRUE(fds.ok());
    EXPECT_FALSE(fds->limit.has_value()) << c;
  }
}

// A threads profile as the runtime writes it, with the task limit's
// comment: a pool of 4 and `parked` threads from a leaking stack.
format::Profile ThreadProfileWithLimit(int64_t parked, const std::string& limit_comment) {
  ProfileBuilder b({{"threads", "count"}});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t start = b.Loc({"StartPool"});
  uint32_t park = b.Loc({"SpawnWatchdog"});
  for (int i = 0; i < 4; i++) b.Sample({start, main_loc}, {1});
  for (int64_t i = 0; i < parked; i++) b.Sample({park, main_loc}, {1});
  format::Profile p = b.Build();
  p.comments.push_back(p.AddString("heapscope: threads=0 dropped_threads=0"));
  p.comments.push_back(p.AddString(limit_comment));
  return p;
}

TEST(LeaksTest, ThreadLeakIsProjectedToTheTaskLimit) {
  // One more parked thread a second; the cgroup counts 150 tasks at the
  // end (others' processes too) against pids.max 200: 50 s to go.
  for (const char* source : {"cgroup_v2", "cgroup_v1", "system"}) {
    std::vector<LeakSnapshot> snaps = Series(12);
    for (size_t i = 0; i < snaps.size(); i++) {
      const int64_t n = static_cast<int64_t>(i);
      std::string c = "heapscope: task_limit=200 tasks=" + std::to_string(139 + n) +
                      " task_limit_source=" + source;
      auto th = SummarizeResource(ThreadProfileWithLimit(n, c), LeakKind::kThread, "threads");
      ASSERT_TRUE(th.ok()) << th.error();
      ASSERT_EQ(th->limit, 200);
      ASSERT_EQ(th->limit_used, 139 + n);
      snaps[i].resources[ResourceIndex(LeakKind::kThread)] = std::move(*th);
    }
    LeakReport r = AnalyzeLeaks(snaps, LeakOptions{});
    ASSERT_EQ(r.resources.size(), 1u);
    const KindSummary& k = r.resources[0];
    EXPECT_EQ(k.limit_used, 150);
    ASSERT_TRUE(k.time_to_limit_sec.has_value());
    EXPECT_NEAR(*k.time_to_limit_sec, 50, 1e-6);
    const bool cgroup = std::string(source) != "system";
    const std::string name = cgroup ? "the cgroup's task limit" : "the system's task limit";
    EXPECT_EQ(k.limit_name, name);
    // The series' own heap leak first, then the thread leak.
    ASSERT_EQ(r.suspects.size(), 2u);
    const LeakSuspect& s = r.suspects[1];
    EXPECT_EQ(s.frames[0], "SpawnWatchdog");
    ASSERT_TRUE(s.time_to_limit_sec.has_value());
    EXPECT_NEAR(*s.time_to_limit_sec, 50, 1e-6);
    std::string text = FormatLeaksText(r);
    EXPECT_NE(text.find(name + " (200, 150 tasks " + (cgroup ? "in the cgroup" : "on the machine") +
                        " now) is reached in about 50s at this rate"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("100% of thread growth; " + name + " in about 50s at this rate alone\n"),
              std::string::npos)
        << text;
    auto j = nlohmann::json::parse(FormatLeaksJson(r));
    EXPECT_EQ(j["resources"][0]["limit"], 200);
    EXPECT_EQ(j["resources"][0]["limit_used"], 150);
    EXPECT_EQ(j["resources"][0]["limit_name"], name);
    EXPECT_NEAR(j["suspects"][1]["time_to_limit_sec"].get<double>(), 50, 1e-6);
    EXPECT_TRUE(j["suspects"][0]["time_to_limit_sec"].is_null());  // The heap's: no memory limit.
  }
  // No limit known (task_limit=0: none found), or a bad one: no projection.
  for (const char* c : {"heapscope: task_limit=0 tasks=10 task_limit_source=none",
                        "heapscope: task_limit=x tasks=10", "heapscope: tasks=10"}) {
    auto th = SummarizeResource(ThreadProfileWithLimit(1, c), LeakKind::kThread, "threads");
    ASSERT_TRUE(th.ok());
    EXPECT_FALSE(th->limit.has_value()) << c;
    EXPECT_EQ(th->limit_name, "") << c;
  }
}

// An mmap profile as the runtime writes it: a leaking stack with `leaked`
// mappings of 64 KiB, and the process's mapping count and limit.
format::Profile MmapProfile(int64_t leaked, int64_t map_count, int64_t max_map_count) {
  ProfileBuilder b({{"mappings", "count"}, {"space", "bytes"}});
  uint32_t main_loc = b.Loc({"main"});
  uint32_t leak = b.Loc({"LeakMapping"});
  uint32_t arena = b.Loc({"MapArena"});
  b.Sample({arena, main_loc}, {1, 1 << 20});
  b.Sample({leak, main_loc}, {leaked, leaked * 65536});
  format::Profile p = b.Build();
  p.comments.push_back(p.AddString("heapscope: mappings=0 mapped_bytes=0 dropped_mappings=0"));
  p.comments.push_back(p.AddString("heapscope: map_count=" + std::to_string(map_count) +
                                   " max_map_count=" + std::to_string(max_map_count)));
  return p;
}

TEST(LeaksTest, MappingLeakIsProjectedToMaxMapCount) {
  // Two mappings more a second, each one more in the process's count:
  // 122 of 1000 at the end, 439 s to go. Bytes grow 128 KiB/s; the limit
  // counts mappings.
  auto series = [](bool merged) {
    std::vector<LeakSnapshot> snaps = Series(12);
    for (size_t i = 0; i < snaps.size(); i++) {
      const int64_t n = static_cast<int64_t>(i);
      auto m = SummarizeResource(MmapProfile(2 * n, merged ? 100 : 100 + 2 * n, 1000),
                                 LeakKind::kMmap, "mmap");
      EXPECT_TRUE(m.ok()) << m.error();
      snaps[i].resources[ResourceIndex(LeakKind::kMmap)] = std::move(*m);
    }
    return AnalyzeLeaks(snaps, LeakOptions{});
  };
  LeakReport r = series(false);
  ASSERT_EQ(r.resources.size(), 1u);
  const KindSummary& k = r.resources[0];
  EXPECT_EQ(k.limit, 1000);
  EXPECT_EQ(k.limit_used, 122);
  EXPECT_EQ(k.limit_name, "vm.max_map_count");
  EXPECT_NEAR(k.growth_per_sec, 2 * 65536, 1e-6);
  EXPECT_NEAR(k.limit_growth_per_sec, 2, 1e-9);
  ASSERT_TRUE(k.time_to_limit_sec.has_value());
  EXPECT_NEAR(*k.time_to_limit_sec, 439, 1e-6);
  ASSERT_EQ(r.suspects.size(), 2u);  // The series' heap leak, then this one.
  EXPECT_EQ(r.suspects[1].frames[0], "LeakMapping");
  ASSERT_TRUE(r.suspects[1].time_to_limit_sec.has_value());
  EXPECT_NEAR(*r.suspects[1].time_to_limit_sec, 439, 1e-6);
  std::string text = FormatLeaksText(r);
  EXPECT_NE(text.find("vm.max_map_count (1,000, 122 mappings in the process now) is reached in "
                      "about 7m19s at this rate"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vm.max_map_count in about 7m19s at this rate alone"), std::string::npos)
      << text;
  // The kernel merged each new mapping into its neighbour: the process's
  // count stays put, so the limit is not approached, by the kind or the
  // suspect, though the runtime counts the calls.
  r = series(true);
  ASSERT_EQ(r.resources.size(), 1u);
  EXPECT_FALSE(r.resources[0].time_to_limit_sec.has_value());
  ASSERT_EQ(r.suspects.size(), 2u);
  EXPECT_EQ(r.suspects[1].frames[0], "LeakMapping");
  EXPECT_FALSE(r.suspects[1].time_to_limit_sec.has_value());
}

TEST(LeaksTest, SummarizeResourceWantsItsSampleType) {
  EXPECT_FALSE(SummarizeResource(ThreadProfile(1), LeakKind::kFd, "x").ok());
  auto heap = SummarizeResource(Snapshot(0, 1000, 0, 0, 0), LeakKind::kMmap, "heap");
  EXPECT_FALSE(heap.ok());
}

LeakSnapshot RunSnap(int64_t pid, double start, double time) {
  LeakSnapshot s;
  s.time_sec = time;
  s.run = RunId{pid, start, time};
  return s;
}

TEST(LeaksTest, SameRunByPidAndStart) {
  EXPECT_TRUE(SameRun({10, 1000.0, 1010.0}, {10, 1000.01, 1020.0}));
  EXPECT_FALSE(SameRun({10, 1000.0, 1010.0}, {11, 1000.0, 1020.0}));
  // An exec in place: the same pid, started again 300 ms later.
  EXPECT_FALSE(SameRun({10, 1000.0, 1000.2}, {10, 1000.3, 1000.5}));
  // A day apart, the clock slewed 40 s (under its 500 ppm bound).
  EXPECT_TRUE(SameRun({10, 1000.0, 1010.0}, {10, 1040.0, 1010.0 + 86400}));
  // Unknown pid or times: nothing tells them apart.
  EXPECT_TRUE(SameRun({0, 1000.0, 1010.0}, {11, 1000.0, 1020.0}));
  EXPECT_TRUE(SameRun({10, 0, 0}, {10, 1000.3, 1000.5}));
}

TEST(LeaksTest, NewestRunLeavesEarlierRunsOut) {
  std::string note;
  // An exec in place after 3 snapshots; the final profile is the new run's.
  std::vector<LeakSnapshot> snaps = {RunSnap(7, 100, 101),     RunSnap(7, 100, 102),
                                     RunSnap(7, 100, 103),     RunSnap(7, 103.5, 104.5),
                                     RunSnap(7, 103.5, 105.5), RunSnap(7, 103.5, 106)};
  EXPECT_EQ(NewestRun(snaps, &note), (std::vector<bool>{false, false, false, true, true, true}));
  EXPECT_NE(note.find("left out 3 snapshots of an earlier run (the same process before it "
                      "exec'd itself)"),
            std::string::npos)
      << note;
  // A stale final profile of an earlier process, listed last, is older:
  // the newest run is the one with the latest time.
  snaps = {RunSnap(8, 200, 201), RunSnap(8, 200, 202), RunSnap(5, 100, 150)};
  EXPECT_EQ(NewestRun(snaps, &note), (std::vector<bool>{true, true, false}));
  EXPECT_NE(note.find("left out 1 snapshot of an earlier run (pid 5, another process)"),
            std::string::npos)
      << note;
  // Two earlier processes.
  snaps = {RunSnap(5, 100, 150), RunSnap(6, 160, 170), RunSnap(8, 200, 201)};
  EXPECT_EQ(NewestRun(snaps, &note), (std::vector<bool>{false, false, true}));
  EXPECT_NE(note.find("left out 2 snapshots of an earlier run (earlier processes)"),
            std::string::npos)
      << note;
  // One run: all kept, no note.
  snaps = {RunSnap(8, 200, 201), RunSnap(8, 200, 202)};
  EXPECT_EQ(NewestRun(snaps, &note), (std::vector<bool>{true, true}));
  EXPECT_TRUE(note.empty());
  // A profile without times (not the runtime's): all kept.
  snaps = {RunSnap(8, 200, 201), RunSnap(9, 0, 0)};
  EXPECT_EQ(NewestRun(snaps, &note), (std::vector<bool>{true, true}));
  EXPECT_TRUE(note.empty());
}

}  // namespace
}  // namespace heapscope::analyze
