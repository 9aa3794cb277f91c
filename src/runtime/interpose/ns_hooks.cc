// unshare and setns, exported from libheapscope.so. The kernel lets only a
// process with a single thread enter a new user namespace (unshare or
// setns) or another mount namespace (setns), and fails the call with
// EINVAL otherwise. The runtime's dump thread would make every such call
// fail (`unshare -U`, bubblewrap, rootless container tools): it ends for
// the call and starts again after it, and so does the live endpoint's
// thread when it is on. The program's own threads are its business: with
// them the call fails as it always would.
//
// prctl too: PR_SET_SECCOMP installs a seccomp filter, which the runtime
// hears of first (BeforeSeccompFilter, dumper.h).
#include <errno.h>
#include <linux/nsfs.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/dumper.h"
#include "runtime/http/server.h"
#include "runtime/interpose/syscall_hook.h"
#include "runtime/resource_table.h"

namespace heapscope::runtime {
namespace {

using UnshareFn = int (*)(int);
using SetnsFn = int (*)(int, int);
using PrctlFn = int (*)(int, unsigned long, unsigned long, unsigned long, unsigned long);
std::atomic<UnshareFn> g_next_unshare{nullptr};
std::atomic<SetnsFn> g_next_setns{nullptr};
std::atomic<PrctlFn> g_next_prctl{nullptr};

// Flags for which unshare(2) requires that no other thread share the
// process (CLONE_NEWUSER implies CLONE_THREAD).
bool UnshareNeedsOneThread(int flags) {
  return (flags & (CLONE_NEWUSER | CLONE_THREAD | CLONE_SIGHAND | CLONE_VM)) != 0;
}

// setns(2) into a user namespace, or a mount namespace (the fs_struct must
// not be shared), or by pidfd with either flag. nstype 0 accepts any
// namespace: ask the descriptor which it is.
bool SetnsNeedsOneThread(int fd, int nstype) {
  if (nstype == 0) {
    int saved = errno;
    int kind = ioctl(fd, NS_GET_NSTYPE);
    errno = saved;
    if (kind < 0) return true;  // a pidfd, or unknown: be safe
    nstype = kind;
  }
  return (nstype & (CLONE_NEWUSER | CLONE_NEWNS)) != 0;
}

// The runtime's threads (the dump thread, the live endpoint's) end for
// the call and start again after it.
class PausedThreads {
 public:
  PausedThreads() {
    int saved = errno;
    PauseDumpThread();
    http::PauseHttpThread();
    errno = saved;
  }
  ~PausedThreads() {
    int saved = errno;
    http::ResumeHttpThread();
    ResumeDumpThread();
    errno = saved;
  }
  PausedThreads(const PausedThreads&) = delete;
  PausedThreads& operator=(const PausedThreads&) = delete;
};

}  // namespace

void PrctlSetSeccompComing(unsigned long mode, unsigned long filter) {
  // Strict mode, or a filter (a null one only probes: EFAULT).
  if (mode == SECCOMP_MODE_STRICT || (mode == SECCOMP_MODE_FILTER && filter != 0)) {
    BeforeSeccompFilter(/*all_threads=*/false);
  }
}

}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: hooks are in the global namespace

extern "C" __attribute__((visibility("default"))) int unshare(int flags) {
  UnshareFn f = NextFunction(&g_next_unshare, "unshare");
  if (f == nullptr) return static_cast<int>(syscall(SYS_unshare, flags));
  if (!UnshareNeedsOneThread(flags)) return f(flags);
  PausedThreads paused;
  return f(flags);
}

extern "C" __attribute__((visibility("default"))) int setns(int fd, int nstype) {
  SetnsFn f = NextFunction(&g_next_setns, "setns");
  if (f == nullptr) return static_cast<int>(syscall(SYS_setns, fd, nstype));
  if (!SetnsNeedsOneThread(fd, nstype)) return f(fd, nstype);
  PausedThreads paused;
  return f(fd, nstype);
}

// prctl(2) takes up to four more arguments, all unsigned long wide: read
// and passed on as such, whatever the option.
extern "C" __attribute__((visibility("default"))) int prctl(int option, ...) {
  va_list ap;
  va_start(ap, option);
  unsigned long a2 = va_arg(ap, unsigned long);
  unsigned long a3 = va_arg(ap, unsigned long);
  unsigned long a4 = va_arg(ap, unsigned long);
  unsigned long a5 = va_arg(ap, unsigned long);
  va_end(ap);
  if (option == PR_SET_SECCOMP) PrctlSetSeccompComing(a2, a3);
  PrctlFn f = NextFunction(&g_next_prctl, "prctl");
  if (f == nullptr) return static_cast<int>(syscall(SYS_prctl, option, a2, a3, a4, a5));
  return f(option, a2, a3, a4, a5);
}
