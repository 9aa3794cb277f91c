// The classic way to become a daemon, for the test programs that do
// (daemonize.cc, daemon_service.cc): fork, the original process returns,
// setsid, fork again, the intermediate process exits, stdio goes to
// /dev/null; and the pid file a daemon writes (whole, by rename).
#pragma once

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

// -1: the first fork failed; 0: in the original process; 1: in the daemon.
inline int BecomeDaemon() {
  pid_t pid = fork();
  if (pid < 0) return -1;
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
  return 1;
}

// Writes this process's pid to `path` (through path.tmp and a rename, so
// that a reader never sees it half written); false when it cannot.
inline bool WritePidFile(const char* path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  FILE* f = fopen(tmp, "w");
  if (f == nullptr) return false;
  fprintf(f, "%d\n", static_cast<int>(getpid()));
  fclose(f);
  return rename(tmp, path) == 0;
}
