#include "runtime/proc_dir.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>

#include "base/base.h"
#include "base/parse.h"
#include "base/raw_log.h"

namespace heapscope::runtime {
namespace {

std::atomic<int> g_proc_fd{-1};

// (held /proc, "self/...") for "/proc/self/...", else (AT_FDCWD, path).
int ProcAt(const char* path, const char** rel) {
  *rel = path;
  int held = g_proc_fd.load(std::memory_order_acquire);
  if (held < 0 || strncmp(path, "/proc/", 6) != 0) return AT_FDCWD;
  *rel = path + 6;
  return held;
}

}  // namespace

int OpenProc(const char* path, int flags) {
  const char* rel;
  int dir = ProcAt(path, &rel);
  return MoveToHighFd(static_cast<int>(syscall(SYS_openat, dir, rel, flags)));
}

long ReadlinkProc(const char* path, char* buf, size_t cap) {
  const char* rel;
  int dir = ProcAt(path, &rel);
  return syscall(SYS_readlinkat, dir, rel, buf, cap);
}

int MoveToHighFd(int fd) {
  if (fd < 0 || fd >= kHighFdBase) return fd;
  int high = static_cast<int>(syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, kHighFdBase));
  if (high < 0) return fd;
  syscall(SYS_close, fd);
  return high;
}

namespace {

// fd + 1 per slot, 0 when free: zero-initialised, and without a lock, so
// that a fork while another thread registers leaves nothing held in the
// child.
std::atomic<int> g_own_fds[kMaxOwnFds];
std::atomic<int> g_own_count{0};  // slots ever used: 0 skips the scan

}  // namespace

void RegisterOwnFd(int fd) {
  if (fd < 0) return;
  for (int i = 0; i < static_cast<int>(kMaxOwnFds); i++) {
    int expected = 0;
    if (!g_own_fds[i].compare_exchange_strong(expected, fd + 1, std::memory_order_acq_rel)) {
      continue;
    }
    int used = g_own_count.load(std::memory_order_relaxed);
    while (used < i + 1 &&
           !g_own_count.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
    }
    return;
  }
}

bool IsOwnFd(int fd) {
  const int used = g_own_count.load(std::memory_order_acquire);
  if (HS_LIKELY(used == 0) || fd < 0) return false;
  for (int i = 0; i < used; i++) {
    if (g_own_fds[i].load(std::memory_order_acquire) == fd + 1) return true;
  }
  return false;
}

int CloseOwnFd(int fd) {
  if (fd < 0) return 0;
  const int used = g_own_count.load(std::memory_order_acquire);
  for (int i = 0; i < used; i++) {
    int expected = fd + 1;
    g_own_fds[i].compare_exchange_strong(expected, 0, std::memory_order_acq_rel);
  }
  return static_cast<int>(syscall(SYS_close, fd));
}

size_t OwnFdsIn(unsigned first, unsigned last, int* out, size_t cap) {
  size_t n = 0;
  const int used = g_own_count.load(std::memory_order_acquire);
  for (int i = 0; i < used && n < cap; i++) {
    int fd = g_own_fds[i].load(std::memory_order_acquire) - 1;
    if (fd >= 0 && static_cast<unsigned>(fd) >= first && static_cast<unsigned>(fd) <= last) {
      out[n++] = fd;
    }
  }
  std::sort(out, out + n);
  return n;
}

void HoldProcDir() {
  if (g_proc_fd.load(std::memory_order_acquire) >= 0) return;
  int fd = static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, "/proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd < 0) return;
  fd = MoveToHighFd(fd);
  int expected = -1;
  if (g_proc_fd.compare_exchange_strong(expected, fd)) {
    RegisterOwnFd(fd);
  } else {
    syscall(SYS_close, fd);
  }
}

size_t ReadSmallFile(const char* path, char* buf, size_t cap) {
  if (cap == 0) return 0;
  buf[0] = '\0';
  int fd = OpenProc(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t len = 0;
  while (len + 1 < cap) {
    long n = syscall(SYS_read, fd, buf + len, cap - 1 - len);
    if (n <= 0) break;
    len += static_cast<size_t>(n);
  }
  syscall(SYS_close, fd);
  buf[len] = '\0';
  return len;
}

uint64_t SoftFdLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 0;
  return rl.rlim_cur;
}

uint64_t MaxMapCount() {
  char text[32];
  size_t n = ReadSmallFile("/proc/sys/vm/max_map_count", text, sizeof text);
  while (n > 0 && text[n - 1] == '\n') text[--n] = '\0';
  uint64_t v = 0;
  return n > 0 && base::ParseUint(text, &v) ? v : 0;
}

uint64_t CountMappings() {
  int fd = OpenProc("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buf[16384];
  uint64_t lines = 0;
  for (;;) {
    long n = syscall(SYS_read, fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (const char* p = buf; (p = static_cast<const char*>(memchr(p, '\n', buf + n - p)));) {
      lines++;
      p++;
    }
  }
  syscall(SYS_close, fd);
  return lines;
}

size_t ReadTaskFile(int tid, const char* what, char* buf, size_t cap) {
  char path[80];
  base::RawBuffer b(path, sizeof path);
  b.Str("/proc/self/task/").Int(tid).Char('/').Str(what);
  return ReadSmallFile(b.CStr(), buf, cap);
}

char ReadThreadState(int tid) {
  // "tid (comm) S ...": comm may hold ')' itself, so the last one counts.
  char buf[1024];
  size_t len = ReadTaskFile(tid, "stat", buf, sizeof buf);
  const char* paren = nullptr;
  for (size_t k = 0; k < len; k++) {
    if (buf[k] == ')') paren = buf + k;
  }
  return paren != nullptr && paren + 2 < buf + len ? paren[2] : 0;
}

size_t ReadThreadName(int tid, char* out, size_t cap) {
  if (cap == 0) return 0;
  char buf[64];
  size_t len = ReadTaskFile(tid, "comm", buf, sizeof buf);
  while (len > 0 && buf[len - 1] == '\n') len--;
  if (len >= cap) len = cap - 1;
  memcpy(out, buf, len);
  out[len] = '\0';
  return len;
}

const char* ThreadStateName(char c) {
  switch (c) {
    case 'R':
      return "running";
    case 'S':
      return "sleeping";
    case 'D':
      return "disk sleep";
    case 'T':
      return "stopped";
    case 't':
      return "tracing stop";
    case 'Z':
      return "zombie";
    case 'X':
      return "dead";
    case 'I':
      return "idle";
    default:
      return "unknown";
  }
}

}  // namespace heapscope::runtime
