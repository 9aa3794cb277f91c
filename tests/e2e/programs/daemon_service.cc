// A service that daemonizes and keeps running: fork, the parent exits 0,
// setsid, fork again, the intermediate exits, stdio goes to /dev/null. The
// daemon writes its pid to PID_FILE, then leaks 64 KiB every 50 ms in
// DaemonLeak until SIGTERM or SIGINT (it leaves main with status 0) or
// until LIMIT_SECONDS have passed (status 3: the test did not end it).
// Usage: daemon_service PID_FILE [LIMIT_SECONDS]
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

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const int limit = argc > 2 ? atoi(argv[2]) : 60;
  LauncherAlloc();
  printf("started\n");
  fflush(stdout);
  if (int r = BecomeDaemon(); r <= 0) return r < 0 ? 1 : 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = Stop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  if (!WritePidFile(argv[1])) return 1;
  const time_t until = time(nullptr) + limit;
  while (!g_stop) {
    if (time(nullptr) >= until) return 3;
    DaemonLeak();
    usleep(50 * 1000);
  }
  return 0;
}
