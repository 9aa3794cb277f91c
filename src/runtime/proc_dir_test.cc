#include "runtime/proc_dir.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace heapscope::runtime {
namespace {

// The lowest free descriptor now (what a program's open() gets next).
int LowestFree() {
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  close(fd);
  return fd;
}

class ProcDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct rlimit rl;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur <= static_cast<rlim_t>(kHighFdBase)) {
      GTEST_SKIP() << "RLIMIT_NOFILE " << rl.rlim_cur << ": no room above " << kHighFdBase;
    }
  }
};

// What the runtime reads for a while (a profile reading /proc/self/smaps,
// say) is held above the numbers a program's open() expects, and leaves
// the lowest free number free.
TEST_F(ProcDirTest, OpenProcHoldsItsDescriptorHigh) {
  const int lowest = LowestFree();
  int fd = OpenProc("/proc/self/status", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, kHighFdBase);
  EXPECT_EQ(LowestFree(), lowest);
  EXPECT_EQ(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  char buf[4096];
  ASSERT_GT(read(fd, buf, sizeof buf - 1), 0);
  buf[sizeof buf - 1] = '\0';
  EXPECT_EQ(std::strncmp(buf, "Name:", 5), 0);
  close(fd);
  // Paths outside /proc too (the cgroup's files).
  fd = OpenProc("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, kHighFdBase);
  EXPECT_EQ(LowestFree(), lowest);
  close(fd);
}

TEST_F(ProcDirTest, ReadSmallFileLeavesNothingOpen) {
  const int lowest = LowestFree();
  char buf[256];
  EXPECT_GT(ReadSmallFile("/proc/self/stat", buf, sizeof buf), 0u);
  EXPECT_EQ(LowestFree(), lowest);
  // Nothing left at or above the high base either.
  EXPECT_EQ(fcntl(kHighFdBase, F_GETFD), -1);
}

TEST_F(ProcDirTest, MoveToHighFdLeavesHighAndBadOnesAlone) {
  int low = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(low, 0);
  ASSERT_LT(low, kHighFdBase);
  int high = MoveToHighFd(low);
  ASSERT_GE(high, kHighFdBase);
  EXPECT_EQ(fcntl(low, F_GETFD), -1);  // the low number is given back
  EXPECT_EQ(MoveToHighFd(high), high);
  EXPECT_EQ(MoveToHighFd(-1), -1);
  close(high);
  EXPECT_EQ(OpenProc("/proc/self/no-such-file", O_RDONLY | O_CLOEXEC), -1);
}

}  // namespace
}  // namespace heapscope::runtime
