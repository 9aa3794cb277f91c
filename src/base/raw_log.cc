#include "base/raw_log.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace heapscope::base {

RawBuffer& RawBuffer::Str(const char* s) { return Str(s, s ? strlen(s) : 0); }

RawBuffer& RawBuffer::Str(const char* s, size_t n) {
  for (size_t i = 0; i < n; i++) Char(s[i]);
  return *this;
}

RawBuffer& RawBuffer::Char(char c) {
  if (len_ + 1 < cap_) {
    data_[len_++] = c;
  } else {
    truncated_ = true;
  }
  return *this;
}

RawBuffer& RawBuffer::Uint(uint64_t v) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) Char(tmp[--n]);
  return *this;
}

RawBuffer& RawBuffer::Int(int64_t v) {
  if (v < 0) {
    Char('-');
    return Uint(static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
  }
  return Uint(static_cast<uint64_t>(v));
}

RawBuffer& RawBuffer::Hex(uint64_t v) {
  static const char kDigits[] = "0123456789abcdef";
  char tmp[16];
  int n = 0;
  do {
    tmp[n++] = kDigits[v & 15];
    v >>= 4;
  } while (v != 0);
  Str("0x");
  while (n > 0) Char(tmp[--n]);
  return *this;
}

const char* RawBuffer::CStr() {
  if (cap_ == 0) return "";
  data_[len_ < cap_ ? len_ : cap_ - 1] = '\0';
  return data_;
}

namespace {

bool WriteLoop(int fd, const char* p, size_t n, bool* too_big) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EFBIG) *too_big = true;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  bool too_big = false;
  struct rlimit fsize;
  if (getrlimit(RLIMIT_FSIZE, &fsize) != 0 || fsize.rlim_cur == RLIM_INFINITY) {
    return WriteLoop(fd, p, n, &too_big);
  }
  // A write past the file size limit sends the writing thread SIGXFSZ,
  // whose default action ends the process (OpenSSH's pre-authentication
  // child limits it to 0; our stderr, or a profile, may be a regular file):
  // blocked meanwhile, the write fails with EFBIG instead, and the signal
  // it left pending is taken back unless one was pending before.
  sigset_t xfsz, old, pending;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  if (pthread_sigmask(SIG_BLOCK, &xfsz, &old) != 0) return false;
  const bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGXFSZ) == 1;
  const bool ok = WriteLoop(fd, p, n, &too_big);
  const int saved = errno;
  if (too_big && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&xfsz, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return ok;
}

namespace {

// An inetd-style server hands each child its client's connection as
// standard input, output and error (vsftpd's connection processes, sshd
// -i): a message written there would land in the program's conversation
// with its client (vsftpd's client read the runtime's line as the server's
// greeting). A local socket (journald's, under a service manager) is a log
// and is written to.
bool StderrIsNetworkConnection() {
  struct stat st;
  if (fstat(2, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  struct sockaddr_storage addr;
  socklen_t len = sizeof addr;
  if (getsockname(2, reinterpret_cast<struct sockaddr*>(&addr), &len) != 0) return false;
  return addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
}

}  // namespace

void RawLog(const char* msg) {
  int saved = errno;
  if (StderrIsNetworkConnection()) {
    errno = saved;
    return;
  }
  char buf[512];
  RawBuffer b(buf, sizeof buf);
  b.Str("heapscope: ").Str(msg).Char('\n');
  WriteAll(2, b.data(), b.size());
  errno = saved;
}

}  // namespace heapscope::base
