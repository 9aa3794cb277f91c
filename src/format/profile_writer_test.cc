#include "format/profile_writer.h"

#include <gtest/gtest.h>

#include <string>

#include "format/gzip.h"
#include "format/legacy_heap.h"
#include "format/profile_reader.h"

namespace heapscope::format {
namespace {

TEST(ProfileWriter, RoundTripsALegacyProfile) {
  Result<Profile> in = ReadGperftoolsHeap(
      "heap profile: 3: 300 [4: 400] @ heapprofile\n"
      " 1: 100 [2: 200] @ 0x401001 0x401101\n"
      " 2: 200 [2: 200] @ 0x401001\n"
      "MAPPED_LIBRARIES:\n"
      "00401000-00402000 r-xp 00001000 08:01 42 /opt/app/prog\n");
  ASSERT_TRUE(in.ok()) << in.error();
  // A function with an inline chain, as the symbolizer adds them.
  Function f;
  f.id = 7;
  f.name = in->AddString("Alloc()");
  f.system_name = in->AddString("_Z5Allocv");
  f.filename = in->AddString("/src/a.cc");
  f.start_line = 3;
  in->functions.push_back(f);
  in->lines.push_back({0, 12, 0});
  in->lines.push_back({0, 20, 0});
  in->locations[0].line_begin = 0;
  in->locations[0].line_count = 2;

  Result<std::string> gz = EncodeProfileGzip(*in);
  ASSERT_TRUE(gz.ok()) << gz.error();
  EXPECT_TRUE(IsGzip(*gz));
  Result<Profile> out = ReadProfile(std::string_view(*gz), "round trip");
  ASSERT_TRUE(out.ok()) << out.error();
  ASSERT_EQ(out->samples.size(), 2u);
  EXPECT_EQ(out->samples.Values(0)[0], 2);
  EXPECT_EQ(out->samples.Values(1)[3], 200);
  ASSERT_EQ(out->locations.size(), 2u);
  EXPECT_EQ(out->locations[0].address, 0x401000u);
  EXPECT_EQ(out->String(out->mappings[out->locations[0].mapping].filename), "/opt/app/prog");
  ASSERT_EQ(out->locations[0].line_count, 2u);
  const Line& inner = out->LinesOf(out->locations[0])[0];
  EXPECT_EQ(inner.line, 12);
  EXPECT_EQ(out->String(out->FunctionOf(inner).name), "Alloc()");
  EXPECT_EQ(out->String(out->FunctionOf(inner).system_name), "_Z5Allocv");
  EXPECT_EQ(out->FunctionOf(inner).start_line, 3);
  EXPECT_EQ(out->String(out->default_sample_type), "inuse_space");
  EXPECT_EQ(out->String(out->drop_frames), in->String(in->drop_frames));
  EXPECT_EQ(out->period, 1);
  ASSERT_EQ(out->comments.size(), 1u);
}

TEST(ProfileWriter, WritesAFileAtomically) {
  Result<Profile> in = ReadJemallocHeap("heap_v2/1\n@ 0x10\n  t*: 1: 8 [1: 8]\n");
  ASSERT_TRUE(in.ok()) << in.error();
  std::string path = ::testing::TempDir() + "/writer_test.pb.gz";
  Result<bool> w = WriteProfileFile(*in, path);
  ASSERT_TRUE(w.ok()) << w.error();
  Result<Profile> back = ReadProfileFile(path);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(back->samples.Values(0)[3], 8);
  EXPECT_FALSE(WriteProfileFile(*in, "/nonexistent-dir/x.pb.gz").ok());
}

}  // namespace
}  // namespace heapscope::format
