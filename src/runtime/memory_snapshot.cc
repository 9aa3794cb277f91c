// The reading half of the RSS breakdown: /proc/self/smaps and status,
// mallinfo2, the thread and mapping tables. Runs on the dump thread and the
// HTTP thread under their RecursionGuard; never in a hook.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "base/clock.h"
#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "base/spinlock.h"
#include "runtime/mallinfo_backoff.h"
#include "runtime/memory_breakdown.h"
#include "runtime/proc_dir.h"
#include "runtime/resource_table.h"
#include "runtime/runtime.h"

namespace heapscope::runtime {
namespace {

// Resident bytes of [start, end) of anonymous memory, page by page. A
// mapping's Rss caps it: a page read but never written maps the shared
// zero page, which mincore calls resident and Rss does not count.
uint64_t ResidentAnon(uintptr_t start, uintptr_t end) {
  start &= ~uintptr_t{kPageSize - 1};
  unsigned char vec[4096];
  uint64_t pages = 0;
  while (start < end) {
    uintptr_t chunk_end = start + sizeof vec * kPageSize;
    if (chunk_end > end || chunk_end < start) chunk_end = end;
    size_t len = chunk_end - start;
    if (mincore(reinterpret_cast<void*>(start), len, vec) == 0) {
      size_t n = (len + kPageSize - 1) / kPageSize;
      for (size_t i = 0; i < n; i++) pages += vec[i] & 1;
    }
    start = chunk_end;
  }
  return pages * kPageSize;
}

using Mallinfo2Fn = struct mallinfo2 (*)();
std::atomic<Mallinfo2Fn> g_mallinfo2{nullptr};
std::atomic<bool> g_mallinfo2_missing{false};

std::atomic<bool> g_avoid_locks{false};
// glibc's mallinfo2 walks every free chunk of every arena with that arena
// locked: on a large or fragmented heap a read stops the program's
// allocations for tens of ms or more (33 ms for bench-server's scattered
// 100 thousand free chunks, 83 ms for 4 million laid out in order). Once a
// read takes longer than HEAPSCOPE_MALLINFO_MAX (in CPU time) the next
// waits (mallinfo_backoff.h: 10 minutes, doubling while reads stay slow);
// the final profile reads it anyway. Meanwhile the allocator's overhead
// and free memory are unknown (they stay in "other").
std::atomic<uint64_t> g_mallinfo_next_ns{0};
std::atomic<uint64_t> g_mallinfo_pause_ns{0};
std::atomic<bool> g_mallinfo_warned{false};
// Set for the final profile, which always reads afresh: mallinfo2 too,
// whatever a read cost before (the run summary's breakdown at exit).
std::atomic<bool> g_force_fresh{false};

void WarnMallinfo2TooSlow(uint64_t took_ns) {
  char msg[320];
  base::RawBuffer b(msg, sizeof msg);
  b.Str("glibc's mallinfo2 held the heap's locks for ")
      .Uint(took_ns / 1000)
      .Str(
          " us"
          " (more than HEAPSCOPE_MALLINFO_MAX): read again in 10 minutes (then after twice as long"
          " while reads stay slow) and for the final profile; until then the allocator's overhead"
          " and free memory are left in the RSS breakdown's other");
  base::RawLog(b.CStr());
}

AllocatorStats ReadAllocator() {
  AllocatorStats a;
  // The program's malloc is another allocator's (heap_shadowed): glibc's
  // counts say nothing of its heap.
  if (!GlobalState().real_is_glibc || GlobalState().heap_shadowed) {
    a.arenas_in_mappings = true;
    return a;
  }
  uint64_t max_ns = GlobalState().config.mallinfo_max_ns;
  const bool forced = g_force_fresh.load(std::memory_order_acquire);
  const MallinfoBackoff backoff{g_mallinfo_next_ns.load(std::memory_order_relaxed),
                                g_mallinfo_pause_ns.load(std::memory_order_relaxed)};
  if (g_avoid_locks.load(std::memory_order_acquire) ||
      g_mallinfo2_missing.load(std::memory_order_relaxed) || max_ns == 0 ||
      (!forced && !MallinfoDue(backoff, base::MonoNs()))) {
    return a;
  }
  Mallinfo2Fn f = g_mallinfo2.load(std::memory_order_acquire);
  if (f == nullptr) {
    f = reinterpret_cast<Mallinfo2Fn>(dlsym(RTLD_NEXT, "mallinfo2"));
    if (f == nullptr) {
      g_mallinfo2_missing.store(true);  // glibc before 2.33
      return a;
    }
    g_mallinfo2.store(f, std::memory_order_release);
  }
  // Its own work, not the time this thread waited to run on a busy machine.
  uint64_t start = base::ThreadCpuNs();
  struct mallinfo2 mi = f();
  uint64_t end = base::ThreadCpuNs();
  uint64_t took = start != 0 && end > start ? end - start : 0;
  if (!forced) {
    // (Two threads reading at once may each set the pause: either will do.)
    const MallinfoBackoff next = AfterMallinfoRead(backoff, base::MonoNs(), took > max_ns);
    g_mallinfo_pause_ns.store(next.pause_ns, std::memory_order_relaxed);
    g_mallinfo_next_ns.store(next.next_ns, std::memory_order_relaxed);
    if (took > max_ns && !g_mallinfo_warned.exchange(true)) WarnMallinfo2TooSlow(took);
  }
  a.known = true;
  a.arena = mi.arena;
  a.hblkhd = mi.hblkhd;
  a.uordblks = mi.uordblks;
  a.fordblks = mi.fordblks;
  return a;
}

uint64_t StatusKb(const char* status, const char* key) {
  const char* p = strstr(status, key);
  if (p == nullptr) return 0;
  p += strlen(key);
  while (*p == ' ' || *p == '\t') p++;
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return v * 1024;
}

void ReadStatus(MemorySnapshot* m) {
  char status[8192];
  size_t len = 0;
  int fd = OpenProc("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  for (;;) {
    ssize_t n = read(fd, status + len, sizeof status - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += static_cast<size_t>(n);
    if (len == sizeof status - 1) break;
  }
  close(fd);
  status[len] = '\0';
  m->vm_rss = StatusKb(status, "\nVmRSS:");
  m->vm_hwm = StatusKb(status, "\nVmHWM:");
}

// Scratch memory straight from mmap, released on scope exit.
class Scratch {
 public:
  explicit Scratch(size_t bytes) : bytes_(bytes) {
    if (bytes_ > 0) p_ = base::MapPages(bytes_);
  }
  ~Scratch() {
    if (p_ != nullptr) base::UnmapPages(p_, bytes_);
  }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return p_; }

 private:
  size_t bytes_;
  void* p_ = nullptr;
};

using base::MonoNs;

// The last reading for profiles, and what it cost.
base::SpinLock g_cache_lock;
MemorySnapshot g_cached;
uint64_t g_cached_start_ns = 0;
uint64_t g_cached_end_ns = 0;
bool g_have_cached = false;
constexpr uint64_t kSpacing = 19;  // idle 19 times as long as a read took: <= 5%

}  // namespace

MemorySnapshot ReadMemorySnapshotBudgeted(uint64_t live_heap, uint64_t headers, uint64_t* age_ns) {
  uint64_t now = MonoNs();
  *age_ns = 0;
  if (!g_force_fresh.load(std::memory_order_acquire)) {
    base::SpinLockHolder h(g_cache_lock);
    if (g_have_cached && now < g_cached_end_ns + kSpacing * (g_cached_end_ns - g_cached_start_ns)) {
      *age_ns = now - g_cached_start_ns;
      if (*age_ns == 0) *age_ns = 1;
      return g_cached;
    }
  }
  MemorySnapshot m = ReadMemorySnapshot(live_heap, headers);
  uint64_t end = MonoNs();
  if (m.ok) {
    base::SpinLockHolder h(g_cache_lock);
    g_cached = m;
    g_cached_start_ns = now;
    g_cached_end_ns = end;
    g_have_cached = true;
  }
  return m;
}

void ResetMemorySnapshotAfterFork() {
  g_cache_lock.ResetAfterFork();
  g_have_cached = false;
}

void ForceFreshMemorySnapshot() { g_force_fresh.store(true, std::memory_order_release); }

void AvoidAllocatorLocks() { g_avoid_locks.store(true, std::memory_order_release); }

MemorySnapshot ReadMemorySnapshot(uint64_t live_heap, uint64_t headers) {
  MemorySnapshot m;
  m.live_heap = live_heap;
  // Live threads the program created: an address in each one's stack.
  size_t nthreads = ThreadRecordLimit();
  Scratch hint_mem(nthreads * sizeof(uintptr_t));
  auto* hints = static_cast<uintptr_t*>(hint_mem.get());
  size_t nhints = 0;
  if (hints != nullptr) {
    for (size_t i = 0; i < nthreads; i++) {
      ThreadRecord* r = ThreadRecordAt(i);
      if (r == nullptr || r->state.load(std::memory_order_acquire) != kThreadRunning) continue;
      uintptr_t h = r->stack_hint.load(std::memory_order_relaxed);
      if (h != 0) hints[nhints++] = h;
    }
    std::sort(hints, hints + nhints);
  }
  // Anonymous mappings the program made (sorted and disjoint already).
  size_t want = CopyMappings(nullptr, 0);
  size_t cap = want + want / 8 + 64;
  Scratch map_mem(cap * sizeof(MappingEntry));
  auto* entries = static_cast<MappingEntry*>(map_mem.get());
  size_t nranges = 0;
  if (entries != nullptr) {
    nranges = CopyMappings(entries, cap);
    if (nranges > cap) nranges = cap;
  }
  // MappingEntry starts with {start, end}: view them as ranges in place.
  Scratch range_mem(nranges * sizeof(AddressRange));
  auto* ranges = static_cast<AddressRange*>(range_mem.get());
  if (ranges == nullptr) nranges = 0;
  for (size_t i = 0; i < nranges; i++) ranges[i] = AddressRange{entries[i].start, entries[i].end};

  RssClassifier classifier(hints, nhints, ranges, nranges, ResidentAnon);
  SmapsParser parser(RssClassifier::AddTo, &classifier);
  int fd = OpenProc("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char buf[16384];
    for (;;) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        m.ok = n == 0;
        break;
      }
      parser.Feed(buf, static_cast<size_t>(n));
    }
    close(fd);
    parser.Finish();
  }
  ReadStatus(&m);
  m.allocator = ReadAllocator();
  m.thread_stacks_found = classifier.stack_mappings();
  m.mappings = classifier.mappings();
  m.rss = Apportion(classifier.classes(), live_heap, m.allocator, headers);
  return m;
}

}  // namespace heapscope::runtime
