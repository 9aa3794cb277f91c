// Leaks 1 MiB a block (written, so resident) every MS milliseconds (5 by
// default) until something stops it: the kernel's OOM killer in a memory
// cgroup with a limit, or a signal. Prints its pid first. Usage: oom_leak
// [MS]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void* volatile g_last;

__attribute__((noinline)) void LeakABlock() {
  char* p = static_cast<char*>(malloc(1 << 20));
  if (p == nullptr) exit(3);
  memset(p, 1, 1 << 20);
  *static_cast<void**>(static_cast<void*>(p)) = g_last;  // a list the program keeps
  g_last = p;
}

int main(int argc, char** argv) {
  const long ms = argc > 1 ? atol(argv[1]) : 5;
  printf("pid %d\n", static_cast<int>(getpid()));
  fflush(stdout);
  for (;;) {
    LeakABlock();
    timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, nullptr);
  }
}
