// A program that sandboxes itself as OpenSSH's pre-authentication child
// does: a seccomp filter installed with prctl(PR_SET_SECCOMP) that allows a
// few system calls and ends the thread that makes any other
// (SECCOMP_RET_KILL_THREAD), a file size limit of 0 beside it; then it
// allocates and frees, and returns from main (exit_group is allowed).
// Prints "sandboxed", then "done". Exact totals before the filter:
//   BeforeSandbox  3 x malloc(4000), kept   12000 / 3
// Runs for 300 ms before the filter, so that periodic snapshots of 100 ms
// are written (the runtime's thread is running when the filter comes).
//
// corner_seccomp syscall: the same filter installed as libseccomp does
// (chronyd, tor), with seccomp(2) through syscall(), and no file size
// limit; then 300 ms more before main returns. In the sandbox:
//   InSandbox  1000 x malloc(100 + i), freed    0 / 599500, 0 / 1000
// corner_seccomp tsync: as "syscall", with SECCOMP_FILTER_FLAG_TSYNC, which
// binds every thread of the process.
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#define HS_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define HS_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "corner_seccomp: add this architecture's AUDIT_ARCH"
#endif

#define ALLOW(nr) \
  BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

void* volatile g_kept[3];

__attribute__((noinline)) void BeforeSandbox() {
  for (int i = 0; i < 3; i++) g_kept[i] = malloc(4000);
}

__attribute__((noinline)) void InSandbox() {
  for (int i = 0; i < 1000; i++) {
    void* volatile p = malloc(100 + i);
    free(p);
  }
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  bool by_syscall = strcmp(mode, "syscall") == 0 || strcmp(mode, "tsync") == 0;
  BeforeSandbox();
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, nullptr);
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, HS_AUDIT_ARCH, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      ALLOW(__NR_read),
      ALLOW(__NR_write),
      ALLOW(__NR_exit),
      ALLOW(__NR_exit_group),
      ALLOW(__NR_futex),
      ALLOW(__NR_brk),
      ALLOW(__NR_mmap),
      ALLOW(__NR_munmap),
      ALLOW(__NR_mremap),
      ALLOW(__NR_madvise),
      ALLOW(__NR_mprotect),
      ALLOW(__NR_rt_sigreturn),
      ALLOW(__NR_rt_sigprocmask),
      ALLOW(__NR_clock_nanosleep),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_THREAD),
  };
  struct sock_fprog prog = {static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  printf("sandboxed\n");
  fflush(stdout);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 3;
  if (by_syscall) {
    unsigned long flags = strcmp(mode, "tsync") == 0 ? SECCOMP_FILTER_FLAG_TSYNC : 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) != 0) return 4;
  } else {
    struct rlimit zero = {0, 0};
    if (setrlimit(RLIMIT_FSIZE, &zero) != 0) return 2;
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) return 4;
  }
  InSandbox();
  if (by_syscall) nanosleep(&ts, nullptr);
  printf("done\n");
  fflush(stdout);
  return 0;
}
