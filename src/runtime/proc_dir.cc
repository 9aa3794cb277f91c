#include "runtime/proc_dir.h"

#include <string.h>

#include "base/raw_log.h"

namespace heapscope::runtime {

size_t ReadSmallFile(const char* path, char* buf, size_t cap) {
  int fd = static_cast<int>(syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC));
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

void TaskPath(char* buf, size_t cap, int tid, const char* what) {
  base::RawBuffer b(buf, cap);
  b.Str("/proc/self/task/").Int(tid).Char('/').Str(what).CStr();
}

size_t ReadThreadName(int tid, char* out, size_t cap) {
  if (cap == 0) return 0;
  char path[64];
  TaskPath(path, sizeof path, tid, "comm");
  char buf[64];
  size_t len = ReadSmallFile(path, buf, sizeof buf);
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
