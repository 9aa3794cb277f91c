// Leaks 1 MiB a block (written, so resident) every MS milliseconds (5 by
// default) until something stops it: the kernel's OOM killer in a memory
// cgroup with a limit, or a signal. Prints its pid first. Usage: oom_leak
// [MS] [shm FILE]: with shm, every MS it leaks a 64 KiB heap block instead
// and writes 1 MiB more into FILE (on tmpfs: charged to the cgroup as
// shmem, while the process's resident memory stays small), and sets its
// oom_score_adj to 1000 so that the OOM killer picks it over the smaller
// processes beside it (heapscope run), as it would a service.
#include <fcntl.h>
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

__attribute__((noinline)) void LeakASmallBlock() {
  char* p = static_cast<char*>(malloc(64 << 10));
  if (p == nullptr) exit(3);
  memset(p, 1, 64 << 10);
  *static_cast<void**>(static_cast<void*>(p)) = g_last;
  g_last = p;
}

int main(int argc, char** argv) {
  const long ms = argc > 1 ? atol(argv[1]) : 5;
  int shm = -1;
  if (argc > 3 && strcmp(argv[2], "shm") == 0) {
    shm = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (shm < 0) return 4;
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj < 0 || write(adj, "1000", 4) != 4) return 6;
    close(adj);
  }
  printf("pid %d\n", static_cast<int>(getpid()));
  fflush(stdout);
  static char mib[1 << 20];
  memset(mib, 7, sizeof mib);
  for (;;) {
    if (shm >= 0) {
      LeakASmallBlock();
      if (write(shm, mib, sizeof mib) != static_cast<ssize_t>(sizeof mib)) return 5;
    } else {
      LeakABlock();
    }
    timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, nullptr);
  }
}
