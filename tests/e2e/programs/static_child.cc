// A statically linked program: LD_PRELOAD cannot bring the runtime into it.
// Allocates, prints, exits with the status given.
// Usage: static_child [STATUS [SECONDS]]: SECONDS to wait before exiting.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  void* volatile p = std::malloc(4096);
  std::printf("static child %s\n", p != nullptr ? "ran" : "failed");
  std::free(p);
  std::fflush(stdout);
  if (argc > 2) sleep(static_cast<unsigned>(std::atoi(argv[2])));
  return argc > 1 ? std::atoi(argv[1]) : 0;
}
