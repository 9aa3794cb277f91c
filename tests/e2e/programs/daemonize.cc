// A classic daemon: fork, the parent exits, setsid, fork again, the
// intermediate exits, stdio goes to /dev/null, the daemon works and exits.
// Usage: daemonize MARKER_FILE
//   ParentAlloc  2 x malloc(3000) in the original process     6000 / 2
//   DaemonAlloc  4 x malloc(2500) in the daemon only          10000 / 4
// The daemon writes its pid to MARKER_FILE when it is done, then exits.
#include <stdio.h>
#include <stdlib.h>

#include "daemon_steps.h"

void* volatile g_parent[2];
void* volatile g_daemon[4];

__attribute__((noinline)) void ParentAlloc() {
  for (int i = 0; i < 2; i++) g_parent[i] = malloc(3000);
}

__attribute__((noinline)) void DaemonAlloc() {
  for (int i = 0; i < 4; i++) g_daemon[i] = malloc(2500);
}

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  ParentAlloc();
  printf("started\n");
  fflush(stdout);
  if (int r = BecomeDaemon(); r <= 0) return r < 0 ? 1 : 0;
  DaemonAlloc();
  return WritePidFile(argv[1]) ? 0 : 1;
}
