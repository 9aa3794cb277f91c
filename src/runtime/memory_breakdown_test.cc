#include "runtime/memory_breakdown.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace heapscope::runtime {
namespace {

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * 1024;

struct Parsed {
  uintptr_t start, end;
  std::string perms, path;
  uint64_t rss, anonymous, swap;
};

void Collect(const SmapsEntry& e, void* ctx) {
  static_cast<std::vector<Parsed>*>(ctx)->push_back(
      {e.start, e.end, e.perms, e.path, e.rss, e.anonymous, e.swap});
}

// Feeds text in pieces of `step` bytes, to cross line boundaries anywhere.
std::vector<Parsed> Parse(const std::string& text, size_t step, uint64_t* bad = nullptr) {
  std::vector<Parsed> out;
  SmapsParser p(Collect, &out);
  for (size_t i = 0; i < text.size(); i += step) {
    p.Feed(text.data() + i, std::min(step, text.size() - i));
  }
  p.Finish();
  if (bad != nullptr) *bad = p.bad_lines();
  return out;
}

// As the kernel (6.x) writes /proc/self/smaps_rollup.
const char kRollup[] =
    "55b0e40b1000-7ffd89838000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:                1712 kB\n"
    "Pss:                 212 kB\n"
    "Pss_Dirty:           116 kB\n"
    "Pss_Anon:            116 kB\n"
    "Pss_File:             96 kB\n"
    "Pss_Shmem:             0 kB\n"
    "Shared_Clean:       1536 kB\n"
    "Shared_Dirty:          0 kB\n"
    "Private_Clean:        60 kB\n"
    "Private_Dirty:       116 kB\n"
    "Referenced:         1712 kB\n"
    "Anonymous:           116 kB\n"
    "KSM:                   0 kB\n"
    "LazyFree:              0 kB\n"
    "AnonHugePages:         0 kB\n"
    "ShmemPmdMapped:        0 kB\n"
    "FilePmdMapped:         0 kB\n"
    "Shared_Hugetlb:        0 kB\n"
    "Private_Hugetlb:       0 kB\n"
    "Swap:                  8 kB\n"
    "SwapPss:               8 kB\n"
    "Locked:                0 kB\n";

// Four mappings of /proc/self/smaps: code, a file's data, an anonymous
// mapping, the main stack (fields trimmed to a few, as older kernels have).
const char kSmaps[] =
    "5581d4a00000-5581d4a02000 r-xp 00002000 08:01 1311 /usr/bin/cat\n"
    "Size:                  8 kB\n"
    "Rss:                   8 kB\n"
    "Anonymous:             0 kB\n"
    "Swap:                  0 kB\n"
    "VmFlags: rd ex mr mw me sd\n"
    "5581d4a04000-5581d4a05000 rw-p 00004000 08:01 1311 /usr/bin/my prog (deleted)\n"
    "Rss:                   4 kB\n"
    "Anonymous:             4 kB\n"
    "THPeligible:    0\n"
    "7f0000000000-7f0000400000 rw-p 00000000 00:00 0 \n"
    "Rss:                1024 kB\n"
    "Anonymous:          1024 kB\n"
    "7ffd89817000-7ffd89838000 rw-p 00000000 00:00 0                          [stack]\n"
    "Rss:                  20 kB\n"
    "Anonymous:            20 kB\n";

TEST(SmapsParserTest, ReadsTheRollup) {
  for (size_t step : {size_t{1}, size_t{7}, size_t{4096}}) {
    uint64_t bad = 0;
    auto v = Parse(kRollup, step, &bad);
    ASSERT_EQ(v.size(), 1u) << step;
    EXPECT_EQ(v[0].path, "[rollup]");
    EXPECT_EQ(v[0].perms, "---p");
    EXPECT_EQ(v[0].rss, 1712 * kKiB);
    EXPECT_EQ(v[0].anonymous, 116 * kKiB);
    EXPECT_EQ(v[0].swap, 8 * kKiB);
    EXPECT_EQ(bad, 0u);
  }
}

TEST(SmapsParserTest, ReadsEveryMappingWithItsPath) {
  for (size_t step : {size_t{1}, size_t{13}, size_t{100000}}) {
    auto v = Parse(kSmaps, step);
    ASSERT_EQ(v.size(), 4u) << step;
    EXPECT_EQ(v[0].start, 0x5581d4a00000u);
    EXPECT_EQ(v[0].end, 0x5581d4a02000u);
    EXPECT_EQ(v[0].perms, "r-xp");
    EXPECT_EQ(v[0].path, "/usr/bin/cat");
    EXPECT_EQ(v[0].rss, 8 * kKiB);
    EXPECT_EQ(v[1].path, "/usr/bin/my prog (deleted)");  // spaces kept
    EXPECT_EQ(v[1].anonymous, 4 * kKiB);
    EXPECT_EQ(v[2].path, "");  // anonymous (trailing blank)
    EXPECT_EQ(v[2].rss, 1 * kMiB);
    EXPECT_EQ(v[3].path, "[stack]");
    EXPECT_EQ(v[3].rss, 20 * kKiB);
  }
}

TEST(SmapsParserTest, LastLineWithoutNewlineAndBadLines) {
  uint64_t bad = 0;
  auto v = Parse("1000-2000 rw-p 0 0:0 0\nnonsense\nRss: 12 kB", 5, &bad);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].rss, 12 * kKiB);
  EXPECT_EQ(bad, 1u);
  // A header whose end is before its start is not a mapping.
  v = Parse("2000-1000 rw-p 0 0:0 0\nRss: 12 kB\n", 100, &bad);
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(bad, 1u);
  // Nothing at all.
  EXPECT_TRUE(Parse("", 1).empty());
}

TEST(SmapsParserTest, OverlongPathIsCutNotOverrun) {
  std::string text = "1000-2000 r--p 0 0:0 0 /" + std::string(10000, 'a') + "\nRss: 4 kB\n";
  auto v = Parse(text, 333);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_LT(v[0].path.size(), 4096u);
  EXPECT_EQ(v[0].path[0], '/');
  EXPECT_EQ(v[0].rss, 4 * kKiB);
}

uint64_t g_resident_calls = 0;
// Pretends every other page of a range is resident.
uint64_t HalfResident(uintptr_t start, uintptr_t end) {
  g_resident_calls++;
  return (end - start) / 2;
}

ResidentClasses Classify(const std::string& text, std::vector<uintptr_t> hints,
                         std::vector<AddressRange> ranges) {
  RssClassifier c(hints.data(), hints.size(), ranges.data(), ranges.size(), HalfResident);
  SmapsParser p(RssClassifier::AddTo, &c);
  p.Feed(text.data(), text.size());
  p.Finish();
  return c.classes();
}

std::string Map(uintptr_t start, uintptr_t end, const char* perms, const char* path,
                uint64_t rss_kb) {
  char buf[256];
  snprintf(buf, sizeof buf, "%lx-%lx %s 00000000 00:00 0 %s\nRss: %lu kB\n",
           static_cast<unsigned long>(start), static_cast<unsigned long>(end), perms, path,
           static_cast<unsigned long>(rss_kb));
  return buf;
}

TEST(RssClassifierTest, EachKindOfMapping) {
  std::string text = Map(0x400000, 0x500000, "r-xp", "/usr/bin/prog", 100) +
                     Map(0x500000, 0x510000, "rw-p", "/usr/bin/prog", 8) +
                     Map(0x600000, 0x700000, "rw-p", "[heap]", 300) +
                     Map(0x1000000, 0x2000000, "rw-p", "", 1000) +  // program's mmap
                     Map(0x3000000, 0x3800000, "rw-p", "", 16) +    // a thread's stack
                     Map(0x4000000, 0x5000000, "rw-p", "", 500) +   // glibc's, say
                     Map(0x6000000, 0x6010000, "rw-s", "/dev/shm/x", 64) +
                     Map(0x7000000, 0x7002000, "r-xp", "[vdso]", 8) +
                     Map(0x7002000, 0x7006000, "r--p", "[vvar]", 0) +
                     Map(0x7ff00000, 0x7ff20000, "rw-p", "[stack]", 12);
  ResidentClasses c = Classify(text, {0x37ff000}, {{0x1000000, 0x2000000}});
  EXPECT_EQ(c.total, (100 + 8 + 300 + 1000 + 16 + 500 + 64 + 8 + 12) * kKiB);
  EXPECT_EQ(c.code, 108 * kKiB);
  EXPECT_EQ(c.files, 72 * kKiB);
  EXPECT_EQ(c.mappings, 1000 * kKiB);
  EXPECT_EQ(c.stacks, 28 * kKiB);
  EXPECT_EQ(c.anon, 800 * kKiB);
  EXPECT_EQ(c.special, 0u);
  EXPECT_EQ(c.code + c.files + c.mappings + c.stacks + c.anon + c.special, c.total);
}

TEST(RssClassifierTest, CountsEveryMapping) {
  // /metrics takes the process's mapping count from here: every entry,
  // those with nothing resident too.
  std::string text = Map(0x400000, 0x500000, "r-xp", "/usr/bin/prog", 100) +
                     Map(0x7002000, 0x7006000, "r--p", "[vvar]", 0) +
                     Map(0x1000000, 0x2000000, "rw-p", "", 0);
  RssClassifier c(nullptr, 0, nullptr, 0, HalfResident);
  SmapsParser p(RssClassifier::AddTo, &c);
  p.Feed(text.data(), text.size());
  p.Finish();
  EXPECT_EQ(c.mappings(), 3u);
}

TEST(RssClassifierTest, MappingMergedWithOtherMemoryCountsItsOwnPages) {
  // The program mapped 4 MiB in the middle of an 16 MiB anonymous mapping.
  g_resident_calls = 0;
  std::string text = Map(0x10000000, 0x11000000, "rw-p", "", 10000);
  ResidentClasses c = Classify(text, {}, {{0x10400000, 0x10800000}});
  EXPECT_EQ(g_resident_calls, 1u);
  EXPECT_EQ(c.mappings, 2 * kMiB);  // half of 4 MiB, says HalfResident
  EXPECT_EQ(c.anon, 10000 * kKiB - 2 * kMiB);
  // Never more than the mapping's Rss.
  c = Classify(Map(0x10000000, 0x11000000, "rw-p", "", 100), {}, {{0x10400000, 0x10800000}});
  EXPECT_EQ(c.mappings, 100 * kKiB);
  EXPECT_EQ(c.anon, 0u);
  // Several recorded ranges covering the whole mapping: no page counting.
  g_resident_calls = 0;
  c = Classify(Map(0x10000000, 0x10200000, "rw-p", "", 64), {},
               {{0x0f000000, 0x10100000}, {0x10100000, 0x10300000}});
  EXPECT_EQ(g_resident_calls, 0u);
  EXPECT_EQ(c.mappings, 64 * kKiB);
}

TEST(RssClassifierTest, UnknownKernelMappingsAreSpecial) {
  ResidentClasses c = Classify(Map(0x1000, 0x2000, "r--p", "[uprobes]", 4), {}, {});
  EXPECT_EQ(c.special, 4 * kKiB);
  c = Classify(Map(0x1000, 0x2000, "rw-p", "[anon:worker arena]", 4), {}, {});
  EXPECT_EQ(c.anon, 4 * kKiB);
}

uint64_t Sum(const RssBreakdown& b) {
  uint64_t s = 0;
  for (uint64_t v : b.parts) s += v;
  return s;
}

TEST(ApportionTest, GlibcFiguresWithinTheAnonymousMemory) {
  ResidentClasses c;
  c.code = 5 * kMiB;
  c.files = 3 * kMiB;
  c.stacks = 1 * kMiB;
  c.mappings = 64 * kMiB;
  c.anon = 120 * kMiB;
  c.special = 4 * kKiB;
  c.total = c.code + c.files + c.stacks + c.mappings + c.anon + c.special;
  AllocatorStats a;
  a.known = true;
  a.arena = 40 * kMiB;
  a.uordblks = 30 * kMiB;
  a.fordblks = 10 * kMiB;
  a.hblkhd = 72 * kMiB;
  RssBreakdown b = Apportion(c, 100 * kMiB, a);
  EXPECT_TRUE(b.allocator_known);
  EXPECT_EQ(b.Part(RssPart::kHeap), 100 * kMiB);
  // In-use chunks 30 + 72 MiB hold 100 MiB of objects.
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 2 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorFree), 10 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kOther), 8 * kMiB + 4 * kKiB);
  EXPECT_EQ(b.Part(RssPart::kAnonMappings), 64 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kThreadStacks), 1 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kFiles), 3 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kCode), 5 * kMiB);
  EXPECT_EQ(b.total, c.total);
  EXPECT_EQ(Sum(b), c.total);
}

TEST(ApportionTest, BlockHeadersCountWithTheProfilerNotTheAllocator) {
  // Every-allocation mode: 1 million live objects carry 16 MiB of the
  // runtime's headers inside glibc's in-use chunks.
  ResidentClasses c;
  c.anon = 200 * kMiB;
  c.code = 1 * kMiB;
  c.total = 201 * kMiB;
  AllocatorStats a;
  a.known = true;
  a.arena = 190 * kMiB;
  a.uordblks = 180 * kMiB;
  a.fordblks = 10 * kMiB;
  RssBreakdown b = Apportion(c, 150 * kMiB, a, 16 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kHeap), 150 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 14 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorFree), 10 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kOther), 26 * kMiB);  // 10 of the rest, 16 of headers
  EXPECT_EQ(Sum(b), c.total);
  // Never more than the in-use chunks hold beyond the heap.
  b = Apportion(c, 150 * kMiB, a, 40 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 0u);
  EXPECT_EQ(b.Part(RssPart::kOther), 40 * kMiB);
  EXPECT_EQ(Sum(b), c.total);
  // Without glibc's figures the headers stay where the rest is.
  b = Apportion(c, 150 * kMiB, AllocatorStats{}, 16 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kOther), 50 * kMiB);
  EXPECT_EQ(Sum(b), c.total);
}

TEST(ApportionTest, AddressSpaceBeyondResidencyIsCut) {
  // A 1 GiB calloc never touched: the allocator and the estimate count it,
  // the pages are not resident.
  ResidentClasses c;
  c.anon = 10 * kMiB;
  c.code = 1 * kMiB;
  c.total = 11 * kMiB;
  AllocatorStats a;
  a.known = true;
  a.arena = 8 * kMiB;
  a.uordblks = 2 * kMiB;
  a.fordblks = 6 * kMiB;
  a.hblkhd = 1024 * kMiB;
  RssBreakdown b = Apportion(c, 1025 * kMiB, a);
  EXPECT_EQ(b.Part(RssPart::kHeap), 10 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 0u);
  EXPECT_EQ(b.Part(RssPart::kAllocatorFree), 0u);
  EXPECT_EQ(b.Part(RssPart::kOther), 0u);
  EXPECT_EQ(Sum(b), c.total);
  // An estimate above the in-use chunks (sampling error, one sample of a
  // few small objects): the heap is what glibc has in use, overhead 0.
  c.anon = 50 * kMiB;
  c.total = 51 * kMiB;
  a.hblkhd = 0;
  b = Apportion(c, 3 * kMiB, a);
  EXPECT_EQ(b.Part(RssPart::kHeap), 2 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 0u);
  EXPECT_EQ(b.Part(RssPart::kAllocatorFree), 6 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kOther), 42 * kMiB);
  EXPECT_EQ(Sum(b), c.total);
}

TEST(ApportionTest, AllocatorThatMapsItsArenasTakesTheHeapFromMappings) {
  ResidentClasses c;
  c.mappings = 80 * kMiB;  // jemalloc's extents and the program's own mmap
  c.anon = 6 * kMiB;
  c.total = 86 * kMiB;
  AllocatorStats a;
  a.arenas_in_mappings = true;
  RssBreakdown b = Apportion(c, 70 * kMiB, a);
  EXPECT_FALSE(b.allocator_known);
  EXPECT_EQ(b.Part(RssPart::kHeap), 70 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAnonMappings), 10 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kOther), 6 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAllocatorOverhead), 0u);
  EXPECT_EQ(Sum(b), c.total);
  // Unknown glibc figures (final profile on a signal): heap from the rest.
  b = Apportion(c, 70 * kMiB, AllocatorStats{});
  EXPECT_EQ(b.Part(RssPart::kHeap), 6 * kMiB);
  EXPECT_EQ(b.Part(RssPart::kAnonMappings), 80 * kMiB);
  EXPECT_EQ(Sum(b), c.total);
}

TEST(RssCommentTest, NamesEveryPart) {
  MemorySnapshot m;
  m.rss.allocator_known = true;
  for (int i = 0; i < kRssPartCount; i++) m.rss.parts[i] = static_cast<uint64_t>(i + 1);
  m.rss.total = 36;
  m.vm_rss = 40;
  m.vm_hwm = 50;
  char buf[512];
  base::RawBuffer b(buf, sizeof buf);
  FormatRssComment(m, &b);
  EXPECT_STREQ(b.CStr(),
               "rss=36 rss_heap=1 rss_allocator_overhead=2 rss_allocator_free=3 "
               "rss_thread_stacks=4 rss_anon_mappings=5 rss_files=6 rss_code=7 rss_other=8 "
               "vm_rss=40 vm_hwm=50 allocator=glibc");
  m.rss.allocator_known = false;
  base::RawBuffer b2(buf, sizeof buf);
  FormatRssComment(m, &b2);
  EXPECT_EQ(std::string(b2.CStr()).find("allocator_overhead"), std::string::npos);
  EXPECT_NE(std::string(buf).find("allocator=unknown"), std::string::npos);
  base::RawBuffer b3(buf, sizeof buf);
  FormatRssAge(0, &b3);
  EXPECT_STREQ(b3.CStr(), "");
  FormatRssAge(2500000000ULL, &b3);
  EXPECT_STREQ(b3.CStr(), " rss_age_ms=2500");
}

}  // namespace
}  // namespace heapscope::runtime
