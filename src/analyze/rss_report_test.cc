#include "analyze/rss_report.h"

#include <gtest/gtest.h>

#include "analyze/runtime_comments.h"

namespace heapscope::analyze {
namespace {

constexpr int64_t kMiB = 1024 * 1024;

std::map<std::string, std::string> Kv(const std::string& comment) {
  std::map<std::string, std::string> kv;
  size_t i = 0;
  while (i < comment.size()) {
    size_t sp = comment.find(' ', i);
    std::string tok = comment.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
    size_t eq = tok.find('=');
    if (eq != std::string::npos) kv[tok.substr(0, eq)] = tok.substr(eq + 1);
    if (sp == std::string::npos) break;
    i = sp + 1;
  }
  return kv;
}

// The runtime's comment, as FormatRssComment writes it.
const char kGlibc[] =
    "rss=36 rss_heap=1 rss_allocator_overhead=2 rss_allocator_free=3 rss_thread_stacks=4 "
    "rss_anon_mappings=5 rss_files=6 rss_code=7 rss_other=8 vm_rss=40 vm_hwm=50 allocator=glibc";

TEST(RssFromCommentsTest, ReadsEveryPartInOrder) {
  auto r = RssFromComments(Kv(kGlibc));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->total, 36);
  EXPECT_EQ(r->vm_rss, 40);
  EXPECT_TRUE(r->allocator_known);
  ASSERT_EQ(r->parts.size(), 8u);
  EXPECT_EQ(r->parts[0], (std::pair<std::string, int64_t>{"heap", 1}));
  EXPECT_EQ(r->parts[3], (std::pair<std::string, int64_t>{"thread_stacks", 4}));
  EXPECT_EQ(r->parts[7], (std::pair<std::string, int64_t>{"other", 8}));
}

TEST(RssFromCommentsTest, AllocatorUnknownLeavesItsPartsOut) {
  auto r =
      RssFromComments(Kv("rss=10 rss_heap=1 rss_thread_stacks=2 rss_anon_mappings=3 "
                         "rss_files=1 rss_code=1 rss_other=2 allocator=unknown"));
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->allocator_known);
  EXPECT_EQ(r->parts.size(), 6u);
}

TEST(RssFromCommentsTest, HeapNotSeenLeavesTheHeapOut) {
  auto r = RssFromComments(Kv("rss=10 rss_heap=0 rss_thread_stacks=2 rss_anon_mappings=3 "
                              "rss_files=1 rss_code=1 rss_other=3 allocator=unknown "
                              "heap_not_seen=1"));
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->heap_not_seen);
  ASSERT_EQ(r->parts.size(), 5u);
  EXPECT_EQ(r->parts[0].first, "thread_stacks");
  const std::string line = RssPartsLine(*r);
  EXPECT_EQ(line.find("live heap"), std::string::npos) << line;
  EXPECT_NE(line.find("the heap is not profiled"), std::string::npos) << line;
}

TEST(RssFromCommentsTest, MissingOrBadIsEmpty) {
  EXPECT_FALSE(RssFromComments(Kv("rate=524288 mode=sampled")).has_value());
  EXPECT_FALSE(RssFromComments(Kv("rss=12 rss_heap=1")).has_value());
  std::string bad = kGlibc;
  bad.replace(bad.find("rss_code=7"), 10, "rss_code=x");
  EXPECT_FALSE(RssFromComments(Kv(bad)).has_value());
  EXPECT_FALSE(RssFromComments(Kv("rss=-5")).has_value());
}

RssParts Parts(std::vector<std::pair<std::string, int64_t>> parts) {
  RssParts r;
  r.allocator_known = true;
  r.parts = std::move(parts);
  for (const auto& p : r.parts) r.total += p.second;
  return r;
}

TEST(RssReportTest, PartsLineWithShares) {
  RssParts r = Parts({{"heap", 75 * kMiB}, {"thread_stacks", 25 * kMiB}});
  EXPECT_EQ(RssPartsLine(r),
            "resident memory 100MB: live heap 75MB (75.0%), thread stacks 25MB (25.0%)");
  r.allocator_known = false;
  EXPECT_NE(RssPartsLine(r).find("unknown"), std::string::npos);
}

TEST(RssReportTest, SaysWhichPartGrewMost) {
  RssParts first = Parts({{"heap", 20 * kMiB},
                          {"thread_stacks", 1 * kMiB},
                          {"anon_mappings", 10 * kMiB},
                          {"code", 4 * kMiB}});
  RssParts last = Parts({{"heap", 170 * kMiB},
                         {"thread_stacks", 25 * kMiB},
                         {"anon_mappings", 4 * kMiB},
                         {"code", 4 * kMiB}});
  // +150 heap, +24 stacks, -6 mappings: +168 in all.
  EXPECT_EQ(RssGrowthLine(first, last),
            "resident memory grew 168MB (35MB to 203MB), of which live heap 150MB (89.3%), "
            "thread stacks 24MB (14.3%); shrank: anonymous mappings 6MB");
}

// As nginx's master read between its first snapshot and exit: 20 kB more
// in all, parts up by 290 kB and the heap down by 270 kB. Shares of the
// 20 kB would read up to 650%: the parts that grew are named without them.
TEST(RssReportTest, GrowthMostlyOffsetNamesPartsWithoutShares) {
  constexpr int64_t kKiB = 1024;
  RssParts first = Parts({{"heap", 270 * kKiB},
                          {"other", 1000 * kKiB},
                          {"allocator_overhead", 0},
                          {"thread_stacks", 24 * kKiB}});
  RssParts last = Parts({{"heap", 0},
                         {"other", 1112 * kKiB},
                         {"allocator_overhead", 130 * kKiB},
                         {"thread_stacks", 72 * kKiB}});
  EXPECT_EQ(RssGrowthLine(first, last),
            "resident memory grew 20kB (1.26MB to 1.28MB), the net of parts that grew: "
            "allocator overhead 130kB, other 112kB, thread stacks 48kB; shrank: live heap 270kB");
}

TEST(RssReportTest, SmallGrowthIsSummed) {
  RssParts first = Parts({{"heap", 0}, {"code", 0}, {"files", 0}, {"other", 0}});
  RssParts last = Parts(
      {{"heap", 100 * kMiB}, {"code", 512 * 1024}, {"files", 256 * 1024}, {"other", 2 * kMiB}});
  EXPECT_EQ(RssGrowthLine(first, last),
            "resident memory grew 102.75MB (0 to 102.75MB), of which live heap 100MB (97.3%), "
            "other 2MB (1.9%), 2 more parts 768kB");
  // The web page's units (its legend writes sizes the same way).
  EXPECT_EQ(RssGrowthLine(first, last, SizeStyle::kIec),
            "resident memory grew 103 MiB (0 B to 103 MiB), of which live heap 100 MiB (97.3%), "
            "other 2.00 MiB (1.9%), 2 more parts 768 KiB");
}

TEST(RssReportTest, AllocatorKnownOnOneSideIsComparedInOther) {
  // The first snapshot knows the allocator's parts; the last does not (its
  // mallinfo2 was not read), so its "other" holds them.
  RssParts first = Parts({{"heap", 20 * kMiB},
                          {"allocator_overhead", 1 * kMiB},
                          {"allocator_free", 9 * kMiB},
                          {"other", 2 * kMiB}});
  RssParts last = Parts({{"heap", 30 * kMiB}, {"other", 13 * kMiB}});
  last.allocator_known = false;
  EXPECT_EQ(RssGrowthLine(first, last),
            "resident memory grew 11MB (32MB to 43MB), of which live heap 10MB (90.9%), "
            "other 1MB (9.1%)");
  EXPECT_EQ(RssGrowthLine(last, first),
            "resident memory shrank 11MB (43MB to 32MB); shrank: live heap 10MB, other 1MB");
}

TEST(RssReportTest, ShrankAndUnchanged) {
  RssParts a = Parts({{"heap", 50 * kMiB}, {"files", 2 * kMiB}});
  RssParts b = Parts({{"heap", 10 * kMiB}, {"files", 3 * kMiB}});
  EXPECT_EQ(RssGrowthLine(a, b),
            "resident memory shrank 39MB (52MB to 13MB); grew: file-backed 1MB; shrank: live heap "
            "40MB");
  EXPECT_EQ(RssGrowthLine(a, a), "resident memory did not change (52MB)");
}

}  // namespace
}  // namespace heapscope::analyze
