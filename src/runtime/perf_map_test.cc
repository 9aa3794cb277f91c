#include "runtime/perf_map.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace heapscope::runtime {
namespace {

class PerfMapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "perf-map-test-" + std::to_string(getpid()) + ".map";
  }
  void TearDown() override { unlink(path_.c_str()); }
  void Write(const std::string& text, const char* mode = "w") {
    FILE* f = fopen(path_.c_str(), mode);
    ASSERT_NE(f, nullptr);
    fputs(text.c_str(), f);
    fclose(f);
  }
  std::string path_;
};

TEST_F(PerfMapTest, NamesCodeByRangeNewestFirst) {
  Write("1000 100 first\n"
        "0x2000 0x10 with prefixes\n"
        "1000 100 replaced first\n"
        "1080 10 inside\n");
  PerfMap m;
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 4u);
  EXPECT_STREQ(m.Find(0x1000), "replaced first");
  EXPECT_STREQ(m.Find(0x10ff), "replaced first");
  EXPECT_STREQ(m.Find(0x1085), "inside");  // newest of the two that hold it
  EXPECT_EQ(m.Find(0x1100), nullptr);
  EXPECT_EQ(m.Find(0xfff), nullptr);
  EXPECT_STREQ(m.Find(0x200f), "with prefixes");
  EXPECT_EQ(m.Find(0x2010), nullptr);
}

TEST_F(PerfMapTest, ReadsWhatIsAppendedAndWaitsForWholeLines) {
  Write("1000 10 a\n3000 10 unfinish");
  PerfMap m;
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.Find(0x3000), nullptr);
  Write("ed\n4000 10 b\n", "a");
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 3u);
  EXPECT_STREQ(m.Find(0x3001), "unfinished");
  EXPECT_STREQ(m.Find(0x4001), "b");
  EXPECT_STREQ(m.Find(0x1001), "a");
  // A new, shorter file is read afresh.
  unlink(path_.c_str());
  Write("5000 10 c\n");
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.Find(0x1001), nullptr);
  EXPECT_STREQ(m.Find(0x5001), "c");
}

TEST_F(PerfMapTest, BadLinesAreSkippedAndCounted) {
  std::string longline = "6000 10 " + std::string(40000, 'x') + "\n";
  Write("garbage\n"
        "1000\n"
        "1000 zz name\n"
        "1000 0 empty\n"
        "1000 10 \n"
        "ffffffffffffffff 10 wraps\n"
        "11112222333344445 10 too wide\n" +
        longline + "7000 10 after the long line\r\n");
  PerfMap m;
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.skipped(), 8u);
  EXPECT_STREQ(m.Find(0x7005), "after the long line");
  EXPECT_EQ(m.Find(0x6005), nullptr);
}

TEST_F(PerfMapTest, OnlyARegularFileIsRead) {
  Write("1000 10 target\n");
  std::string link = path_ + ".link";
  ASSERT_EQ(symlink(path_.c_str(), link.c_str()), 0);
  PerfMap m;
  m.Refresh(link.c_str());
  EXPECT_EQ(m.size(), 0u);
  unlink(link.c_str());
  // A FIFO nobody writes to: opening it must not wait.
  std::string fifo = path_ + ".fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  m.Refresh(fifo.c_str());
  EXPECT_EQ(m.size(), 0u);
  unlink(fifo.c_str());
  m.Refresh(path_.c_str());
  EXPECT_EQ(m.size(), 1u);
}

TEST_F(PerfMapTest, MissingFileIsNoMap) {
  PerfMap m;
  m.Refresh((path_ + ".missing").c_str());
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.Find(0x1000), nullptr);
}

}  // namespace
}  // namespace heapscope::runtime
