// A server started as root whose workers give up root, as nginx's and
// Apache's do: main allocates, forks three workers, and each sets its
// group and then its user to nobody (65534) with a different call
// (setuid, setresuid, setreuid), allocates, and stays a moment so that
// periodic snapshots see it. Each worker also keeps /dev/null open, so
// that it writes descriptor profiles too. Every allocation is recorded (the test runs
// at rate 1):
//   MainWork    10 x malloc(3000), kept
//   WorkerWork  25 x malloc(4000) in each worker, kept
// Main prints each worker's result in order: the same with the runtime
// as without.
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void* g_kept[32];

__attribute__((noinline)) void* MainWork(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 1, n);
  return p;
}

__attribute__((noinline)) void* WorkerWork(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 2, n);
  return p;
}

int Worker(int how) {
  const uid_t kNobody = 65534;
  if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0) return 10;
  int rc = how == 0 ? setuid(kNobody)
           : how == 1 ? setresuid(kNobody, kNobody, kNobody)
                      : setreuid(kNobody, kNobody);
  if (rc != 0) return 11;
  if (geteuid() != kNobody || getuid() != kNobody) return 12;
  for (int i = 0; i < 25; i++) g_kept[i] = WorkerWork(4000);
  if (open("/dev/null", O_RDONLY) < 0) return 13;
  timespec t = {0, 300 * 1000000L};
  nanosleep(&t, nullptr);
  return 0;
}

int main() {
  if (geteuid() != 0) {
    printf("not root\n");
    return 0;
  }
  for (int i = 0; i < 10; i++) g_kept[i] = MainWork(3000);
  pid_t pids[3];
  for (int how = 0; how < 3; how++) {
    fflush(stdout);
    pids[how] = fork();
    if (pids[how] < 0) return 1;
    if (pids[how] == 0) exit(Worker(how));
  }
  const char* names[3] = {"setuid", "setresuid", "setreuid"};
  for (int how = 0; how < 3; how++) {
    int status = 0;
    if (waitpid(pids[how], &status, 0) != pids[how]) return 1;
    printf("worker %s: %s %d\n", names[how], WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
  return 0;
}
