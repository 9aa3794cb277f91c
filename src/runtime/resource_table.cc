#include "runtime/resource_table.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/mmap_arena.h"
#include "base/no_destructor.h"
#include "base/raw_log.h"
#include "base/spinlock.h"
#include "platform/modules.h"
#include "runtime/deferred.h"
#include "runtime/proc_dir.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {

platform::ModuleTable& Modules();

namespace {

// Resource stacks are few (the places that open things); the heap's depot
// limit does not apply to them.
constexpr size_t kMaxResourceStacks = 1 << 18;

std::atomic<bool> g_on{false};
base::NoDestructor<StackDepot> g_depot;
ResourceDrops g_drops;
ResourceSeen g_seen;

// Descriptor table: one word per descriptor number, 0 when none. Bits 0-31
// stack id, 32-39 kind, bit 40 present. Reserved up front without backing
// (MAP_NORESERVE): only pages of descriptor numbers in use become resident.
constexpr uint64_t kFdPresent = uint64_t{1} << 40;
std::atomic<uint64_t>* g_fds = nullptr;
std::atomic<int> g_fd_limit{0};

ThreadRecord* g_threads = nullptr;
std::atomic<size_t> g_thread_limit{0};
std::atomic<size_t> g_thread_hint{0};
__thread ThreadRecord* tls_thread_record __attribute__((tls_model("initial-exec")));

base::SpinLock g_map_lock;
MappingEntry* g_maps = nullptr;
size_t g_nmaps = 0;

void* Reserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void ForkPrepare() {
  g_map_lock.Lock();
  g_depot->LockForFork();
}

void ForkParent() {
  g_depot->UnlockAfterFork();
  g_map_lock.Unlock();
}

void ForkChild() {
  g_depot->ResetLockAfterFork();
  g_map_lock.ResetAfterFork();
  // Only the thread that forked lives on in the child, now with the
  // child's pid as its tid.
  size_t n = g_thread_limit.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; i++) {
    ThreadRecord* r = &g_threads[i];
    if (r->state.load(std::memory_order_relaxed) == kThreadFree) continue;
    if (r == tls_thread_record) {
      r->tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    } else {
      r->state.store(kThreadFree, std::memory_order_release);
    }
  }
}

// Records what the process holds at start: descriptors inherited across
// exec (O_CLOEXEC ones are already gone) or opened before we were loaded.
void RecordInherited() {
  ForEachNumberedEntry("/proc/self/fd", [](int64_t v, int dir) {
    int fd = static_cast<int>(v);
    if (fd != dir) SetFd(fd, ClassifyFd(fd), 0);
    return true;
  });
}

bool Starts(const char* s, const char* prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

int FindMapping(uintptr_t addr) {
  // First entry with end > addr.
  size_t lo = 0, hi = g_nmaps;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g_maps[mid].end <= addr) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return static_cast<int>(lo);
}

void RemoveLocked(uintptr_t start, uintptr_t end) {
  size_t i = static_cast<size_t>(FindMapping(start));
  while (i < g_nmaps && g_maps[i].start < end) {
    MappingEntry& e = g_maps[i];
    if (e.start < start && e.end > end) {
      // A hole in the middle: split in two.
      if (g_nmaps == kMaxMappings) {
        g_drops.mappings.fetch_add(1, std::memory_order_relaxed);
        e.end = start;
        return;
      }
      memmove(&g_maps[i + 1], &g_maps[i], (g_nmaps - i) * sizeof(MappingEntry));
      g_nmaps++;
      g_maps[i].end = start;
      g_maps[i + 1].start = end;
      return;
    }
    if (e.start < start) {
      e.end = start;
      i++;
    } else if (e.end > end) {
      e.start = end;
      return;
    } else {
      memmove(&g_maps[i], &g_maps[i + 1], (g_nmaps - i - 1) * sizeof(MappingEntry));
      g_nmaps--;
    }
  }
}

void InsertLocked(uintptr_t start, uintptr_t end, StackId stack) {
  RemoveLocked(start, end);
  if (g_nmaps == kMaxMappings) {
    g_drops.mappings.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  size_t i = static_cast<size_t>(FindMapping(start));
  memmove(&g_maps[i + 1], &g_maps[i], (g_nmaps - i) * sizeof(MappingEntry));
  g_maps[i] = MappingEntry{start, end, stack};
  g_nmaps++;
}

}  // namespace

const char* FdKindName(FdKind kind) {
  switch (kind) {
    case FdKind::kFile:
      return "file";
    case FdKind::kSocket:
      return "socket";
    case FdKind::kPipe:
      return "pipe";
    case FdKind::kEventfd:
      return "eventfd";
    case FdKind::kTimerfd:
      return "timerfd";
    case FdKind::kSignalfd:
      return "signalfd";
    case FdKind::kEpoll:
      return "epoll";
    case FdKind::kInotify:
      return "inotify";
    case FdKind::kMemfd:
      return "memfd";
    case FdKind::kDir:
      return "dir";
    case FdKind::kStdio:
      return "stdio";
    default:
      return "unknown";
  }
}

ResourceDrops& ResourceDropCounts() { return g_drops; }
ResourceSeen& ResourcesSeen() { return g_seen; }
StackDepot& ResourceDepot() { return *g_depot; }
bool ResourcesActive() {
  return g_on.load(std::memory_order_acquire) &&
         GlobalState().active.load(std::memory_order_relaxed);
}

void InitResources() {
  const char* v = getenv("HEAPSCOPE_RESOURCES");
  if (v != nullptr && (strcmp(v, "0") == 0 || strcmp(v, "off") == 0 || strcmp(v, "false") == 0)) {
    return;
  }
  g_depot.Construct();
  g_fds = static_cast<std::atomic<uint64_t>*>(Reserve(kMaxTrackedFds * sizeof(uint64_t)));
  g_threads = static_cast<ThreadRecord*>(Reserve(kMaxThreadRecords * sizeof(ThreadRecord)));
  g_maps = static_cast<MappingEntry*>(Reserve(kMaxMappings * sizeof(MappingEntry)));
  if (!g_depot->Init(kMaxResourceStacks) || g_fds == nullptr || g_threads == nullptr ||
      g_maps == nullptr) {
    return;
  }
  RecordInherited();
  RegisterForkHandlers(ForkPrepare, ForkParent, ForkChild);
  g_on.store(true, std::memory_order_release);
}

StackId CaptureResourceStack(const RecursionGuard& g) {
  uintptr_t frames[kMaxFrames];
  bool truncated = false;
  int depth = CaptureStack(g, frames, kMaxFrames, &truncated);
  bool is_new = false;
  StackId id = g_depot->FindOrInsert(frames, depth, truncated, &is_new);
  if (id == 0) {
    g_drops.stacks.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  if (is_new) {
    // Name stacks through libraries loaded since we last looked, so they
    // keep their names after dlclose.
    for (int i = 0; i < depth; i++) {
      if (Modules().Find(frames[i]) == nullptr) {
        Modules().Refresh();
        break;
      }
    }
  }
  return id;
}

void* ResolveNext(const char* name) {
  static __thread bool resolving __attribute__((tls_model("initial-exec")));
  if (resolving) return nullptr;
  resolving = true;
  void* f;
  {
    // A signal handler allocating meanwhile is the program's: queued and
    // recorded, like one arriving inside any other hook.
    InHook in_hook;
    RecursionGuard guard;
    f = dlsym(RTLD_NEXT, name);
  }
  resolving = false;
  return f;
}

void SetFd(int fd, FdKind kind, StackId stack) {
  if (g_fds == nullptr || fd < 0) return;
  if (fd >= kMaxTrackedFds) {
    g_drops.fds.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_fds[fd].store(kFdPresent | (uint64_t{static_cast<uint8_t>(kind)} << 32) | stack,
                  std::memory_order_release);
  int limit = g_fd_limit.load(std::memory_order_relaxed);
  while (fd >= limit && !g_fd_limit.compare_exchange_weak(limit, fd + 1)) {
  }
  if (stack != 0) g_seen.fds.store(true, std::memory_order_relaxed);
}

void ClearFd(int fd) {
  if (g_fds == nullptr || fd < 0 || fd >= kMaxTrackedFds) return;
  g_fds[fd].store(0, std::memory_order_release);
}

void ClearFdRange(unsigned first, unsigned last) {
  if (g_fds == nullptr) return;
  unsigned limit = static_cast<unsigned>(g_fd_limit.load(std::memory_order_acquire));
  if (last >= limit) last = limit == 0 ? 0 : limit - 1;
  if (limit == 0) return;
  for (unsigned fd = first; fd <= last; fd++) g_fds[fd].store(0, std::memory_order_release);
}

bool GetFd(int fd, FdEntry* out) {
  if (g_fds == nullptr || fd < 0 || fd >= kMaxTrackedFds) return false;
  uint64_t v = g_fds[fd].load(std::memory_order_acquire);
  if ((v & kFdPresent) == 0) return false;
  out->stack = static_cast<StackId>(v & 0xffffffffu);
  out->kind = static_cast<FdKind>((v >> 32) & 0xff);
  return true;
}

int FdLimit() { return g_fd_limit.load(std::memory_order_acquire); }

FdKind ClassifyFd(int fd) {
  char path[40];
  base::RawBuffer b(path, sizeof path);
  b.Str("/proc/self/fd/").Int(fd);
  char target[64];
  long n = ReadlinkProc(b.CStr(), target, sizeof target - 1);
  if (n <= 0) return FdKind::kUnknown;
  target[n] = '\0';
  if (Starts(target, "socket:")) return FdKind::kSocket;
  if (Starts(target, "pipe:")) return FdKind::kPipe;
  if (Starts(target, "anon_inode:[eventfd]")) return FdKind::kEventfd;
  if (Starts(target, "anon_inode:[timerfd]")) return FdKind::kTimerfd;
  if (Starts(target, "anon_inode:[signalfd]")) return FdKind::kSignalfd;
  if (Starts(target, "anon_inode:[eventpoll]")) return FdKind::kEpoll;
  if (Starts(target, "anon_inode:inotify")) return FdKind::kInotify;
  if (Starts(target, "/memfd:")) return FdKind::kMemfd;
  return FdKind::kFile;
}

ThreadRecord* AcquireThreadRecord() {
  if (g_threads == nullptr) return nullptr;
  size_t start = g_thread_hint.load(std::memory_order_relaxed);
  for (size_t k = 0; k < kMaxThreadRecords; k++) {
    size_t i = (start + k) % kMaxThreadRecords;
    uint32_t expected = kThreadFree;
    if (g_threads[i].state.load(std::memory_order_relaxed) == kThreadFree &&
        g_threads[i].state.compare_exchange_strong(expected, kThreadStarting,
                                                   std::memory_order_acq_rel)) {
      g_thread_hint.store(i + 1, std::memory_order_relaxed);
      size_t limit = g_thread_limit.load(std::memory_order_relaxed);
      while (i >= limit && !g_thread_limit.compare_exchange_weak(limit, i + 1)) {
      }
      g_threads[i].tid.store(0, std::memory_order_relaxed);
      g_threads[i].stack_hint.store(0, std::memory_order_relaxed);
      g_seen.threads.store(true, std::memory_order_relaxed);
      return &g_threads[i];
    }
  }
  g_drops.threads.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void ReleaseThreadRecord(ThreadRecord* r) {
  if (tls_thread_record == r) tls_thread_record = nullptr;
  r->state.store(kThreadFree, std::memory_order_release);
}

ThreadRecord* ThreadRecordAt(size_t i) { return g_threads != nullptr ? &g_threads[i] : nullptr; }
size_t ThreadRecordLimit() { return g_thread_limit.load(std::memory_order_acquire); }
void SetCurrentThreadRecord(ThreadRecord* r) { tls_thread_record = r; }

void AddMapping(uintptr_t start, size_t len, StackId stack) {
  if (g_maps == nullptr || len == 0) return;
  base::SpinLockHolder h(g_map_lock);
  InsertLocked(start, start + len, stack);
  g_seen.mappings.store(true, std::memory_order_relaxed);
}

void RemoveMappings(uintptr_t start, size_t len) {
  if (g_maps == nullptr || len == 0) return;
  base::SpinLockHolder h(g_map_lock);
  RemoveLocked(start, start + len);
}

bool MoveMapping(uintptr_t old_start, size_t old_len, uintptr_t new_start, size_t new_len,
                 bool keep_old) {
  if (g_maps == nullptr) return false;
  base::SpinLockHolder h(g_map_lock);
  size_t i = static_cast<size_t>(FindMapping(old_start));
  if (i >= g_nmaps || g_maps[i].start > old_start) return false;
  StackId stack = g_maps[i].stack;
  if (!keep_old) RemoveLocked(old_start, old_start + old_len);
  if (new_len > 0) InsertLocked(new_start, new_start + new_len, stack);
  return true;
}

size_t CopyMappings(MappingEntry* out, size_t cap) {
  if (g_maps == nullptr) return 0;
  base::SpinLockHolder h(g_map_lock);
  size_t n = g_nmaps < cap ? g_nmaps : cap;
  if (n > 0) memcpy(out, g_maps, n * sizeof(MappingEntry));
  return g_nmaps;
}

}  // namespace heapscope::runtime
