// A service that daemonizes and keeps running: fork, the parent exits 0,
// setsid, fork again, the intermediate exits, stdio goes to /dev/null. The
// daemon writes its pid to PID_FILE, then leaks 64 KiB every 50 ms in
// DaemonLeak until SIGTERM or SIGINT (it leaves main with status 0) or
// until LIMIT_SECONDS have passed (status 3: the test did not end it).
// With `threaded`, the intermediate process ends its main thread first
// (pthread_exit) and a second thread forks the daemon 100 ms after the
// launcher has returned: while the launcher ends, the intermediate shows
// as a zombie whose children are not re-parented yet.
// With `two`, a second daemon is left running first, one that is not
// profiled: it writes its pid to PID_FILE.2 and becomes `sleep LIMIT`
// without LD_PRELOAD.
// Usage: daemon_service PID_FILE [LIMIT_SECONDS [threaded|two]]
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon_steps.h"

volatile sig_atomic_t g_stop = 0;
void* volatile g_keep;

void Stop(int) { g_stop = 1; }

__attribute__((noinline)) void LauncherAlloc() { g_keep = malloc(4096); }

__attribute__((noinline)) void DaemonLeak() {
  char* p = static_cast<char*>(malloc(64 * 1024));
  memset(p, 1, 64 * 1024);
  g_keep = p;
}

// The daemon's life; its exit status.
int RunDaemon(const char* pid_file, int limit) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (!WritePidFile(pid_file)) return 1;
  const time_t until = time(nullptr) + limit;
  while (!g_stop) {
    if (time(nullptr) >= until) return 3;
    DaemonLeak();
    usleep(50 * 1000);
  }
  return 0;
}

struct Threaded {
  int ready = -1;  // written once the main thread has ended
  const char* pid_file;
  int limit;
};

// The intermediate process's second thread.
void* ForkDaemonLater(void* p) {
  auto* t = static_cast<Threaded*>(p);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", static_cast<int>(getpid()));
  for (;;) {  // until the main thread has ended (a zombie)
    char buf[512] = {0};
    FILE* f = fopen(path, "r");
    if (f == nullptr) break;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char* close_paren = strrchr(buf, ')');
    if (close_paren != nullptr && close_paren[1] == ' ' && close_paren[2] == 'Z') break;
    usleep(1000);
  }
  char one = 1;
  if (write(t->ready, &one, 1) != 1) _exit(1);
  close(t->ready);
  usleep(100 * 1000);
  pid_t pid = fork();
  if (pid != 0) return nullptr;  // the last thread: the process ends (0)
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  exit(RunDaemon(t->pid_file, t->limit));
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int limit = argc > 2 ? atoi(argv[2]) : 60;
  LauncherAlloc();
  printf("started\n");
  fflush(stdout);
  if (argc > 3 && strcmp(argv[3], "threaded") == 0) {
    int ready[2];
    if (pipe(ready) != 0) return 1;
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid > 0) {  // the launcher: returns once the intermediate's main thread has ended
      close(ready[1]);
      char c;
      return read(ready[0], &c, 1) == 1 ? 0 : 1;
    }
    close(ready[0]);
    setsid();
    static Threaded t;
    t.ready = ready[1];
    t.pid_file = argv[1];
    t.limit = limit;
    pthread_t thread;
    if (pthread_create(&thread, nullptr, ForkDaemonLater, &t) != 0) _exit(1);
    pthread_exit(nullptr);
  }
  if (argc > 3 && strcmp(argv[3], "two") == 0) {
    int r = BecomeDaemon();
    if (r < 0) return 1;
    if (r == 1) {
      char path[4096];
      snprintf(path, sizeof path, "%s.2", argv[1]);
      if (!WritePidFile(path)) _exit(1);
      unsetenv("LD_PRELOAD");
      char seconds[16];
      snprintf(seconds, sizeof seconds, "%d", limit);
      execlp("sleep", "sleep", seconds, static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  if (int r = BecomeDaemon(); r <= 0) return r < 0 ? 1 : 0;
  return RunDaemon(argv[1], limit);
}
