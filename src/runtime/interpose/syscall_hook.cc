// syscall(), exported from libheapscope.so. glibc's syscall() is the
// system call instruction and errno; programs make through it the calls
// glibc has no function for, or that they want without glibc's wrapper.
// A few concern the runtime:
//   - clone without CLONE_VM and without a new stack, and fork: a child
//     made without the fork handlers glibc's fork() runs (vsftpd makes its
//     connection's processes with syscall(SYS_clone, CLONE_NEWIPC |
//     SIGCHLD)). The hook runs the runtime's handlers around the call
//     (RunForkHandlers, runtime.h), so the child's profile is its own, as
//     after fork(). (A child made by a clone the hook does not see, the
//     program's own instruction, finds the runtime's per-process flags
//     cleared and stands aside: MoveProcessFlags in runtime.cc.)
//   - seccomp(SECCOMP_SET_MODE_FILTER or _STRICT): libseccomp's
//     seccomp_load (chronyd, tor, QEMU's -sandbox) installs its filter this
//     way; BeforeSeccompFilter (dumper.h) hears of it first, as it does of
//     prctl(PR_SET_SECCOMP).
//   - prctl, unshare, setns: as their own hooks (ns_hooks.cc).
// Every other call goes to the kernel as glibc's does, from an entry
// written in assembly that touches neither the stack nor any register
// glibc's leaves alone: a clone onto a new stack, or with CLONE_VM (a
// vfork), returns into the program's code exactly as it would have.
#include "runtime/interpose/syscall_hook.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "base/base.h"
#include "runtime/dumper.h"
#include "runtime/runtime.h"

#if defined(__x86_64__)

extern "C" {
int unshare(int flags);
int setns(int fd, int nstype);
}

namespace heapscope::runtime {
namespace {

// The system call itself: the kernel's result, -errno on failure.
long RawSyscall(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  register long r10 __asm__("r10") = a4;
  register long r8 __asm__("r8") = a5;
  register long r9 __asm__("r9") = a6;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "0"(n), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

long WithErrno(long ret) {
  if (ret < 0 && ret > -4096) {
    errno = static_cast<int>(-ret);
    return -1;
  }
  return ret;
}

// A child the way fork() makes one, as far as the runtime is concerned.
long ForkLike(long n, long a1, long a2, long a3, long a4, long a5, long a6) {
  int saved = errno;
  RunForkHandlers(ForkPhase::kPrepare);
  long ret = RawSyscall(n, a1, a2, a3, a4, a5, a6);
  RunForkHandlers(ret == 0 ? ForkPhase::kChild : ForkPhase::kParent);
  errno = saved;
  return WithErrno(ret);
}

}  // namespace
}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: the entry points are C symbols

// The numbers the assembly entry sends here; the arguments as it got them
// (the sixth on the stack, where a seventh parameter is).
extern "C" __attribute__((used)) long heapscope_syscall_slow(long n, long a1, long a2, long a3,
                                                             long a4, long a5, long a6) {
  switch (n) {
    case SYS_clone:  // without CLONE_VM and a new stack: the entry checked
    case SYS_fork:
      return ForkLike(n, a1, a2, a3, a4, a5, a6);
    case SYS_seccomp:
      // Strict mode, or a filter; libseccomp probes with a null filter
      // (EFAULT) and with flags strict mode does not take (EINVAL).
      if ((a1 == SECCOMP_SET_MODE_STRICT && a2 == 0 && a3 == 0) ||
          (a1 == SECCOMP_SET_MODE_FILTER && a3 != 0)) {
        BeforeSeccompFilter((a2 & SECCOMP_FILTER_FLAG_TSYNC) != 0);
      }
      break;
    case SYS_prctl:
      if (a1 == PR_SET_SECCOMP) {
        PrctlSetSeccompComing(static_cast<unsigned long>(a2), static_cast<unsigned long>(a3));
      }
      break;
    case SYS_unshare:
      return unshare(static_cast<int>(a1));
    case SYS_setns:
      return setns(static_cast<int>(a1), static_cast<int>(a2));
    default:
      break;
  }
  return WithErrno(RawSyscall(n, a1, a2, a3, a4, a5, a6));
}

extern "C" __attribute__((used)) long heapscope_syscall_error(long negated) {
  errno = static_cast<int>(negated);
  return -1;
}

// long syscall(long number, ...): the number in %rdi, the arguments in
// %rsi, %rdx, %rcx, %r8, %r9 and 8(%rsp), as glibc's takes them.
__asm__(R"(
    .text
    .globl syscall
    .type syscall, @function
    .p2align 4
syscall:
    .cfi_startproc
    cmpq $)" HS_STRINGIFY(SYS_clone) R"(, %rdi
    jne 1f
    testq $)" HS_STRINGIFY(CLONE_VM) R"(, %rsi
    jnz 2f
    testq %rdx, %rdx
    jz 9f
    jmp 2f
1:
    cmpq $)" HS_STRINGIFY(SYS_fork) R"(, %rdi
    je 9f
    cmpq $)" HS_STRINGIFY(SYS_seccomp) R"(, %rdi
    je 9f
    cmpq $)" HS_STRINGIFY(SYS_prctl) R"(, %rdi
    je 9f
    cmpq $)" HS_STRINGIFY(SYS_unshare) R"(, %rdi
    je 9f
    cmpq $)" HS_STRINGIFY(SYS_setns) R"(, %rdi
    je 9f
2:
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    movq %r8, %r10
    movq %r9, %r8
    movq 8(%rsp), %r9
    syscall
    cmpq $-4095, %rax
    jae 3f
    ret
3:
    negq %rax
    movq %rax, %rdi
    jmp heapscope_syscall_error
9:
    jmp heapscope_syscall_slow
    .cfi_endproc
    .size syscall, .-syscall
)");

#endif  // __x86_64__
