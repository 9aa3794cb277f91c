// A long-running "service" for the live endpoint tests: it keeps memory
// from two known functions alive, allocates and frees in a third while
// running, and ends when stdin closes or says "quit". Its stdout is
// deterministic so tests can check the endpoint never changes it.
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vector>

static std::vector<void*> g_kept;

__attribute__((noinline)) void RetainSessionState(int n) {
  for (int i = 0; i < n; i++) g_kept.push_back(malloc(4096));
}

__attribute__((noinline)) void RetainCacheEntries(int n) {
  for (int i = 0; i < n; i++) g_kept.push_back(new char[1024]);
}

__attribute__((noinline)) void ChurnRequestBuffers(int n) {
  for (int i = 0; i < n; i++) {
    char* p = static_cast<char*>(malloc(8192));
    memset(p, i, 64);
    asm volatile("" : : "r"(p) : "memory");
    free(p);
  }
}

int main(int argc, char** argv) {
  g_kept.reserve(1 << 20);
  RetainSessionState(256);   // 1 MiB
  RetainCacheEntries(1024);  // 1 MiB
  // Churn once before "ready", so every profile the test takes shows it
  // (not only those taken after the first 20 ms tick).
  ChurnRequestBuffers(16);
  printf("ready\n");
  fflush(stdout);
  long ticks = 0;
  for (;;) {
    struct pollfd pfd = {0, POLLIN, 0};
    int r = poll(&pfd, 1, 20);
    if (r > 0) {
      char line[64];
      ssize_t n = read(0, line, sizeof line);
      if (n <= 0 || strncmp(line, "quit", 4) == 0) break;
      if (strncmp(line, "grow", 4) == 0) {
        RetainCacheEntries(1024);
        printf("grew\n");
        fflush(stdout);
      }
    }
    ChurnRequestBuffers(16);
    ticks++;
  }
  printf("done %zu\n", g_kept.size());
  return 0;
}
