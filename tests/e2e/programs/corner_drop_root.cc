// A server started as root whose workers give up root, as nginx's and
// Apache's do: main allocates, forks four workers, and each sets its
// group and then its user to nobody (65534) with a different call
// (setuid, setresuid, setreuid; the fourth first shuts itself into the
// directory argv[1] with chroot, as haproxy does, then calls setuid),
// allocates, and stays a moment so that periodic snapshots see it. Each worker also keeps /dev/null open, so
// that it writes descriptor profiles too. Every allocation is recorded (the test runs
// at rate 1):
//   MainWork    10 x malloc(3000), kept
//   WorkerWork  25 x malloc(4000) in each worker, kept
// Main prints each worker's result in order: the same with the runtime
// as without.
//
// `corner_drop_root JAIL serve`: main itself shuts itself into JAIL and
// becomes nobody, keeps 22 x malloc(4000) (ServeWork), prints "ready" and
// waits for its input to end (for the live endpoint, started before the
// chroot, to be asked for the heap). `corner_drop_root JAIL jail`: the
// same without waiting, and no forks.
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

__attribute__((noinline)) void* ServeWork(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 4, n);
  return p;
}

__attribute__((noinline)) void* WorkerWork(size_t n) {
  void* p = malloc(n);
  if (p == nullptr) abort();
  memset(p, 2, n);
  return p;
}

int Worker(int how, const char* jail) {
  const uid_t kNobody = 65534;
  if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0) return 10;
  if (how == 3 && (chroot(jail) != 0 || chdir("/") != 0)) return 14;
  int rc = how == 0 || how == 3 ? setuid(kNobody)
           : how == 1 ? setresuid(kNobody, kNobody, kNobody)
                      : setreuid(kNobody, kNobody);
  if (rc != 0) return 11;
  if (geteuid() != kNobody || getuid() != kNobody) return 12;
  for (int i = 0; i < 25; i++) g_kept[i] = WorkerWork(4000);
  int kept_pipe[2];
  if (pipe(kept_pipe) != 0) return 13;
  timespec t = {0, 300 * 1000000L};
  nanosleep(&t, nullptr);
  return 0;
}

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    printf("not root\n");
    return 0;
  }
  for (int i = 0; i < 10; i++) g_kept[i] = MainWork(3000);
  if (argc < 2) {
    printf("usage: corner_drop_root JAIL_DIR [serve]\n");
    return 2;
  }
  if (argc > 2 && (strcmp(argv[2], "serve") == 0 || strcmp(argv[2], "jail") == 0)) {
    const uid_t kNobody = 65534;
    if (chroot(argv[1]) != 0 || chdir("/") != 0) return 3;
    if (setgroups(0, nullptr) != 0 || setgid(kNobody) != 0 || setuid(kNobody) != 0) return 4;
    for (int i = 10; i < 32; i++) g_kept[i] = ServeWork(4000);
    printf("ready\n");
    fflush(stdout);
    if (strcmp(argv[2], "jail") == 0) return 0;
    char buf[64];
    while (fread(buf, 1, sizeof buf, stdin) > 0) {
    }
    return 0;
  }
  pid_t pids[4];
  for (int how = 0; how < 4; how++) {
    fflush(stdout);
    pids[how] = fork();
    if (pids[how] < 0) return 1;
    if (pids[how] == 0) exit(Worker(how, argv[1]));
  }
  const char* names[4] = {"setuid", "setresuid", "setreuid", "chroot+setuid"};
  for (int how = 0; how < 4; how++) {
    int status = 0;
    if (waitpid(pids[how], &status, 0) != pids[how]) return 1;
    printf("worker %s: %s %d\n", names[how], WIFEXITED(status) ? "exit" : "signal",
           WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
  }
  return 0;
}
