#include "runtime/child_files.h"

#include <gtest/gtest.h>

namespace heapscope::runtime {
namespace {

TEST(ChildFilesTest, PidOfAnotherProcessesFiles) {
  EXPECT_EQ(ChildPidOfFile("heap.4321.final.pb.gz"), 4321);
  EXPECT_EQ(ChildPidOfFile("heap.4321.0007.pb.gz"), 4321);
  EXPECT_EQ(ChildPidOfFile("fds.17.final.pb.gz"), 17);
  EXPECT_EQ(ChildPidOfFile("threadcreate.17.0001.pb.gz"), 17);
  EXPECT_EQ(ChildPidOfFile("mmap.4194304.final.pb.gz.tmp"), 4194304);
  EXPECT_EQ(ChildPidOfFile("heap.99.final.pb.gz.tmp"), 99);
}

TEST(ChildFilesTest, NotTheFirstProcessesNorOthers) {
  // The first process's own: numbered from 0001, past 9999 without zeros.
  EXPECT_EQ(ChildPidOfFile("heap.0001.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.12345.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.12345.pb.gz.tmp"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.final.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("mmap.final.pb.gz"), 0);
  // Not ours.
  EXPECT_EQ(ChildPidOfFile("children-deleted.txt"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.123.final.pb"), 0);
  EXPECT_EQ(ChildPidOfFile("cpu.123.final.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.0123.final.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.123x.final.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile("heap.12345678901.final.pb.gz"), 0);
  EXPECT_EQ(ChildPidOfFile(""), 0);
  EXPECT_EQ(ChildPidOfFile(".pb.gz"), 0);
}

TEST(ChildFilesTest, OldestBeyondKeepsTheNewest) {
  EndedChild e[] = {{30, 300}, {10, 100}, {21, 200}, {20, 200}, {40, 0}};
  ASSERT_EQ(OldestBeyond(e, 5, 2), 3u);
  // Without a final profile first, then by time, equal times by pid.
  EXPECT_EQ(e[0].pid, 40);
  EXPECT_EQ(e[1].pid, 10);
  EXPECT_EQ(e[2].pid, 20);
  EXPECT_EQ(e[3].pid, 21);
  EXPECT_EQ(e[4].pid, 30);
  EXPECT_EQ(OldestBeyond(e, 5, 5), 0u);
  EXPECT_EQ(OldestBeyond(e, 5, 9), 0u);
  EXPECT_EQ(OldestBeyond(e, 0, 1), 0u);
}

}  // namespace
}  // namespace heapscope::runtime
