// A program that checks it has one thread, as Chromium's zygote does
// before it forks, and stops otherwise. Prints "one thread" or "N
// threads: stopping" (exit 3). Exact totals (every allocation recorded):
//   KeptOne  4 x malloc(500), kept   2000 / 4
//
// Alone, it is the process heapscope started: with HEAPSCOPE_INTERVAL=0
// and HEAPSCOPE_DUMP_SIGNAL=0 the runtime starts no thread of its own.
//
// `corner_one_thread children SELF`: the same check in a program it starts
// (fork, then exec SELF), where the runtime starts its thread lazily: the
// child checks at once, then allocates for 1.5 s (the runtime's thread may
// start meanwhile), and reports on stderr how many threads it has then.
// Prints "exec child: one thread", or the stop line.
//
// `corner_one_thread signal-child SELF`: a child that execs SELF, checks,
// then sends itself the dump signal (SIGRTMIN+7) and allocates for 0.5 s:
// the snapshot is served then, well before the lazy start's second.
// Runs only under the runtime (uninstrumented, the signal would kill it).
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void* volatile g_kept[4];

__attribute__((noinline)) void KeptOne() {
  for (int i = 0; i < 4; i++) g_kept[i] = malloc(500);
}

int CountThreads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (struct dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

__attribute__((noinline)) void Churn(double seconds) {
  double end = Now() + seconds;
  while (Now() < end) {
    void* volatile p = malloc(1000);
    free(p);
    usleep(1000);
  }
}

// The zygote's check, then work.
int Child(const char* who, double seconds, bool signal_self) {
  int n = CountThreads();
  if (n != 1) {
    printf("%s: %d threads: stopping\n", who, n);
    return 3;
  }
  printf("%s: one thread\n", who);
  fflush(stdout);
  KeptOne();
  if (signal_self) kill(getpid(), SIGRTMIN + 7);
  Churn(seconds);
  fprintf(stderr, "%s: %d threads after %.1f s\n", who, CountThreads(), seconds);
  return 0;
}

int RunChild(const char* self, const char* mode) {
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    execl(self, self, mode, static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "exec-child") == 0) return Child("exec child", 1.5, false);
  if (argc == 2 && strcmp(argv[1], "exec-signal-child") == 0) {
    return Child("exec child", 0.5, true);
  }
  if (argc == 3 && strcmp(argv[1], "children") == 0) return RunChild(argv[2], "exec-child");
  if (argc == 3 && strcmp(argv[1], "signal-child") == 0) {
    return RunChild(argv[2], "exec-signal-child");
  }
  KeptOne();
  int n = CountThreads();
  if (n < 0) return 2;
  if (n != 1) {
    printf("%d threads: stopping\n", n);
    return 3;
  }
  printf("one thread\n");
  return 0;
}
