#include "base/raw_log.h"

#include <errno.h>
#include <string.h>
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

bool WriteAll(int fd, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void RawLog(const char* msg) {
  int saved = errno;
  char buf[512];
  RawBuffer b(buf, sizeof buf);
  b.Str("heapscope: ").Str(msg).Char('\n');
  WriteAll(2, b.data(), b.size());
  errno = saved;
}

}  // namespace heapscope::base
