// A classic daemon: fork, the parent exits, setsid, fork again, the
// intermediate exits, stdio goes to /dev/null, the daemon works and exits.
// Usage: daemonize MARKER_FILE
//   ParentAlloc  2 x malloc(3000) in the original process     6000 / 2
//   DaemonAlloc  4 x malloc(2500) in the daemon only          10000 / 4
// The daemon writes its pid to MARKER_FILE when it is done, then exits.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid > 0) return 0;  // the original process
  setsid();
  pid = fork();
  if (pid < 0) _exit(1);
  if (pid > 0) _exit(0);  // the intermediate process
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0);
  dup2(null, 1);
  dup2(null, 2);
  if (null > 2) close(null);
  DaemonAlloc();
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
  FILE* f = fopen(tmp, "w");
  if (f == nullptr) return 1;
  fprintf(f, "%d\n", static_cast<int>(getpid()));
  fclose(f);
  rename(tmp, argv[1]);
  return 0;
}
