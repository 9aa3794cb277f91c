// Opens and closes /dev/null N times (default a million), from a few call
// sites, and prints the time per open+close pair: the overhead of
// descriptor tracking, run by fd_churn.sh with and without the runtime.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double NowSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

__attribute__((noinline)) static int OpenA() { return open("/dev/null", O_RDONLY | O_CLOEXEC); }
__attribute__((noinline)) static int OpenB() { return open("/dev/null", O_WRONLY | O_CLOEXEC); }

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  long sum = 0;
  double start = NowSeconds();
  for (long i = 0; i < n; i++) {
    int fd = (i & 1) != 0 ? OpenA() : OpenB();
    if (fd < 0) return 1;
    sum += fd;
    close(fd);
  }
  double secs = NowSeconds() - start;
  printf("%ld open+close pairs in %.3f s: %.1f ns each (checksum %ld)\n", n, secs,
         secs * 1e9 / static_cast<double>(n), sum);
  return 0;
}
