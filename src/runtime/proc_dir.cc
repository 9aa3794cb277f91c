#include "runtime/proc_dir.h"

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

}  // namespace heapscope::runtime
