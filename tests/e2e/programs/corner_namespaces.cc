// A program that enters namespaces the way container tools and sandboxes
// do: setns() into its own mount namespace (by type and by type 0), then
// unshare(CLONE_NEWUSER). The kernel allows these only to a process with a
// single thread, and the program has one. It prints each call's result,
// which must be the same with the runtime as without, allocating before
// and after (exact totals, every allocation recorded):
//   BeforeNamespaces  20 x malloc(1000), kept
//   AfterNamespaces   30 x malloc(2000), kept, then a second of sleep so
//                     periodic snapshots (the runtime's dump thread runs
//                     again after the calls) and the live endpoint show
//                     them
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void* g_kept[50];

__attribute__((noinline)) void* BeforeNamespaces(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void* AfterNamespaces(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 2, n);
  return p;
}

void Report(const char* what, int rc) {
  printf("%s: %s\n", what, rc == 0 ? "ok" : strerror(errno));
}

void Sleep(long ms) {
  timespec t = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&t, nullptr);
}

int main() {
  for (int i = 0; i < 20; i++) g_kept[i] = BeforeNamespaces(1000);
  Sleep(200);
  int fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
  Report("setns mount", fd >= 0 ? setns(fd, CLONE_NEWNS) : -1);
  Report("setns any", fd >= 0 ? setns(fd, 0) : -1);
  if (fd >= 0) close(fd);
  Report("unshare user", unshare(CLONE_NEWUSER));
  for (int i = 20; i < 50; i++) g_kept[i] = AfterNamespaces(2000);
  fflush(stdout);
  Sleep(1000);
  return 0;
}
