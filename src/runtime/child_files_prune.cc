// PruneChildFiles: the pass over the output directory (child_files.h).
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "runtime/child_files.h"
#include "runtime/out_dir.h"
#include "runtime/proc_dir.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {
namespace {

// Distinct pids looked at in one pass: a directory with more leaves the
// rest to the next pass.
constexpr size_t kSlots = 1 << 14;

enum : uint8_t { kFree = 0, kRunning, kEnded, kDelete, kDeleted };

struct Slot {
  int64_t pid;
  uint8_t state;
};

// Open addressing over kSlots (a power of two); nullptr when full.
Slot* FindSlot(Slot* slots, int64_t pid, bool insert) {
  size_t i = (static_cast<uint64_t>(pid) * 0x9E3779B97F4A7C15ULL) >> 50;  // 14 bits
  for (size_t probe = 0; probe < kSlots; probe++, i = (i + 1) & (kSlots - 1)) {
    if (slots[i].state == kFree) {
      if (!insert) return nullptr;
      slots[i].pid = pid;
      slots[i].state = kRunning;
      return &slots[i];
    }
    if (slots[i].pid == pid) return &slots[i];
  }
  return nullptr;
}

// Whether process pid is gone. One that cannot be signalled (another
// user's) is there; a zombie not yet reaped is there too.
bool Gone(int64_t pid) {
  return syscall(SYS_kill, static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

void AppendCount(int dir, size_t deleted) {
  // Moved high at once, as every descriptor the runtime holds a while.
  int fd = MoveToHighFd(
      static_cast<int>(syscall(SYS_openat, dir, kChildrenDeletedFile,
                               O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)));
  if (fd < 0) return;
  char line[32];
  base::RawBuffer b(line, sizeof line);
  b.Uint(deleted).Char('\n');
  base::WriteAll(fd, line, b.size());
  syscall(SYS_close, fd);
}

}  // namespace

void PruneChildFiles() {
  const uint64_t keep = GlobalState().config.keep_children;
  if (keep == 0) return;
  int dir = OpenOutDirForListing();
  if (dir < 0) return;
  // One pass at a time across the processes sharing the directory; a busy
  // lock means another is at it now.
  if (flock(dir, LOCK_EX | LOCK_NB) != 0) {
    syscall(SYS_close, dir);
    return;
  }
  const size_t bytes = kSlots * (sizeof(Slot) + sizeof(EndedChild));
  void* mem = base::MapPages(bytes);
  if (mem == nullptr) {
    syscall(SYS_close, dir);
    return;
  }
  auto* slots = static_cast<Slot*>(mem);
  auto* ended = reinterpret_cast<EndedChild*>(slots + kSlots);

  ForEachDirName(dir, [&](const char* name) {
    if (int64_t pid = ChildPidOfFile(name); pid != 0) FindSlot(slots, pid, /*insert=*/true);
  });
  size_t n = 0;
  for (size_t i = 0; i < kSlots; i++) {
    Slot& s = slots[i];
    if (s.state != kRunning || !Gone(s.pid)) continue;
    s.state = kEnded;
    char final_name[64];
    base::RawBuffer b(final_name, sizeof final_name);
    b.Str("heap.").Uint(static_cast<uint64_t>(s.pid)).Str(".final.pb.gz");
    struct stat st;
    int64_t mtime = 0;
    if (fstatat(dir, b.CStr(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    }
    ended[n++] = EndedChild{s.pid, mtime};
  }
  const size_t victims = OldestBeyond(ended, n, keep);
  for (size_t i = 0; i < victims; i++) FindSlot(slots, ended[i].pid, false)->state = kDelete;
  if (victims > 0) {
    ForEachDirName(dir, [&](const char* name) {
      int64_t pid = ChildPidOfFile(name);
      if (pid == 0) return;
      Slot* s = FindSlot(slots, pid, /*insert=*/false);
      if (s == nullptr || (s->state != kDelete && s->state != kDeleted)) return;
      if (unlinkat(dir, name, 0) == 0) s->state = kDeleted;
    });
    size_t deleted = 0;
    for (size_t i = 0; i < kSlots; i++) deleted += slots[i].state == kDeleted;
    if (deleted > 0) AppendCount(dir, deleted);
  }
  base::UnmapPages(mem, bytes);
  syscall(SYS_close, dir);  // and the lock with it
}

}  // namespace heapscope::runtime
