#include "format/legacy_heap.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace heapscope::format {
namespace {

std::string TypeName(const Profile& p, size_t i) {
  return std::string(p.String(p.sample_types[i].type));
}

TEST(GperftoolsHeap, ReadsStacksValuesAndMappings) {
  const std::string text =
      "heap profile:   15:  25000 [   20:  26000] @ heapprofile\n"
      "     5:  15000 [    5:  15000] @ 0x4011d2 0x40106e\n"
      "    10:  10000 [   15:  11000] @ 0x40118a 0x401069 0x7f0000001000\n"
      "\n"
      "MAPPED_LIBRARIES:\n"
      "00400000-00401000 r--p 00000000 08:01 42     /opt/app/prog\n"
      "00401000-00402000 r-xp 00001000 08:01 42     /opt/app/prog\n"
      "7f0000000000-7f0000002000 r-xp 00000000 08:01 43  /lib/with space.so\n";
  Result<Profile> p = ReadGperftoolsHeap(text, "hp.heap");
  ASSERT_TRUE(p.ok()) << p.error();
  ASSERT_EQ(p->sample_types.size(), 4u);
  EXPECT_EQ(TypeName(*p, 0), "alloc_objects");
  EXPECT_EQ(TypeName(*p, 3), "inuse_space");
  EXPECT_EQ(p->String(p->default_sample_type), "inuse_space");
  ASSERT_EQ(p->samples.size(), 2u);
  // alloc_objects, alloc_space, inuse_objects, inuse_space: no scaling.
  std::span<const int64_t> v = p->samples.Values(1);
  EXPECT_EQ(v[0], 15);
  EXPECT_EQ(v[1], 11000);
  EXPECT_EQ(v[2], 10);
  EXPECT_EQ(v[3], 10000);
  // Only executable mappings, with paths that may hold spaces.
  ASSERT_EQ(p->mappings.size(), 2u);
  EXPECT_EQ(p->String(p->mappings[0].filename), "/opt/app/prog");
  EXPECT_EQ(p->mappings[0].file_offset, 0x1000u);
  EXPECT_EQ(p->String(p->mappings[1].filename), "/lib/with space.so");
  // Leaf first, return address - 1, each location in its mapping.
  std::span<const uint32_t> locs = p->samples.Locations(1);
  ASSERT_EQ(locs.size(), 3u);
  EXPECT_EQ(p->locations[locs[0]].address, 0x401189u);
  EXPECT_EQ(p->locations[locs[0]].mapping, 0u);
  EXPECT_EQ(p->locations[locs[2]].mapping, 1u);
  EXPECT_NE(p->String(p->drop_frames).find("operator new"), std::string_view::npos);
}

TEST(GperftoolsHeap, UnbiasesSampledProfilesLikePprof) {
  const std::string text =
      "heap profile: 1: 100 [ 2: 200] @ heap_v2/524288\n"
      " 1: 100 [ 2: 200] @ 0x1000\n";
  Result<Profile> p = ReadGperftoolsHeap(text);
  ASSERT_TRUE(p.ok()) << p.error();
  const double scale = 1 / (1 - std::exp(-100.0 / 524288));
  std::span<const int64_t> v = p->samples.Values(0);
  EXPECT_EQ(v[2], static_cast<int64_t>(1 * scale));
  EXPECT_EQ(v[3], static_cast<int64_t>(100 * scale));
  EXPECT_EQ(v[0], static_cast<int64_t>(2 * scale));
  EXPECT_EQ(v[1], static_cast<int64_t>(200 * scale));
  EXPECT_EQ(p->period, 524288);
}

TEST(GperftoolsHeap, GoLegacyHeapTagHalvesTheRate) {
  Result<Profile> p = ReadGperftoolsHeap("heap profile: 0: 0 [0: 0] @ heap/1048576\n");
  ASSERT_TRUE(p.ok()) << p.error();
  EXPECT_EQ(p->period, 524288);
}

TEST(GperftoolsHeap, RejectsBadInputWithTheLine) {
  EXPECT_EQ(ReadGperftoolsHeap("heap profile: 1: 2 [3: 4] @ cpu\n", "f").error(),
            "f:1: unknown heap profile kind \"cpu\" (expected heapprofile, heap_v2 or heap)");
  Result<Profile> bad =
      ReadGperftoolsHeap("heap profile: 1: 2 [3: 4] @ heapprofile\n 1: 2 [3: 4] @ 0xzz\n", "f");
  EXPECT_EQ(bad.error(), "f:2: bad address (expected 0x and 1-16 hex digits)");
  EXPECT_EQ(ReadGperftoolsHeap("heap profile: 1: 2 [3: 4] @ heapprofile\n 0: 5 [0: 0] @ 0x1\n", "f")
                .error(),
            "f:2: 0 objects in use but 5 bytes");
  EXPECT_FALSE(ReadGperftoolsHeap("heap profile: 1: 2 [3: 4] @ heapprofile\n 1 2 @ 0x1\n").ok());
  EXPECT_FALSE(ReadGperftoolsHeap("").ok());
  EXPECT_FALSE(ReadGperftoolsHeap(
                   "heap profile: 1: 2 [3: 4] @ heapprofile\n 1: 2 [3: 4] @ 0x12345678901234567\n")
                   .ok());
}

TEST(JemallocHeap, ReadsHeapV2) {
  const std::string text =
      "heap_v2/1\n"
      "  t*: 16: 107520 [0: 0]\n"
      "  t0: 16: 107520 [0: 0]\n"
      "@ 0x7f0000000630 0x401d21 0x40118a\n"
      "  t*: 10: 10240 [12: 12288]\n"
      "  t0: 10: 10240 [12: 12288]\n"
      "@ 0x401d21 0x4011d2\n"
      "  t*: 5: 15360 [0: 0]\n"
      "\n"
      "MAPPED_LIBRARIES:\n"
      "00401000-00402000 r-xp 00001000 fe:00 10960906                   /tmp/t\n"
      "7f0000000000-7f0000001000 r-xp 00000000 fe:00 1 /usr/lib/libjemalloc.so.2\n";
  Result<Profile> p = ReadJemallocHeap(text, "je.heap");
  ASSERT_TRUE(p.ok()) << p.error();
  ASSERT_EQ(p->samples.size(), 2u);
  std::span<const int64_t> v = p->samples.Values(0);
  EXPECT_EQ(v[0], 12);
  EXPECT_EQ(v[1], 12288);
  EXPECT_EQ(v[2], 10);
  EXPECT_EQ(v[3], 10240);
  EXPECT_EQ(p->samples.Values(1)[3], 15360);
  // The frame inside libjemalloc at the leaf end is cut off.
  ASSERT_EQ(p->samples.Locations(0).size(), 2u);
  EXPECT_EQ(p->locations[p->samples.Locations(0)[0]].address, 0x401d20u);
  EXPECT_EQ(p->locations[p->samples.Locations(0)[0]].mapping, 0u);
  // Locations are shared between stacks.
  EXPECT_EQ(p->samples.Locations(0)[0], p->samples.Locations(1)[0]);
  EXPECT_EQ(p->String(p->mappings[1].filename), "/usr/lib/libjemalloc.so.2");
}

TEST(JemallocHeap, UnbiasesAtTheRate) {
  Result<Profile> p =
      ReadJemallocHeap("heap_v2/524288\n  t*: 1: 1024 [0: 0]\n@ 0x10\n  t*: 1: 1024 [0: 0]\n");
  ASSERT_TRUE(p.ok()) << p.error();
  const double scale = 1 / (1 - std::exp(-1024.0 / 524288));
  EXPECT_EQ(p->samples.Values(0)[3], static_cast<int64_t>(1024 * scale));
  EXPECT_EQ(p->samples.Values(0)[2], static_cast<int64_t>(scale));
  EXPECT_EQ(p->samples.Values(0)[0], 0);
}

TEST(JemallocHeap, RejectsBadInput) {
  EXPECT_EQ(ReadJemallocHeap("heap_v2/x\n", "j").error(),
            "j:1: not a jemalloc heap_v2 header (\"heap_v2/RATE\")");
  EXPECT_EQ(ReadJemallocHeap("heap_v2/1\n@ 0x1\n", "j").error(),
            "j:2: last stack has no \"t*:\" line");
  EXPECT_EQ(ReadJemallocHeap("heap_v2/1\n@ 0x1\n@ 0x2\n", "j").error(),
            "j:3: stack without a \"t*:\" line before it");
  EXPECT_FALSE(ReadJemallocHeap("heap_v2/1\n  t*: 1 2 [0: 0]\n").ok());
  EXPECT_FALSE(ReadJemallocHeap("heap_v2/1\nhello\n").ok());
}

TEST(Detection, ByContent) {
  EXPECT_TRUE(LooksLikeGperftoolsHeap("\n heap profile: 1: 2 [3: 4] @ heapprofile"));
  EXPECT_FALSE(LooksLikeGperftoolsHeap("heap_v2/1"));
  EXPECT_TRUE(LooksLikeJemallocHeap("heap_v2/524288\n"));
  EXPECT_FALSE(LooksLikeJemallocHeap("\x1f\x8b"));
}

}  // namespace
}  // namespace heapscope::format
