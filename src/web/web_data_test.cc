#include "web/web_data.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "analyze/test_profile.h"
#include "format/profile_writer.h"
#include "web/page.h"

namespace heapscope::web {
namespace {

using analyze::testing::ProfileBuilder;
using nlohmann::json;

class WebDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("hs-web-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    setenv("XDG_CACHE_HOME", dir_.c_str(), 1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // main -> leak holds `leak` bytes, main -> cache 300, main -> tiny 1 byte
  // (below 1/50000 of the total once leak is large).
  // snaps/heap.0001 .. 0010.pb.gz, one second apart: leak_more grows by
  // 1 MB a snapshot.
  void WriteGrowingSeries() {
    std::filesystem::create_directories(dir_ / "snaps");
    for (int i = 1; i <= 10; i++) {
      char name[32];
      std::snprintf(name, sizeof name, "snaps/heap.%04d.pb.gz", i);
      Write(name, 1000000LL * i, 1000 + i);
    }
  }

  std::string Write(const std::string& name, int64_t leak, int64_t time_sec = 0,
                    const std::string& comment = "") {
    ProfileBuilder b({{"alloc_objects", "count"},
                      {"alloc_space", "bytes"},
                      {"inuse_objects", "count"},
                      {"inuse_space", "bytes"}});
    uint32_t main_fn = b.Loc({"main"});
    uint32_t leak_fn = b.Loc({"leak_more(int)"});
    uint32_t cache_fn = b.Loc({"Cache::Put"});
    uint32_t tiny_fn = b.Loc({"tiny"});
    b.Sample({leak_fn, main_fn}, {leak / 100, leak, leak / 100, leak});
    b.Sample({cache_fn, main_fn}, {3, 300, 3, 300});
    b.Sample({tiny_fn, main_fn}, {1, 1, 1, 1});
    if (!comment.empty()) b.profile().comments.push_back(b.Str(comment));
    format::Profile p = b.Build();
    p.time_nanos = time_sec * 1000000000LL;
    std::string path = (dir_ / name).string();
    EXPECT_TRUE(format::WriteProfileFile(p, path).ok());
    return path;
  }

  std::unique_ptr<WebData> Open(std::vector<std::string> sources) {
    WebOptions o;
    o.sources = std::move(sources);
    auto d = WebData::Open(o);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error());
    return d.ok() ? std::move(*d) : nullptr;
  }

  static json Get(WebData& d, const std::string& path, const Params& params = {}) {
    Response r = d.Handle(path, params);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    return json::parse(r.body);
  }

  std::filesystem::path dir_;
};

TEST_F(WebDataTest, FlameTreeIsAggregatedWithCompanionAndPruned) {
  auto d = Open({Write("a.pb.gz", 10000000)});
  ASSERT_NE(d, nullptr);
  json info = Get(*d, "/api/info");
  EXPECT_EQ(info["mode"], "profile");
  EXPECT_EQ(info["default_type"], "inuse_space");
  EXPECT_EQ(info["views"], json::array({"flame", "top", "source"}));

  json f = Get(*d, "/api/flame", {{"type", "inuse_space"}});
  EXPECT_EQ(f["total"], 10000301);
  EXPECT_EQ(f["companion_type"], "inuse_objects");
  const json& nodes = f["nodes"];
  ASSERT_EQ(nodes.size() % 5, 0u);
  // root, main, then main's children by name: Cache::Put, leak_more(int);
  // tiny (1 byte) is pruned.
  ASSERT_EQ(nodes.size(), 4u * 5);
  EXPECT_EQ(f["names"][nodes[0].get<int>()], "all");
  EXPECT_EQ(nodes[1], 10000301);
  EXPECT_EQ(nodes[4], 1);  // root has one child: main
  EXPECT_EQ(f["names"][nodes[5].get<int>()], "main");
  EXPECT_EQ(nodes[9], 2);  // main keeps two of its three children
  EXPECT_EQ(f["names"][nodes[10].get<int>()], "Cache::Put");
  EXPECT_EQ(nodes[11], 300);
  EXPECT_EQ(nodes[12], 3);  // objects
  EXPECT_EQ(f["names"][nodes[15].get<int>()], "leak_more(int)");
  EXPECT_EQ(f["pruned"], 1);
}

TEST_F(WebDataTest, TopSourceAndErrors) {
  auto d = Open({Write("a.pb.gz", 5000)});
  ASSERT_NE(d, nullptr);
  json top = Get(*d, "/api/top", {{"type", "alloc_space"}, {"by", "function"}});
  EXPECT_EQ(top["sample_type"], "alloc_space");
  ASSERT_GE(top["rows"].size(), 3u);
  EXPECT_EQ(top["rows"][0]["function"], "leak_more(int)");
  EXPECT_EQ(top["rows"][0]["flat"], 5000);

  EXPECT_EQ(d->Handle("/api/flame", {{"type", "bogus"}}).status, 400);
  EXPECT_NE(d->Handle("/api/flame", {{"type", "bogus"}}).body.find("inuse_space"),
            std::string::npos);
  json caller = Get(*d, "/api/top", {{"type", "alloc_space"}, {"by", "caller"}});
  EXPECT_EQ(caller["by"], "caller");
  EXPECT_EQ(caller["rows"][0]["function"], "leak_more(int)");
  EXPECT_EQ(d->Handle("/api/top", {{"by", "file"}}).status, 400);
  EXPECT_EQ(d->Handle("/api/top", {{"color", "red"}}).status, 400);
  EXPECT_EQ(d->Handle("/api/source", {}).status, 400);
  EXPECT_EQ(d->Handle("/api/source", {{"fn", "no_such_function"}}).status, 404);
  EXPECT_EQ(d->Handle("/api/diff", {}).status, 404);
  EXPECT_EQ(d->Handle("/api/leaks", {}).status, 404);
  EXPECT_EQ(d->Handle("/api/nothing", {}).status, 404);
  // Regex characters in a name are taken literally.
  Response src = d->Handle("/api/source", {{"fn", "leak_more(int)"}});
  EXPECT_EQ(src.status, 200) << src.body;
  EXPECT_EQ(json::parse(src.body)["functions"][0]["function"], "leak_more(int)");
  // A short name, as the leak report gives it, finds the function too.
  src = d->Handle("/api/source", {{"fn", "leak_more"}});
  EXPECT_EQ(src.status, 200) << src.body;
  EXPECT_EQ(json::parse(src.body)["functions"].size(), 1u);
  EXPECT_EQ(d->Handle("/api/source", {{"fn", "leak_mor"}}).status, 404);
}

TEST_F(WebDataTest, NoInlinesGivesEveryViewTheOutOfLineCaller) {
  // Vec::reserve is inlined into Store::Add: one location, two lines.
  ProfileBuilder b({{"inuse_space", "bytes"}});
  uint32_t main_fn = b.Loc({"main"});
  uint32_t add_fn = b.Loc({"Vec::reserve", "Store::Add"});
  b.Sample({add_fn, main_fn}, {4096});
  std::string path = (dir_ / "inl.pb.gz").string();
  ASSERT_TRUE(format::WriteProfileFile(b.Build(), path).ok());

  auto plain = Open({path});
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Get(*plain, "/api/top")["rows"][0]["function"], "Vec::reserve");

  WebOptions o;
  o.sources = {path};
  o.noinlines = true;
  auto d = WebData::Open(o);
  ASSERT_TRUE(d.ok()) << d.error();
  json top = Get(**d, "/api/top");
  ASSERT_EQ(top["rows"].size(), 2u);
  EXPECT_EQ(top["rows"][0]["function"], "Store::Add");
  EXPECT_EQ(top["rows"][0]["flat"], 4096);
  json flame = Get(**d, "/api/flame");
  std::string names = flame["names"].dump();
  EXPECT_NE(names.find("Store::Add"), std::string::npos) << names;
  EXPECT_EQ(names.find("reserve"), std::string::npos) << names;
  // By line too: the lines of the out-of-line caller only.
  json lines = Get(**d, "/api/top", {{"by", "line"}});
  EXPECT_EQ(lines["rows"][0]["function"].get<std::string>().find("reserve"), std::string::npos)
      << lines.dump();
}

TEST_F(WebDataTest, TwoProfilesDiff) {
  auto d = Open({Write("old.pb.gz", 1000), Write("new.pb.gz", 9000)});
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(Get(*d, "/api/info")["mode"], "diff");
  json diff = Get(*d, "/api/diff", {{"type", "inuse_space"}});
  EXPECT_EQ(diff["base_total"], 1301);
  EXPECT_EQ(diff["total"], 9301);
  EXPECT_EQ(diff["table"]["functions"][0]["function"], "leak_more(int)");
  EXPECT_EQ(diff["table"]["functions"][0]["flat_delta"], 8000);
  // The tree carries the base value in the fourth number of each node.
  EXPECT_EQ(diff["flame"]["nodes"][1], 9301);
  EXPECT_EQ(diff["flame"]["nodes"][3], 1301);
}

// The profile at exit, after the program's teardown freed the leak: the
// page judges the run without it, as `heapscope leaks` does.
TEST_F(WebDataTest, SeriesLeaksLeaveOutTheProfileAtExit) {
  WriteGrowingSeries();
  Write("snaps/heap.final.pb.gz", 0, 1011);
  auto d = Open({(dir_ / "snaps").string()});
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(Get(*d, "/api/info")["snapshots"], 11);
  json leaks = Get(*d, "/api/leaks");
  EXPECT_EQ(leaks["running_only"], true);
  EXPECT_EQ(leaks["verdict"], "growing");
  ASSERT_GE(leaks["suspects"].size(), 1u);
  EXPECT_EQ(leaks["suspects"][0]["frames"][0], "leak_more");
  EXPECT_EQ(leaks["suspects"][0]["inuse"], 10000000);
}

TEST_F(WebDataTest, SeriesLeaksWithOneSeriesPerSuspect) {
  WriteGrowingSeries();
  auto d = Open({(dir_ / "snaps").string()});
  ASSERT_NE(d, nullptr);
  json info = Get(*d, "/api/info");
  EXPECT_EQ(info["mode"], "series");
  EXPECT_EQ(info["snapshots"], 10);
  json leaks = Get(*d, "/api/leaks");
  ASSERT_GE(leaks["suspects"].size(), 1u);
  const json& s = leaks["suspects"][0];
  EXPECT_EQ(s["frames"][0], "leak_more");  // The leak report's short names.
  EXPECT_EQ(s["verdict"], "growing");
  ASSERT_EQ(s["series"].size(), 10u);
  EXPECT_EQ(s["series"][0], 1000000);
  EXPECT_EQ(s["series"][9], 10000000);
  EXPECT_EQ(leaks["times"][9], 9.0);
  EXPECT_EQ(leaks["total_series"][0], 1000301);
  // Diff of the first and last snapshot.
  json diff = Get(*d, "/api/diff", {});
  EXPECT_EQ(diff["table"]["functions"][0]["flat_delta"], 9000000);

  std::string offline = d->OfflineData();
  EXPECT_EQ(offline.find("</"), std::string::npos);
  json data = json::parse(offline);
  EXPECT_TRUE(data.contains("/api/info"));
  EXPECT_TRUE(data.contains("/api/flame?type=inuse_space"));
  EXPECT_TRUE(data.contains("/api/flame?type=alloc_objects"));
  EXPECT_TRUE(data.contains("/api/top?by=function&type=inuse_space"));
  EXPECT_TRUE(data.contains("/api/leaks"));
  EXPECT_TRUE(data.contains("/api/source?fn=leak_more(int)&type=inuse_space"));
  std::string page = OfflinePage(offline, "t");
  EXPECT_NE(page.find("id=\"heapscope-data\""), std::string::npos);
  EXPECT_EQ(page.find("src=\""), std::string::npos);
}

// The runtime's RSS comments become one series per part; fds.NNNN beside
// the heap snapshots give the fd suspect its series, counted, with gaps
// where the runtime had not written one yet.
TEST_F(WebDataTest, SeriesLeaksWithRssPartsAndResourceKinds) {
  std::filesystem::create_directories(dir_ / "snaps");
  for (int i = 1; i <= 10; i++) {
    char name[48];
    std::snprintf(name, sizeof name, "snaps/heap.%04d.pb.gz", i);
    int64_t heap = 1000000LL * i;
    int64_t stacks = 100000LL + 50000LL * i;
    int64_t other = 4000000;
    char comment[512];
    if (i == 1) {
      std::snprintf(comment, sizeof comment,
                    "heapscope: rss=%lld rss_heap=%lld rss_thread_stacks=%lld "
                    "rss_anon_mappings=0 rss_files=0 rss_code=0 rss_other=%lld "
                    "vm_rss=%lld vm_hwm=%lld allocator=unknown",
                    (long long)(heap + stacks + other), (long long)heap, (long long)stacks,
                    (long long)other, (long long)(heap + stacks + other),
                    (long long)(heap + stacks + other));
    } else {
      std::snprintf(comment, sizeof comment,
                    "heapscope: rss=%lld rss_heap=%lld rss_allocator_overhead=1000 "
                    "rss_allocator_free=2000 rss_thread_stacks=%lld rss_anon_mappings=0 "
                    "rss_files=0 rss_code=0 rss_other=%lld vm_rss=%lld vm_hwm=%lld "
                    "allocator=glibc",
                    (long long)(heap + stacks + other + 3000), (long long)heap, (long long)stacks,
                    (long long)other, (long long)(heap + stacks + other + 3000),
                    (long long)(heap + stacks + other + 3000));
    }
    Write(name, heap, 1000 + i, comment);
    if (i >= 3) {
      ProfileBuilder b({{"fds", "count"}});
      uint32_t main_fn = b.Loc({"main"});
      uint32_t leak_fn = b.Loc({"OpenAuditLog"});
      b.Sample({leak_fn, main_fn}, {2LL * i});
      std::snprintf(name, sizeof name, "snaps/fds.%04d.pb.gz", i);
      ASSERT_TRUE(format::WriteProfileFile(b.Build(), (dir_ / name).string()).ok());
    }
  }
  WebOptions o;
  o.sources = {(dir_ / "snaps").string()};
  o.limit = 1LL << 40;
  o.limit_source = "--limit";
  auto d = WebData::Open(o);
  ASSERT_TRUE(d.ok()) << d.error();
  json leaks = Get(**d, "/api/leaks");

  const json& parts = leaks["rss_parts"];
  ASSERT_TRUE(parts.is_object());
  // The page stacks the parts in the order the answer lists them.
  std::vector<std::string> names;
  auto ordered = nlohmann::ordered_json::parse((*d)->Handle("/api/leaks", {}).body);
  for (const auto& [k, v] : ordered["rss_parts"].items()) names.push_back(k);
  EXPECT_EQ(names,
            (std::vector<std::string>{"heap", "allocator_overhead", "allocator_free",
                                      "thread_stacks", "anon_mappings", "files", "code", "other"}));
  EXPECT_EQ(parts["heap"].size(), 10u);
  EXPECT_EQ(parts["heap"][0], 1000000);
  EXPECT_EQ(parts["heap"][9], 10000000);
  EXPECT_EQ(parts["thread_stacks"][9], 600000);
  EXPECT_TRUE(parts["allocator_overhead"][0].is_null());  // Allocator unknown then.
  EXPECT_EQ(parts["allocator_overhead"][1], 1000);
  EXPECT_EQ(leaks["rss_part_labels"]["heap"], "live heap");
  ASSERT_TRUE(leaks["rss_growth"].is_string());
  EXPECT_NE(leaks["rss_growth"].get<std::string>().find("of which live heap"), std::string::npos)
      << leaks["rss_growth"];

  const json* fd = nullptr;
  for (const json& s : leaks["suspects"]) {
    if (s["kind"] == "fd") fd = &s;
  }
  ASSERT_NE(fd, nullptr) << leaks.dump(1);
  EXPECT_EQ((*fd)["unit"], "count");
  EXPECT_EQ((*fd)["frames"][0], "OpenAuditLog");
  ASSERT_EQ((*fd)["series"].size(), 10u);
  EXPECT_TRUE((*fd)["series"][0].is_null());  // No fds profile yet.
  EXPECT_TRUE((*fd)["series"][1].is_null());
  EXPECT_EQ((*fd)["series"][2], 6);
  EXPECT_EQ((*fd)["series"][9], 20);
  // No fd_limit= in these fds profiles (and a memory limit is not a
  // descriptor's): no time to a limit.
  EXPECT_TRUE((*fd)["time_to_limit_sec"].is_null());
  const json& heap = leaks["suspects"][0];
  EXPECT_EQ(heap["kind"], "heap");
  EXPECT_EQ(heap["series"][9], 10000000);
  EXPECT_TRUE(heap["time_to_limit_sec"].is_number());
}

TEST_F(WebDataTest, BadSourcesAreOneLineErrors) {
  WebOptions o;
  o.sources = {(dir_ / "missing.pb.gz").string()};
  auto d = WebData::Open(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().find('\n'), std::string::npos);
  EXPECT_NE(d.error().find("missing.pb.gz"), std::string::npos);
  std::filesystem::create_directories(dir_ / "empty");
  o.sources = {(dir_ / "empty").string()};
  EXPECT_FALSE(WebData::Open(o).ok());
  o.sources = {Write("a.pb.gz", 10)};
  o.sample_type = "no_such_type";
  EXPECT_FALSE(WebData::Open(o).ok());
}

}  // namespace
}  // namespace heapscope::web
