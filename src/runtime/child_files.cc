#include "runtime/child_files.h"

#include <string.h>

#include <algorithm>

namespace heapscope::runtime {
namespace {

// The stems of the files a process writes (heap snapshots, and
// ResourceProfileName's).
constexpr const char* kStems[] = {"heap.", "fds.", "threadcreate.", "mmap."};

bool EndsWith(const char* s, size_t n, const char* tail) {
  size_t t = strlen(tail);
  return n >= t && memcmp(s + n - t, tail, t) == 0;
}

}  // namespace

int64_t ChildPidOfFile(const char* name) {
  size_t n = strlen(name);
  if (!EndsWith(name, n, ".pb.gz") && !EndsWith(name, n, ".pb.gz.tmp")) return 0;
  const char* p = nullptr;
  for (const char* stem : kStems) {
    if (strncmp(name, stem, strlen(stem)) == 0) {
      p = name + strlen(stem);
      break;
    }
  }
  if (p == nullptr || *p < '1' || *p > '9') return 0;
  int64_t pid = 0;
  int digits = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (digits == 10) return 0;  // past any pid_max
    pid = pid * 10 + (*p - '0');
  }
  // The first process's numbered snapshots (heap.0001.pb.gz) have a
  // number there too, but start with 0 and end the name after it.
  if (*p != '.' || strncmp(p, ".pb.gz", 6) == 0) return 0;
  return pid;
}

size_t OldestBeyond(EndedChild* ended, size_t n, uint64_t keep) {
  std::sort(ended, ended + n, [](const EndedChild& a, const EndedChild& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns < b.mtime_ns : a.pid < b.pid;
  });
  return n > keep ? n - keep : 0;
}

}  // namespace heapscope::runtime
