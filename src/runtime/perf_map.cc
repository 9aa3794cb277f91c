#include "runtime/perf_map.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/proc_dir.h"

namespace heapscope::runtime {
namespace {

// Hex digits at *p, with an optional 0x; advances p. False if none.
bool ParseHex(const char** p, const char* end, uintptr_t* out) {
  const char* s = *p;
  if (end - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2;
  uintptr_t v = 0;
  const char* digits = s;
  while (s < end) {
    char c = *s;
    unsigned d;
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      d = static_cast<unsigned>(c - 'A' + 10);
    } else {
      break;
    }
    if (v >> 60) return false;  // more than 64 bits
    v = (v << 4) | d;
    s++;
  }
  if (s == digits) return false;
  *p = s;
  *out = v;
  return true;
}

}  // namespace

void PerfMap::Reset() {
  names_.Reset();
  entries_.Clear();
  count_ = sorted_count_ = skipped_ = 0;
  consumed_ = 0;
}

void PerfMap::ParseLine(const char* line, size_t n) {
  const char* p = line;
  const char* end = line + n;
  if (n > 0 && end[-1] == '\r') end--;
  uintptr_t start, size;
  if (!ParseHex(&p, end, &start) || p == end || *p != ' ') {
    skipped_++;
    return;
  }
  p++;
  if (!ParseHex(&p, end, &size) || p == end || *p != ' ' || size == 0 ||
      start + size < start) {
    skipped_++;
    return;
  }
  p++;
  if (p == end || count_ >= kMaxEntries) {
    skipped_++;
    return;
  }
  size_t len = static_cast<size_t>(end - p);
  char* name = static_cast<char*>(names_.Alloc(len + 1, 1));
  if (name == nullptr) {
    skipped_++;
    return;
  }
  memcpy(name, p, len);
  name[len] = '\0';
  Entry e{start, start + size, name, count_};
  if (!entries_.Append(&e, sizeof e)) {
    skipped_++;
    return;
  }
  count_++;
}

void PerfMap::Sort() {
  if (sorted_count_ == count_) return;
  Entry* e = reinterpret_cast<Entry*>(entries_.data());
  // std::sort allocates nothing (std::inplace_merge would); equal starts
  // keep line order.
  std::sort(e, e + count_, [](const Entry& a, const Entry& b) {
    return a.start != b.start ? a.start < b.start : a.seq < b.seq;
  });
  sorted_count_ = count_;
}

void PerfMap::Refresh(const char* path) {
  // /tmp is everyone's: a link, a FIFO (whose open would wait for a
  // writer) or a file someone else made under the name is not the JIT's
  // map. As perf does, only a regular file of ours (or root's) is read.
  int fd = MoveToHighFd(static_cast<int>(
      syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)));
  if (fd < 0) return;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
    syscall(SYS_close, fd);
    return;
  }
  if (st.st_dev != dev_ || st.st_ino != ino_ || static_cast<uint64_t>(st.st_size) < consumed_) {
    Reset();
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  char buf[16384];
  size_t have = 0;  // bytes of an unfinished line at the front of buf
  uint64_t off = consumed_;
  for (;;) {
    ssize_t got = pread(fd, buf + have, sizeof buf - have, static_cast<off_t>(off + have));
    if (got <= 0) break;
    size_t n = have + static_cast<size_t>(got);
    size_t line = 0;
    for (size_t i = 0; i < n; i++) {
      if (buf[i] != '\n') continue;
      ParseLine(buf + line, i - line);
      line = i + 1;
    }
    if (line == 0 && n == sizeof buf) {
      // A line longer than the buffer: skip to its end.
      skipped_++;
      off += n;
      have = 0;
      while (true) {
        ssize_t more = pread(fd, buf, sizeof buf, static_cast<off_t>(off));
        if (more <= 0) break;
        void* nl = memchr(buf, '\n', static_cast<size_t>(more));
        if (nl != nullptr) {
          off += static_cast<size_t>(static_cast<char*>(nl) - buf) + 1;
          break;
        }
        off += static_cast<size_t>(more);
      }
      consumed_ = off;
      continue;
    }
    off += line;
    consumed_ = off;
    have = n - line;
    memmove(buf, buf + line, have);
  }
  syscall(SYS_close, fd);
  Sort();
}

const char* PerfMap::Find(uintptr_t pc) {
  Sort();
  const Entry* e = reinterpret_cast<const Entry*>(entries_.data());
  if (count_ == 0) return nullptr;
  // The last entry starting at or before pc, then back over a few for the
  // newest one that holds it (code regions reused after a JIT frees them).
  const Entry* it = std::upper_bound(e, e + count_, pc,
                                     [](uintptr_t v, const Entry& x) { return v < x.start; });
  const Entry* best = nullptr;
  for (int back = 0; it != e && back < 64; back++) {
    --it;
    if (pc < it->end && (best == nullptr || it->seq > best->seq)) best = it;
  }
  return best != nullptr ? best->name : nullptr;
}

}  // namespace heapscope::runtime
