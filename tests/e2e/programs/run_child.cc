// A program for `heapscope run`'s pass-through.
// Usage: run_child MODE
//   echo     copies stdin to stdout line by line, keeping a copy of each
//            line (EchoKeep: one malloc(len + 1) per line), then a count
//   status N returns N from main
//   kill9    allocates, then kills itself with SIGKILL
//   kill9-late  keeps KeptBeforeKill (3 x malloc(3000)), lives 1.5 s
//            (for periodic snapshots), then kills itself with SIGKILL
//   stderr   writes one line to stdout and one to stderr
//   chdir D  changes its working directory to D (as daemons do), then
//            keeps AfterChdir: 2 x malloc(4444)
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cstdio>

char* volatile g_lines[100000];
void* volatile g_kept;
void* volatile g_after[2];

__attribute__((noinline)) void AfterChdir() {
  for (int i = 0; i < 2; i++) g_after[i] = malloc(4444);
}

void* volatile g_before_kill[3];

__attribute__((noinline)) void KeptBeforeKill() {
  for (int i = 0; i < 3; i++) g_before_kill[i] = malloc(3000);
}

__attribute__((noinline)) char* EchoKeep(const char* line, size_t len) {
  char* copy = static_cast<char*>(malloc(len + 1));
  memcpy(copy, line, len + 1);
  return copy;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "echo";
  if (strcmp(mode, "echo") == 0) {
    char line[4096];
    int n = 0;
    size_t bytes = 0;
    while (fgets(line, sizeof line, stdin) != nullptr && n < 100000) {
      size_t len = strlen(line);
      g_lines[n++] = EchoKeep(line, len);
      bytes += len + 1;
      fputs(line, stdout);
    }
    std::printf("echoed %d lines, kept %zu bytes\n", n, bytes);
    return 0;
  }
  if (strcmp(mode, "status") == 0) {
    g_kept = malloc(1000);
    return argc > 2 ? atoi(argv[2]) : 0;
  }
  if (strcmp(mode, "kill9") == 0) {
    g_kept = malloc(1000);
    std::printf("about to die\n");
    std::fflush(stdout);
    kill(getpid(), SIGKILL);
    for (;;) pause();
  }
  if (strcmp(mode, "kill9-late") == 0) {
    KeptBeforeKill();
    usleep(1500 * 1000);
    kill(getpid(), SIGKILL);
    for (;;) pause();
  }
  if (strcmp(mode, "chdir") == 0 && argc > 2) {
    if (chdir(argv[2]) != 0) return 3;
    AfterChdir();
    std::printf("working in %s\n", argv[2]);
    return 0;
  }
  if (strcmp(mode, "stderr") == 0) {
    std::printf("to stdout\n");
    std::fflush(stdout);
    std::fprintf(stderr, "to stderr\n");
    return 0;
  }
  std::fprintf(stderr, "run_child: unknown mode %s\n", mode);
  return 2;
}
