// A parent and its child both allocate known blocks.
// Usage: fork_allocs MODE
//   fork-exit, fork-_exit  the forked child allocates and ends with exit(0)
//                          or _exit(0)
//   fork-exec-self         the forked child execs this program as "leaf"
//   fork-exec-true         the forked child execs /bin/true
//   vfork-exec-self        vfork, then exec "leaf"
//   vfork-exec-fail        vfork, exec of a file that does not exist, _exit(127)
//                          in the child (what vfork allows); no leaf runs
//   spawn-self             posix_spawn of this program as "leaf"
//   fork-wait              the forked child allocates nothing after the fork:
//                          it prints "child ready", then reads stdin with
//                          read(2) (no stdio buffer) until EOF and exits
//   fork-linger            the forked child allocates, then lives 500 ms
//   fork-busy              a thread allocates and frees without pause while
//                          the main thread forks 30 children in turn, each
//                          allocating (ChildAlloc) and ending with exit(0)
//   fork-samples           4 children forked in turn each run SampledChildAlloc
//                          (200 blocks of 65536 + 16 x i bytes, kept), then
//                          the parent does: meant for the default rate, where
//                          each process must draw its own samples
//   fork-many N            a first child (the keeper) allocates (ChildAlloc),
//                          and waits for the parent to end (EOF on a pipe;
//                          its pid on stderr as "fork_allocs: keeper pid P");
//                          then N children forked in turn each
//                          allocate (ChildAlloc) and exit(0), their pids in
//                          fork order on stderr; then the parent ends without
//                          waiting for the keeper, which lives 300 ms more
//                          (taking its periodic snapshots if any): a server forking a process per
//                          connection, and a worker that outlives it
//   raw-clone              the child is made by syscall(SYS_clone, SIGCHLD), as
//                          vsftpd makes its per-connection processes. It
//                          allocates (ChildAlloc), frees a ParentAlloc block
//                          and ends with exit(0); the parent then says
//                          whether a final profile was written in
//                          HEAPSCOPE_OUT under its own name while it still
//                          runs (it must not have been)
//   raw-clone-term         the same child ends by raise(SIGTERM)
//   raw-clone-seccomp      the same child installs a seccomp filter that
//                          allows everything (prctl) before its exit(0)
//   asm-clone              the same child as raw-clone, made by the clone
//                          system call instruction itself (no syscall()), so
//                          that nothing the runtime exports sees it
//   leaf                   LeafAlloc only (the exec'd program)
//   exec-inplace           after 300 ms, execs this program as "after-exec"
//                          in the same process (no fork), as haproxy's master
//                          does to reload
//   after-exec             LeafAlloc, then 300 ms, then returns
// Allocations (in-use bytes / objects):
//   ParentAlloc  4 x malloc(2000) before the fork                8000 / 4
//   ChildAlloc   3 x malloc(7000), only in a forked child        21000 / 3
//                (which also frees one ParentAlloc block it inherited)
//   ParentAfter  2 x malloc(1500) in the parent after the child  3000 / 2
//   LeafAlloc    5 x malloc(1100) in the exec'd program          5500 / 5
// The child's pid goes to stderr as "fork_allocs: child pid N".
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

extern char** environ;

void* volatile g_parent[4];
void* volatile g_child[3];
void* volatile g_after[2];
void* volatile g_leaf[5];

__attribute__((noinline)) void ParentAlloc() {
  for (int i = 0; i < 4; i++) g_parent[i] = malloc(2000);
}

__attribute__((noinline)) void ChildAlloc() {
  for (int i = 0; i < 3; i++) g_child[i] = malloc(7000);
}

__attribute__((noinline)) void ParentAfter() {
  for (int i = 0; i < 2; i++) g_after[i] = malloc(1500);
}

void* volatile g_sampled[200];

__attribute__((noinline)) void SampledChildAlloc() {
  for (int i = 0; i < 200; i++) g_sampled[i] = malloc(65536 + 16 * static_cast<size_t>(i));
}

void* volatile g_busy_sink;
std::atomic<bool> g_busy_started{false};

__attribute__((noinline)) void* BusyChurn(void*) {
  for (unsigned i = 0;; i++) {
    void* p = malloc(24 + i % 3000);
    g_busy_sink = p;
    free(p);
    if (i == 1000) g_busy_started.store(true);
  }
  return nullptr;
}

void SleepMs(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

__attribute__((noinline)) void LeafAlloc() {
  for (int i = 0; i < 5; i++) g_leaf[i] = malloc(1100);
}

// clone(SIGCHLD) by the instruction itself: a fork no library sees.
pid_t AsmClone() {
#if defined(__x86_64__)
  long ret;
  register long r10 __asm__("r10") = 0;
  register long r8 __asm__("r8") = 0;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(static_cast<long>(SYS_clone)), "D"(static_cast<long>(SIGCHLD)), "S"(0L),
                     "d"(0L), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return ret < 0 ? -1 : static_cast<pid_t>(ret);
#else
  return static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
#endif
}

static char g_self[PATH_MAX];

void ReportChild(pid_t pid) {
  std::fprintf(stderr, "fork_allocs: child pid %d\n", static_cast<int>(pid));
  std::fflush(stderr);
}

int WaitChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status)) {
    std::printf("parent: child exited with status %d\n", WEXITSTATUS(status));
  } else {
    std::printf("parent: child ended by signal %d\n", WTERMSIG(status));
  }
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "fork-exit";
  if (strcmp(mode, "leaf") == 0) {
    LeafAlloc();
    std::printf("leaf: done\n");
    return 0;
  }
  if (strcmp(mode, "after-exec") == 0) {
    LeafAlloc();
    SleepMs(300);
    std::printf("after exec: done\n");
    return 0;
  }
  ssize_t n = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
  if (n <= 0) return 2;
  g_self[n] = '\0';
  ParentAlloc();
  std::printf("parent: allocated\n");
  std::fflush(stdout);
  if (strcmp(mode, "fork-busy") == 0) {
    pthread_t t;
    pthread_create(&t, nullptr, BusyChurn, nullptr);
    pthread_detach(t);
    while (!g_busy_started.load()) sched_yield();
    int ok = 0;
    for (int i = 0; i < 30; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        ChildAlloc();
        exit(0);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0) {
      }
      ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::printf("parent: %d of 30 children exited with status 0\n", ok);
    ParentAfter();
    return 0;
  }
  if (strcmp(mode, "exec-inplace") == 0) {
    SleepMs(300);
    std::fflush(stdout);
    char after[] = "after-exec";
    char* after_argv[] = {g_self, after, nullptr};
    execv(g_self, after_argv);
    return 6;
  }
  if (strcmp(mode, "fork-many") == 0) {
    int n = argc > 2 ? atoi(argv[2]) : 0;
    int ends[2];
    if (pipe(ends) != 0) return 5;
    pid_t keeper = fork();
    if (keeper == 0) {
      close(ends[1]);
      ChildAlloc();
      char buf[64];
      while (read(ends[0], buf, sizeof buf) > 0) {
      }
      SleepMs(300);
      _exit(0);
    }
    close(ends[0]);
    std::fprintf(stderr, "fork_allocs: keeper pid %d\n", static_cast<int>(keeper));
    int ok = 0;
    for (int i = 0; i < n; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        ChildAlloc();
        exit(0);
      }
      ReportChild(pid);
      int status = 0;
      while (waitpid(pid, &status, 0) < 0) {
      }
      ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    std::printf("parent: %d of %d children exited with status 0\n", ok, n);
    return 0;
  }
  if (strncmp(mode, "raw-clone", 9) == 0 || strcmp(mode, "asm-clone") == 0) {
    pid_t pid = strcmp(mode, "asm-clone") == 0
                    ? AsmClone()
                    : static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
    if (pid == 0) {
      ChildAlloc();
      free(g_parent[0]);
      if (strcmp(mode, "raw-clone-seccomp") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {1, &allow};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
          _exit(8);
        }
      }
      std::printf("child: done\n");
      std::fflush(stdout);
      if (strcmp(mode, "raw-clone-term") == 0) raise(SIGTERM);
      exit(0);
    }
    if (pid < 0) return 4;
    ReportChild(pid);
    WaitChild(pid);
    if (const char* out = getenv("HEAPSCOPE_OUT")) {
      char path[PATH_MAX];
      snprintf(path, sizeof path, "%s/heap.final.pb.gz", out);
      struct stat st;
      if (stat(path, &st) == 0) std::printf("parent: the child wrote %s\n", path);
    }
    ParentAfter();
    std::printf("parent: done\n");
    return 0;
  }
  if (strcmp(mode, "fork-samples") == 0) {
    for (int i = 0; i < 4; i++) {
      pid_t pid = fork();
      if (pid == 0) {
        SampledChildAlloc();
        exit(0);
      }
      int status = 0;
      while (waitpid(pid, &status, 0) < 0) {
      }
    }
    SampledChildAlloc();
    std::printf("parent: done\n");
    return 0;
  }
  char leaf[] = "leaf";
  char* leaf_argv[] = {g_self, leaf, nullptr};
  pid_t pid;
  if (strcmp(mode, "spawn-self") == 0) {
    if (posix_spawn(&pid, g_self, nullptr, nullptr, leaf_argv, environ) != 0) return 3;
  } else if (strcmp(mode, "vfork-exec-self") == 0 || strcmp(mode, "vfork-exec-fail") == 0) {
    char missing[] = "/nonexistent/fork_allocs";
    bool fail = strcmp(mode, "vfork-exec-fail") == 0;
    pid = vfork();
    if (pid == 0) {
      execv(fail ? missing : g_self, leaf_argv);
      _exit(127);
    }
  } else {
    pid = fork();
    if (pid == 0) {
      if (strcmp(mode, "fork-exec-self") == 0) {
        execv(g_self, leaf_argv);
        _exit(127);
      }
      if (strcmp(mode, "fork-exec-true") == 0) {
        char t[] = "/bin/true";
        char* true_argv[] = {t, nullptr};
        execv(t, true_argv);
        _exit(127);
      }
      if (strcmp(mode, "fork-wait") == 0) {
        static const char kReady[] = "child ready\n";
        ssize_t w = write(1, kReady, sizeof kReady - 1);
        (void)w;
        char buf[64];
        while (read(0, buf, sizeof buf) > 0) {
        }
        _exit(0);
      }
      ChildAlloc();
      free(g_parent[0]);
      if (strcmp(mode, "fork-linger") == 0) SleepMs(500);
      std::printf("child: done\n");
      std::fflush(stdout);
      if (strcmp(mode, "fork-_exit") == 0) _exit(0);
      exit(0);
    }
  }
  if (pid < 0) return 4;
  ReportChild(pid);
  WaitChild(pid);
  ParentAfter();
  std::printf("parent: done\n");
  return 0;
}
