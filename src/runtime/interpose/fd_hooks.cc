// Every call that creates or releases a file descriptor, exported from
// libheapscope.so so that it interposes on libc's. Each hands the call to
// the next definition (RTLD_NEXT, looked up on first use, the system call
// before that is possible) and then records or forgets the descriptor with
// the creating stack. Results and errno are the real call's. The hooks
// never start the runtime themselves (an allocator preloaded before us may
// open or map while holding its own locks); what is open before it starts
// is recorded as inherited when it does.
//
// The hooks are defined under their own C++ names with the exported symbol
// given by an asm label, so that they need not repeat each libc
// declaration's exception specification.
//
// glibc's stdio and dirent open and close descriptors with internal calls
// that never reach these hooks: fopen/opendir and fclose/closedir are
// hooked themselves. A successful exec needs no hook: the new image starts
// with a fresh runtime, which records the descriptors it inherits.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "runtime/deferred.h"
#include "runtime/proc_dir.h"
#include "runtime/resource_table.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {
namespace {

// A pipe the runtime itself makes (libunwind opens one to test an address
// before reading it, and keeps it) goes near the top of the descriptor
// range. A program that closes every descriptor it does not know (as
// daemons and Chromium do before exec) and then reuses the low numbers
// for its own sockets would otherwise hand those to libunwind, whose
// one-byte reads and writes then eat and corrupt the program's messages.
// Up there the program's own descriptors, allocated lowest first, do not
// reach it; and it is registered as the runtime's own (proc_dir.h): a
// program that closes every descriptor it did not open (close_range,
// closefrom) leaves it alone, where before it closed the pipe and, once
// its own descriptors had grown up to the number, libunwind's one-byte
// writes would have gone to them. libunwind closing it itself unregisters
// it (close below).
void MoveOwnPipeOutOfTheWay(int* fds) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur;
  if (top < 256) return;
  long base = static_cast<long>(top) - 64;
  for (int i = 0; i < 2; i++) {
    if (fds[i] >= base) continue;
    long moved = syscall(SYS_fcntl, fds[i], F_DUPFD_CLOEXEC, base);
    if (moved < 0) continue;
    syscall(SYS_close, fds[i]);
    fds[i] = static_cast<int>(moved);
  }
}

// Records fd as made here, with the caller's stack.
HS_NOINLINE void NoteFd(int fd, FdKind kind) {
  if (fd < 0 || !ShouldRecordResources()) return;
  ErrnoKeeper keep;
  InHook in_hook;  // a signal handler's allocations meanwhile are queued
  RecursionGuard guard;
  SetFd(fd, kind, CaptureResourceStack(guard));
}

HS_NOINLINE void NoteFdPair(const int* fds, FdKind kind) {
  if (!ShouldRecordResources()) return;
  ErrnoKeeper keep;
  InHook in_hook;  // a signal handler's allocations meanwhile are queued
  RecursionGuard guard;
  StackId stack = CaptureResourceStack(guard);
  SetFd(fds[0], kind, stack);
  SetFd(fds[1], kind, stack);
}

// Whether code at `caller` is the runtime's own unwinder at work: libunwind
// walking a stack for the runtime, under its guard (not a program's signal
// handler that interrupted the runtime).
bool FromOwnUnwinder(void* caller) {
  return tls_state.guard != 0 && IsUnwinderCode(reinterpret_cast<uintptr_t>(caller));
}

// A new pipe, made by code at `caller`: libunwind's is the runtime's own,
// out of the way; any other is the program's, recorded.
void TakePipe(int* fds, void* caller) {
  if (!FromOwnUnwinder(caller)) return NoteFdPair(fds, FdKind::kPipe);
  MoveOwnPipeOutOfTheWay(fds);
  RegisterOwnFd(fds[0]);
  RegisterOwnFd(fds[1]);
}

// A duplicate is what its original is.
HS_NOINLINE void NoteDup(int oldfd, int newfd) {
  if (newfd < 0 || !ShouldRecordResources()) return;
  ErrnoKeeper keep;
  InHook in_hook;  // a signal handler's allocations meanwhile are queued
  RecursionGuard guard;
  FdEntry e;
  FdKind kind = GetFd(oldfd, &e) ? e.kind : ClassifyFd(oldfd);
  SetFd(newfd, kind, CaptureResourceStack(guard));
}

inline void ForgetFd(int fd) {
  if (fd >= 0) ClearFd(fd);
}

bool NeedsMode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

}  // namespace
}  // namespace heapscope::runtime

using namespace heapscope::runtime;  // NOLINT: hooks are in the global namespace

#define HS_HOOK(ret, name, cname, ...)                                                   \
  extern "C" __attribute__((visibility("default"))) ret cname(__VA_ARGS__) __asm__(#name); \
  static std::atomic<ret (*)(__VA_ARGS__)> next_##cname{nullptr};                        \
  extern "C" ret cname(__VA_ARGS__)

// ---- Creating descriptors.

HS_HOOK(int, open, hs_open, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  auto f = NextFunction(&next_hs_open, "open");
  int fd = f != nullptr ? f(path, flags, mode)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, open64, hs_open64, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  auto f = NextFunction(&next_hs_open64, "open64");
  int fd = f != nullptr ? f(path, flags, mode)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, openat, hs_openat, int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  auto f = NextFunction(&next_hs_openat, "openat");
  int fd = f != nullptr ? f(dirfd, path, flags, mode)
                        : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, openat64, hs_openat64, int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (NeedsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  auto f = NextFunction(&next_hs_openat64, "openat64");
  int fd = f != nullptr ? f(dirfd, path, flags, mode)
                        : static_cast<int>(syscall(SYS_openat, dirfd, path, flags | O_LARGEFILE, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

// The forms _FORTIFY_SOURCE builds call when the flags are not constant.
HS_HOOK(int, __open_2, hs_open_2, const char* path, int flags) {
  auto f = NextFunction(&next_hs_open_2, "__open_2");
  int fd = f != nullptr ? f(path, flags)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags, 0));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, __open64_2, hs_open64_2, const char* path, int flags) {
  auto f = NextFunction(&next_hs_open64_2, "__open64_2");
  int fd = f != nullptr ? f(path, flags)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, flags | O_LARGEFILE, 0));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, __openat_2, hs_openat_2, int dirfd, const char* path, int flags) {
  auto f = NextFunction(&next_hs_openat_2, "__openat_2");
  int fd = f != nullptr ? f(dirfd, path, flags)
                        : static_cast<int>(syscall(SYS_openat, dirfd, path, flags, 0));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, __openat64_2, hs_openat64_2, int dirfd, const char* path, int flags) {
  auto f = NextFunction(&next_hs_openat64_2, "__openat64_2");
  int fd = f != nullptr ? f(dirfd, path, flags)
                        : static_cast<int>(syscall(SYS_openat, dirfd, path, flags | O_LARGEFILE, 0));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, creat, hs_creat, const char* path, mode_t mode) {
  auto f = NextFunction(&next_hs_creat, "creat");
  int fd = f != nullptr ? f(path, mode)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path,
                                                   O_CREAT | O_WRONLY | O_TRUNC, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, creat64, hs_creat64, const char* path, mode_t mode) {
  auto f = NextFunction(&next_hs_creat64, "creat64");
  int fd = f != nullptr ? f(path, mode)
                        : static_cast<int>(syscall(SYS_openat, AT_FDCWD, path,
                                                   O_CREAT | O_WRONLY | O_TRUNC | O_LARGEFILE, mode));
  NoteFd(fd, FdKind::kFile);
  return fd;
}

HS_HOOK(int, socket, hs_socket, int domain, int type, int protocol) {
  auto f = NextFunction(&next_hs_socket, "socket");
  int fd = f != nullptr ? f(domain, type, protocol)
                        : static_cast<int>(syscall(SYS_socket, domain, type, protocol));
  NoteFd(fd, FdKind::kSocket);
  return fd;
}

HS_HOOK(int, socketpair, hs_socketpair, int domain, int type, int protocol, int* sv) {
  auto f = NextFunction(&next_hs_socketpair, "socketpair");
  int r = f != nullptr ? f(domain, type, protocol, sv)
                       : static_cast<int>(syscall(SYS_socketpair, domain, type, protocol, sv));
  if (r == 0) NoteFdPair(sv, FdKind::kSocket);
  return r;
}

HS_HOOK(int, accept, hs_accept, int s, struct sockaddr* addr, socklen_t* len) {
  auto f = NextFunction(&next_hs_accept, "accept");
  int fd = f != nullptr ? f(s, addr, len) : static_cast<int>(syscall(SYS_accept, s, addr, len));
  NoteFd(fd, FdKind::kSocket);
  return fd;
}

HS_HOOK(int, accept4, hs_accept4, int s, struct sockaddr* addr, socklen_t* len, int flags) {
  auto f = NextFunction(&next_hs_accept4, "accept4");
  int fd = f != nullptr ? f(s, addr, len, flags)
                        : static_cast<int>(syscall(SYS_accept4, s, addr, len, flags));
  NoteFd(fd, FdKind::kSocket);
  return fd;
}

HS_HOOK(int, pipe, hs_pipe, int* fds) {
  auto f = NextFunction(&next_hs_pipe, "pipe");
  int r = f != nullptr ? f(fds) : static_cast<int>(syscall(SYS_pipe2, fds, 0));
  if (r == 0) TakePipe(fds, __builtin_return_address(0));
  return r;
}

HS_HOOK(int, pipe2, hs_pipe2, int* fds, int flags) {
  auto f = NextFunction(&next_hs_pipe2, "pipe2");
  int r = f != nullptr ? f(fds, flags) : static_cast<int>(syscall(SYS_pipe2, fds, flags));
  if (r == 0) TakePipe(fds, __builtin_return_address(0));
  return r;
}

HS_HOOK(int, dup, hs_dup, int oldfd) {
  auto f = NextFunction(&next_hs_dup, "dup");
  int fd = f != nullptr ? f(oldfd) : static_cast<int>(syscall(SYS_dup, oldfd));
  NoteDup(oldfd, fd);
  return fd;
}

HS_HOOK(int, dup2, hs_dup2, int oldfd, int newfd) {
  if (HS_UNLIKELY(oldfd != newfd && IsOwnFd(newfd))) {
    errno = EBADF;
    return -1;
  }
  auto f = NextFunction(&next_hs_dup2, "dup2");
  int fd = f != nullptr ? f(oldfd, newfd) : static_cast<int>(syscall(SYS_dup2, oldfd, newfd));
  // dup2(fd, fd) makes nothing new.
  if (fd >= 0 && oldfd != newfd) NoteDup(oldfd, fd);
  return fd;
}

HS_HOOK(int, dup3, hs_dup3, int oldfd, int newfd, int flags) {
  if (HS_UNLIKELY(oldfd != newfd && IsOwnFd(newfd))) {
    errno = EBADF;
    return -1;
  }
  auto f = NextFunction(&next_hs_dup3, "dup3");
  int fd = f != nullptr ? f(oldfd, newfd, flags)
                        : static_cast<int>(syscall(SYS_dup3, oldfd, newfd, flags));
  NoteDup(oldfd, fd);
  return fd;
}

namespace {

// fcntl's third argument is an int, a long or a pointer depending on cmd;
// passed on as a pointer-sized value it reaches the real fcntl unchanged.
template <typename F>
int Fcntl(std::atomic<F>* slot, const char* name, int fd, int cmd, void* arg) {
  F f = NextFunction(slot, name);
  int r = f != nullptr ? f(fd, cmd, arg) : static_cast<int>(syscall(SYS_fcntl, fd, cmd, arg));
  if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) NoteDup(fd, r);
  return r;
}

}  // namespace

HS_HOOK(int, fcntl, hs_fcntl, int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return Fcntl(&next_hs_fcntl, "fcntl", fd, cmd, arg);
}

HS_HOOK(int, fcntl64, hs_fcntl64, int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  return Fcntl(&next_hs_fcntl64, "fcntl64", fd, cmd, arg);
}

HS_HOOK(int, eventfd, hs_eventfd, unsigned int count, int flags) {
  auto f = NextFunction(&next_hs_eventfd, "eventfd");
  int fd = f != nullptr ? f(count, flags) : static_cast<int>(syscall(SYS_eventfd2, count, flags));
  NoteFd(fd, FdKind::kEventfd);
  return fd;
}

HS_HOOK(int, timerfd_create, hs_timerfd_create, int clock, int flags) {
  auto f = NextFunction(&next_hs_timerfd_create, "timerfd_create");
  int fd = f != nullptr ? f(clock, flags)
                        : static_cast<int>(syscall(SYS_timerfd_create, clock, flags));
  NoteFd(fd, FdKind::kTimerfd);
  return fd;
}

HS_HOOK(int, signalfd, hs_signalfd, int fd, const sigset_t* mask, int flags) {
  auto f = NextFunction(&next_hs_signalfd, "signalfd");
  int r = f != nullptr ? f(fd, mask, flags)
                       : static_cast<int>(syscall(SYS_signalfd4, fd, mask, _NSIG / 8, flags));
  // With fd != -1 it changes an existing signalfd's mask.
  if (fd == -1) NoteFd(r, FdKind::kSignalfd);
  return r;
}

HS_HOOK(int, epoll_create, hs_epoll_create, int size) {
  auto f = NextFunction(&next_hs_epoll_create, "epoll_create");
  int fd = f != nullptr ? f(size) : static_cast<int>(syscall(SYS_epoll_create1, 0));
  NoteFd(fd, FdKind::kEpoll);
  return fd;
}

HS_HOOK(int, epoll_create1, hs_epoll_create1, int flags) {
  auto f = NextFunction(&next_hs_epoll_create1, "epoll_create1");
  int fd = f != nullptr ? f(flags) : static_cast<int>(syscall(SYS_epoll_create1, flags));
  NoteFd(fd, FdKind::kEpoll);
  return fd;
}

HS_HOOK(int, inotify_init, hs_inotify_init, void) {
  auto f = NextFunction(&next_hs_inotify_init, "inotify_init");
  int fd = f != nullptr ? f() : static_cast<int>(syscall(SYS_inotify_init1, 0));
  NoteFd(fd, FdKind::kInotify);
  return fd;
}

HS_HOOK(int, inotify_init1, hs_inotify_init1, int flags) {
  auto f = NextFunction(&next_hs_inotify_init1, "inotify_init1");
  int fd = f != nullptr ? f(flags) : static_cast<int>(syscall(SYS_inotify_init1, flags));
  NoteFd(fd, FdKind::kInotify);
  return fd;
}

HS_HOOK(int, memfd_create, hs_memfd_create, const char* name, unsigned int flags) {
  auto f = NextFunction(&next_hs_memfd_create, "memfd_create");
  int fd = f != nullptr ? f(name, flags) : static_cast<int>(syscall(SYS_memfd_create, name, flags));
  NoteFd(fd, FdKind::kMemfd);
  return fd;
}

// ---- Streams: they hold a descriptor until fclose/closedir.

namespace {

void NoteStream(FILE* stream) {
  if (stream != nullptr) NoteFd(fileno(stream), FdKind::kStdio);
}

}  // namespace

HS_HOOK(FILE*, fopen, hs_fopen, const char* path, const char* mode) {
  auto f = NextFunction(&next_hs_fopen, "fopen");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  FILE* stream = f(path, mode);
  NoteStream(stream);
  return stream;
}

HS_HOOK(FILE*, fopen64, hs_fopen64, const char* path, const char* mode) {
  auto f = NextFunction(&next_hs_fopen64, "fopen64");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  FILE* stream = f(path, mode);
  NoteStream(stream);
  return stream;
}

HS_HOOK(FILE*, fdopen, hs_fdopen, int fd, const char* mode) {
  auto f = NextFunction(&next_hs_fdopen, "fdopen");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  FILE* stream = f(fd, mode);
  NoteStream(stream);
  return stream;
}

HS_HOOK(FILE*, freopen, hs_freopen, const char* path, const char* mode, FILE* old) {
  auto f = NextFunction(&next_hs_freopen, "freopen");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  // The old descriptor is closed whatever happens next (glibc keeps it only
  // for a NULL path, where it reopens the same descriptor, noted again).
  ForgetFd(fileno(old));
  FILE* stream = f(path, mode, old);
  NoteStream(stream);
  return stream;
}

HS_HOOK(FILE*, freopen64, hs_freopen64, const char* path, const char* mode, FILE* old) {
  auto f = NextFunction(&next_hs_freopen64, "freopen64");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  ForgetFd(fileno(old));
  FILE* stream = f(path, mode, old);
  NoteStream(stream);
  return stream;
}

HS_HOOK(DIR*, opendir, hs_opendir, const char* path) {
  auto f = NextFunction(&next_hs_opendir, "opendir");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  DIR* d = f(path);
  if (d != nullptr) NoteFd(dirfd(d), FdKind::kDir);
  return d;
}

HS_HOOK(DIR*, fdopendir, hs_fdopendir, int fd) {
  auto f = NextFunction(&next_hs_fdopendir, "fdopendir");
  if (f == nullptr) {
    errno = ENOSYS;
    return nullptr;
  }
  DIR* d = f(fd);
  if (d != nullptr) NoteFd(fd, FdKind::kDir);
  return d;
}

// ---- Releasing descriptors: forgotten before the real call, so that a
// descriptor number another thread gets from the kernel right after is
// never forgotten by mistake.

// The runtime's own descriptors are not the program's to close or replace
// (proc_dir.h): closing one fails as if it were not open. The runtime
// itself (libunwind replacing its pipe) closes its own.
HS_HOOK(int, close, hs_close, int fd) {
  if (HS_UNLIKELY(IsOwnFd(fd))) {
    if (FromOwnUnwinder(__builtin_return_address(0))) return CloseOwnFd(fd);
    errno = EBADF;
    return -1;
  }
  ForgetFd(fd);
  auto f = NextFunction(&next_hs_close, "close");
  return f != nullptr ? f(fd) : static_cast<int>(syscall(SYS_close, fd));
}

namespace {

using CloseRangeFn = int (*)(unsigned int, unsigned int, int);
constexpr int kCloseRangeCloexec = 1 << 2;  // CLOSE_RANGE_CLOEXEC: only marks them

// close_range over [first, last] but around the runtime's own descriptors:
// the stretches between them, in order. -1 (errno of the first failure)
// if any stretch failed.
int CloseRangeAround(CloseRangeFn f, unsigned int first, unsigned int last, int flags) {
  auto call = [&](unsigned int a, unsigned int b) {
    return f != nullptr ? f(a, b, flags) : static_cast<int>(syscall(SYS_close_range, a, b, flags));
  };
  int own[kMaxOwnFds];
  size_t n = (flags & kCloseRangeCloexec) != 0 || first > last
                 ? 0
                 : OwnFdsIn(first, last, own, kMaxOwnFds);
  if (n == 0) return call(first, last);
  int result = 0;
  int saved = 0;
  unsigned int from = first;
  for (size_t i = 0; i <= n; i++) {
    const bool at_end = i == n;
    const auto mine = at_end ? 0U : static_cast<unsigned int>(own[i]);
    if (at_end || mine > from) {
      const unsigned int to = at_end ? last : mine - 1;
      if (from <= to && call(from, to) != 0 && result == 0) {
        result = -1;
        saved = errno;
      }
    }
    if (!at_end) from = mine + 1;
  }
  if (result != 0) errno = saved;
  return result;
}

}  // namespace

HS_HOOK(int, close_range, hs_close_range, unsigned int first, unsigned int last, int flags) {
  if ((flags & kCloseRangeCloexec) == 0 && first <= last) ClearFdRange(first, last);
  return CloseRangeAround(NextFunction(&next_hs_close_range, "close_range"), first, last, flags);
}

// glibc's closefrom calls close_range inside libc, past the hook above.
HS_HOOK(void, closefrom, hs_closefrom, int lowfd) {
  const unsigned int first = lowfd < 0 ? 0U : static_cast<unsigned int>(lowfd);
  ClearFdRange(first, ~0U);
  auto f = NextFunction(&next_hs_closefrom, "closefrom");
  int own[1];
  if (f != nullptr && OwnFdsIn(first, ~0U, own, 1) == 0) return f(lowfd);
  if (CloseRangeAround(NextFunction(&next_hs_close_range, "close_range"), first, ~0U, 0) == 0) {
    return;
  }
  // No close_range (kernels before 5.9): one by one, as glibc falls back to.
  ForEachNumberedEntry("/proc/self/fd", [&](int64_t fd, int dir) {
    if (fd >= first && fd != dir && !IsOwnFd(static_cast<int>(fd))) syscall(SYS_close, fd);
    return true;
  });
}

HS_HOOK(int, fclose, hs_fclose, FILE* stream) {
  auto f = NextFunction(&next_hs_fclose, "fclose");
  if (f == nullptr) {
    errno = ENOSYS;
    return EOF;
  }
  if (stream != nullptr) ForgetFd(fileno(stream));
  return f(stream);
}

HS_HOOK(int, closedir, hs_closedir, DIR* d) {
  auto f = NextFunction(&next_hs_closedir, "closedir");
  if (f == nullptr) {
    errno = ENOSYS;
    return -1;
  }
  if (d != nullptr) ForgetFd(dirfd(d));
  return f(d);
}
