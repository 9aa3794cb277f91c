#include "analyze/sample_type.h"

#include <gtest/gtest.h>

#include "analyze/test_profile.h"

namespace heapscope::analyze {
namespace {

using testing::ProfileBuilder;

ProfileBuilder HeapProfile() {
  return ProfileBuilder({{"alloc_objects", "count"},
                         {"alloc_space", "bytes"},
                         {"inuse_objects", "count"},
                         {"inuse_space", "bytes"}});
}

TEST(SampleTypeTest, DefaultIsTheLastType) {
  ProfileBuilder b = HeapProfile();
  format::Result<size_t> r = SelectSampleType(b.profile(), "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3u);
}

TEST(SampleTypeTest, DefaultSampleTypeWins) {
  ProfileBuilder b = HeapProfile();
  b.profile().default_sample_type = b.Str("alloc_space");
  format::Result<size_t> r = SelectSampleType(b.profile(), "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
}

TEST(SampleTypeTest, ByNameOrIndex) {
  ProfileBuilder b = HeapProfile();
  EXPECT_EQ(*SelectSampleType(b.profile(), "alloc_objects"), 0u);
  EXPECT_EQ(*SelectSampleType(b.profile(), "inuse_objects"), 2u);
  EXPECT_EQ(*SelectSampleType(b.profile(), "1"), 1u);
}

TEST(SampleTypeTest, UnknownNameListsTheAvailableOnes) {
  ProfileBuilder b = HeapProfile();
  for (const char* bad : {"inuse", "4", "-1", "1x"}) {
    format::Result<size_t> r = SelectSampleType(b.profile(), bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error(), std::string("unknown sample type \"") + bad +
                             "\"; this profile has: alloc_objects, alloc_space, inuse_objects, "
                             "inuse_space");
  }
}

TEST(SampleTypeTest, NoSampleTypes) {
  ProfileBuilder b({});
  format::Result<size_t> r = SelectSampleType(b.profile(), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "the profile has no sample types (no values to show)");
}

}  // namespace
}  // namespace heapscope::analyze
