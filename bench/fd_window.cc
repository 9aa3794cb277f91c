// How often a program's open() does not get the lowest free descriptor
// because the profiler holds it at that moment: opens /dev/null in a loop
// for SECONDS, expecting 3 each time (0, 1 and 2 open), and prints how many
// opens got another number. Run under the runtime by fd_window.sh.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 8;
  const auto start = std::chrono::steady_clock::now();
  long total = 0, other = 0;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd != 3) other++;
    total++;
    close(fd);
    if ((total & 1023) == 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > seconds) {
      break;
    }
  }
  std::printf("%ld opens, %ld not given 3 (%.4f%%)\n", total, other, 100.0 * other / total);
  return 0;
}
