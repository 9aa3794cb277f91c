// Logging to stderr with write(2): no malloc, no stdio, usable in hooks and
// signal handlers. Messages are truncated to one fixed buffer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace heapscope::base {

// A fixed buffer that formats strings and integers without allocating.
class RawBuffer {
 public:
  RawBuffer(char* data, size_t capacity) : data_(data), cap_(capacity) {}
  RawBuffer& Str(const char* s);
  RawBuffer& Str(const char* s, size_t n);
  RawBuffer& Uint(uint64_t v);
  RawBuffer& Int(int64_t v);
  RawBuffer& Hex(uint64_t v);
  RawBuffer& Char(char c);
  const char* data() const { return data_; }
  size_t size() const { return len_; }
  bool truncated() const { return truncated_; }
  // NUL-terminates within capacity and returns data().
  const char* CStr();

 private:
  char* data_;
  size_t cap_;
  size_t len_ = 0;
  bool truncated_ = false;
};

// Writes all of [data, data+n) to fd, retrying on EINTR and short writes.
// Past the file size limit (RLIMIT_FSIZE) it fails with EFBIG and the
// process is not sent SIGXFSZ, which would end it.
bool WriteAll(int fd, const void* data, size_t n);

// Writes "heapscope: <msg>\n" to stderr, unless stderr is a network
// connection (an inetd-style server's child talking to its client).
void RawLog(const char* msg);

}  // namespace heapscope::base
