#include "runtime/cpu_profile.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <new>

#include "base/clock.h"
#include "base/mmap_arena.h"
#include "base/raw_log.h"
#include "runtime/proc_dir.h"
#include "runtime/runtime.h"
#include "runtime/unwind.h"

namespace heapscope::runtime {
namespace {

// --- The ring the handler writes (Vyukov's bounded queue, one consumer) ---

constexpr size_t kRingSize = 2048;  // power of two
constexpr uint64_t kRingMask = kRingSize - 1;

struct RingSlot {
  std::atomic<uint64_t> seq;
  int32_t depth;
  int32_t flags;  // 1: truncated, 2: taken inside the runtime
  int32_t tid;    // the thread whose timer fired
  uintptr_t frames[kMaxFrames];
};

RingSlot* g_ring = nullptr;  // mapped once, for the life of the process
std::atomic<uint64_t> g_enqueue{0};
uint64_t g_dequeue = 0;  // the server thread's alone

std::atomic<bool> g_active{false};
std::atomic<int> g_in_handler{0};
std::atomic<int> g_registering{0};
std::atomic<uint64_t> g_samples{0};
std::atomic<uint64_t> g_dropped{0};  // ring full

// --- Timers, one per thread ---------------------------------------------------

constexpr size_t kMaxTimers = 8192;
enum : int { kTimerFree = 0, kTimerArmed = 2, kTimerFailed = 3 };

struct TimerEntry {
  std::atomic<int> state;
  int32_t tid;
  int timer;  // the kernel's timer id
};

TimerEntry* g_timers = nullptr;  // mapped once
// The tids that have a timer (or are getting one), claimed lock-free by
// whichever arms it first: the thread itself as it starts, or the scan.
constexpr size_t kClaimSlots = 4 * kMaxTimers;  // power of two
std::atomic<int32_t>* g_claimed = nullptr;      // mapped once
std::atomic<size_t> g_ntimers{0};
std::atomic<uint64_t> g_unprofiled{0};  // threads past kMaxTimers or whose timer failed

// --- The table of stacks (server thread) ----------------------------------------

// One per (thread, stack): samples are labelled by thread.
struct StackRecord {
  uint64_t hash;
  uint64_t count;
  int32_t depth;
  int32_t flags;
  int32_t tid;
  int32_t pad;
  uintptr_t frames[];  // depth of them
};

base::MmapBuffer* g_records = nullptr;  // StackRecords back to back
uint64_t* g_index = nullptr;            // offset + 1 into g_records, 0: empty
size_t g_index_cap = 0;
size_t g_nstacks = 0;

struct sigaction g_old_action;
uint64_t g_start_ns = 0;
uint64_t g_last_scan_ns = 0;

constexpr const char* kInRuntime = "[in heapscope]";

using base::MonoNs;

void OnSigprof(int, siginfo_t* info, void* uc) {
  int saved = errno;
  g_in_handler.fetch_add(1, std::memory_order_seq_cst);
  if (info->si_code == SI_TIMER && g_active.load(std::memory_order_seq_cst)) {
    uintptr_t frames[kMaxFrames];
    bool truncated = false;
    int depth = 0;
    int flags = 0;
    if (tls_state.guard == 0) {
      RecursionGuard guard;
      depth = CaptureSignalStack(uc, frames, kMaxFrames, &truncated);
      if (truncated) flags |= 1;
    } else {
      flags |= 2;  // not unwound again from inside the runtime
    }
    uint64_t pos = g_enqueue.load(std::memory_order_relaxed);
    RingSlot* slot = nullptr;
    for (;;) {
      RingSlot& s = g_ring[pos & kRingMask];
      uint64_t seq = s.seq.load(std::memory_order_acquire);
      auto dif = static_cast<int64_t>(seq - pos);
      if (dif == 0) {
        if (g_enqueue.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          slot = &s;
          break;
        }
      } else if (dif < 0) {
        break;  // full
      } else {
        pos = g_enqueue.load(std::memory_order_relaxed);
      }
    }
    if (slot != nullptr) {
      memcpy(slot->frames, frames, static_cast<size_t>(depth) * sizeof frames[0]);
      slot->depth = depth;
      slot->flags = flags;
      slot->tid = info->si_value.sival_int;
      slot->seq.store(pos + 1, std::memory_order_release);
      g_samples.fetch_add(1, std::memory_order_relaxed);
    } else {
      g_dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
  g_in_handler.fetch_sub(1, std::memory_order_seq_cst);
  errno = saved;
}

// The CPU-time clock of thread tid (the kernel's MAKE_THREAD_CPUCLOCK(tid,
// CPUCLOCK_SCHED)): what CLOCK_THREAD_CPUTIME_ID is for the thread itself.
clockid_t ThreadCpuClock(int32_t tid) {
  return static_cast<clockid_t>((~static_cast<uint32_t>(tid) << 3) | 6);
}

bool Claim(int32_t tid) {
  size_t j = (static_cast<uint32_t>(tid) * 2654435761u) & (kClaimSlots - 1);
  for (size_t probes = 0; probes < kClaimSlots; probes++) {
    int32_t cur = g_claimed[j].load(std::memory_order_acquire);
    if (cur == tid) return false;
    if (cur == 0) {
      if (g_claimed[j].compare_exchange_strong(cur, tid, std::memory_order_acq_rel)) return true;
      if (cur == tid) return false;
    }
    j = (j + 1) & (kClaimSlots - 1);
  }
  return false;
}

void ArmTimer(int32_t tid) {
  if (!Claim(tid)) return;
  size_t i = g_ntimers.fetch_add(1, std::memory_order_acq_rel);
  if (i >= kMaxTimers) {
    g_unprofiled.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  TimerEntry& e = g_timers[i];
  e.tid = tid;
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = tid;
  sev.sigev_value.sival_int = tid;  // handed to the handler: whose sample it is
  int id = -1;
  bool ok = syscall(SYS_timer_create, ThreadCpuClock(tid), &sev, &id) == 0;
  if (ok) {
    e.timer = id;
    struct itimerspec its;
    its.it_interval.tv_sec = 0;
    its.it_interval.tv_nsec = static_cast<long>(kCpuPeriodNs);
    its.it_value = its.it_interval;
    if (syscall(SYS_timer_settime, id, 0, &its, nullptr) != 0) {
      syscall(SYS_timer_delete, id);
      ok = false;
    }
  }
  if (!ok) g_unprofiled.fetch_add(1, std::memory_order_relaxed);
  e.state.store(ok ? kTimerArmed : kTimerFailed, std::memory_order_release);
}

// Timers for threads not covered yet (those existing at the start, and any
// created without passing through our pthread_create).
void ScanThreads() {
  const State& g = GlobalState();
  int32_t self = static_cast<int32_t>(syscall(SYS_gettid));
  ForEachNumberedEntry("/proc/self/task", [&](int64_t v, int) {
    auto tid = static_cast<int32_t>(v);
    if (tid != self && tid != g.dump_tid.load(std::memory_order_relaxed) &&
        tid != g.http_tid.load(std::memory_order_relaxed)) {
      ArmTimer(tid);  // unless it has one
    }
    return true;
  });
}

// --- The table ---------------------------------------------------------------------

uint64_t HashStack(const uintptr_t* frames, int depth, int flags, int32_t tid) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(flags) ^
               (static_cast<uint64_t>(static_cast<uint32_t>(tid)) << 8);
  for (int i = 0; i < depth; i++) {
    h ^= frames[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 29;
  }
  return h | 1;
}

StackRecord* RecordAt(uint64_t offset) {
  return reinterpret_cast<StackRecord*>(g_records->data() + offset);
}

bool GrowIndex() {
  size_t cap = g_index_cap == 0 ? 1024 : g_index_cap * 2;
  auto* index = static_cast<uint64_t*>(base::MapPages(cap * sizeof(uint64_t)));
  if (index == nullptr) return false;
  for (size_t i = 0; i < g_index_cap; i++) {
    if (g_index[i] == 0) continue;
    size_t j = RecordAt(g_index[i] - 1)->hash & (cap - 1);
    while (index[j] != 0) j = (j + 1) & (cap - 1);
    index[j] = g_index[i];
  }
  if (g_index != nullptr) base::UnmapPages(g_index, g_index_cap * sizeof(uint64_t));
  g_index = index;
  g_index_cap = cap;
  return true;
}

void AddSample(const uintptr_t* frames, int depth, int flags, int32_t tid) {
  if ((g_nstacks + 1) * 2 > g_index_cap && !GrowIndex()) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint64_t h = HashStack(frames, depth, flags, tid);
  size_t j = h & (g_index_cap - 1);
  while (g_index[j] != 0) {
    StackRecord* r = RecordAt(g_index[j] - 1);
    if (r->hash == h && r->depth == depth && r->flags == flags && r->tid == tid &&
        memcmp(r->frames, frames, static_cast<size_t>(depth) * sizeof frames[0]) == 0) {
      r->count++;
      return;
    }
    j = (j + 1) & (g_index_cap - 1);
  }
  StackRecord head{h, 1, depth, flags, tid, 0};
  uint64_t offset = g_records->size();
  if (!g_records->Reserve(sizeof head + static_cast<size_t>(depth) * sizeof frames[0]) ||
      !g_records->Append(&head, sizeof head) ||
      !g_records->Append(frames, static_cast<size_t>(depth) * sizeof frames[0])) {
    g_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  g_index[j] = offset + 1;
  g_nstacks++;
}

void Drain() {
  if (g_ring == nullptr) return;
  for (;;) {
    RingSlot& s = g_ring[g_dequeue & kRingMask];
    if (s.seq.load(std::memory_order_acquire) != g_dequeue + 1) break;
    AddSample(s.frames, s.depth, s.flags, s.tid);
    s.seq.store(g_dequeue + kRingSize, std::memory_order_release);
    g_dequeue++;
  }
}

void ResetTable() {
  if (g_records != nullptr) g_records->Clear();
  if (g_index != nullptr) memset(g_index, 0, g_index_cap * sizeof(uint64_t));
  g_nstacks = 0;
}

void Stop() {
  g_active.store(false, std::memory_order_seq_cst);
  // Threads arming their own timer finish first: none is armed after this.
  while (g_registering.load(std::memory_order_seq_cst) != 0) sched_yield();
  size_t n = g_ntimers.load(std::memory_order_acquire);
  if (n > kMaxTimers) n = kMaxTimers;
  for (size_t i = 0; i < n; i++) {
    TimerEntry& e = g_timers[i];
    while (e.state.load(std::memory_order_acquire) == kTimerFree) sched_yield();
    if (e.state.load(std::memory_order_acquire) == kTimerArmed) syscall(SYS_timer_delete, e.timer);
    e.state.store(kTimerFree, std::memory_order_relaxed);
    e.tid = 0;
  }
  g_ntimers.store(0, std::memory_order_release);
  memset(static_cast<void*>(g_claimed), 0, kClaimSlots * sizeof g_claimed[0]);
  // Ignoring the signal discards any still pending (on a thread that
  // blocks it); then the program's disposition comes back.
  struct sigaction ign;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigemptyset(&ign.sa_mask);
  sigaction(SIGPROF, &ign, nullptr);
  while (g_in_handler.load(std::memory_order_seq_cst) != 0) sched_yield();
  sigaction(SIGPROF, &g_old_action, nullptr);
  Drain();
}

}  // namespace

bool CpuProfileRunning() { return g_active.load(std::memory_order_acquire); }

CpuStart StartCpuProfile(const char** why) {
  if (g_active.load()) {
    *why = "a CPU profile is already being taken; try again when it is done";
    return CpuStart::kBusy;
  }
  struct sigaction old;
  if (sigaction(SIGPROF, nullptr, &old) != 0) {
    *why = "cannot read the SIGPROF handler";
    return CpuStart::kRefused;
  }
  if ((old.sa_flags & SA_SIGINFO) != 0 ||
      (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN)) {
    *why = "the program has its own SIGPROF handler (another profiler?); CPU profiling is off";
    return CpuStart::kRefused;
  }
  struct itimerval it;
  if (getitimer(ITIMER_PROF, &it) == 0 && (it.it_value.tv_sec != 0 || it.it_value.tv_usec != 0)) {
    *why = "the program runs an ITIMER_PROF timer; CPU profiling is off";
    return CpuStart::kRefused;
  }
  // Mapped once and kept: a late signal always finds its memory.
  if (g_ring == nullptr)
    g_ring = static_cast<RingSlot*>(base::MapPages(kRingSize * sizeof(RingSlot)));
  if (g_timers == nullptr)
    g_timers = static_cast<TimerEntry*>(base::MapPages(kMaxTimers * sizeof(TimerEntry)));
  if (g_claimed == nullptr) {
    g_claimed = static_cast<std::atomic<int32_t>*>(
        base::MapPages(kClaimSlots * sizeof(std::atomic<int32_t>)));
  }
  if (g_records == nullptr) {
    if (void* rec = base::MapPages(sizeof(base::MmapBuffer)))
      g_records = new (rec) base::MmapBuffer();
  }
  if (g_ring == nullptr || g_timers == nullptr || g_claimed == nullptr || g_records == nullptr) {
    *why = "out of memory for the CPU profile";
    return CpuStart::kRefused;
  }
  for (size_t i = 0; i < kRingSize; i++) g_ring[i].seq.store(i, std::memory_order_relaxed);
  g_enqueue.store(0);
  g_dequeue = 0;
  g_samples.store(0);
  g_dropped.store(0);
  g_unprofiled.store(0);
  ResetTable();
  g_old_action = old;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = OnSigprof;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  if (sigaction(SIGPROF, &sa, nullptr) != 0) {
    *why = "cannot install the SIGPROF handler";
    return CpuStart::kRefused;
  }
  g_start_ns = MonoNs();
  g_active.store(true, std::memory_order_seq_cst);
  ScanThreads();
  g_last_scan_ns = MonoNs();
  return CpuStart::kStarted;
}

void TickCpuProfile() {
  if (!g_active.load()) return;
  Drain();
  uint64_t now = MonoNs();
  if (now - g_last_scan_ns >= 200000000ULL) {
    ScanThreads();
    g_last_scan_ns = now;
  }
}

void AbortCpuProfile() {
  if (!g_active.load()) return;
  Stop();
  ResetTable();
}

// Thread names for the samples' labels, each thread's read once from
// /proc when the profile is written (a thread that has ended by then is
// "[exited]"). Open addressing over the tids, mapped for the one profile.
class ThreadNames {
 public:
  ThreadNames() { entries_ = static_cast<Entry*>(base::MapPages(kSlots * sizeof(Entry))); }
  ~ThreadNames() {
    if (entries_ != nullptr) base::UnmapPages(entries_, kSlots * sizeof(Entry));
  }
  ThreadNames(const ThreadNames&) = delete;
  ThreadNames& operator=(const ThreadNames&) = delete;

  const char* Name(int32_t tid) {
    if (entries_ == nullptr || tid <= 0) return "";
    for (size_t j = (static_cast<uint32_t>(tid) * 2654435761u) & (kSlots - 1);;
         j = (j + 1) & (kSlots - 1)) {
      Entry& e = entries_[j];
      if (e.tid == tid) return e.name;
      if (e.tid != 0) continue;
      if (used_ * 2 >= kSlots) return "";  // more threads than a profile ever has
      e.tid = tid;
      used_++;
      if (ReadThreadName(tid, e.name, sizeof e.name) == 0) {
        memcpy(e.name, "[exited]", sizeof "[exited]");
      }
      return e.name;
    }
  }

 private:
  struct Entry {
    int32_t tid;
    char name[20];  // comm is at most 15 characters
  };
  static constexpr size_t kSlots = 4 * kMaxTimers;  // power of two
  Entry* entries_ = nullptr;
  size_t used_ = 0;
};

bool FinishCpuProfile(format::ByteSink* out, SymbolCache* symbols) {
  uint64_t duration = MonoNs() - g_start_ns;
  if (g_active.load()) Stop();
  base::MmapBuffer buf;
  if (!buf.Reserve((g_nstacks + 1) * sizeof(StackSample))) {
    ResetTable();
    return false;
  }
  ThreadNames names;
  auto* samples = reinterpret_cast<StackSample*>(buf.data());
  size_t n = 0;
  for (uint64_t off = 0; off < g_records->size() && n < g_nstacks;) {
    StackRecord* r = RecordAt(off);
    StackSample& s = samples[n++];
    memset(&s, 0, sizeof s);
    s.frames = r->frames;
    s.depth = r->depth;
    s.truncated = (r->flags & 1) != 0;
    s.pseudo = (r->flags & 2) != 0 || r->depth == 0 ? kInRuntime : nullptr;
    s.values[0] = static_cast<int64_t>(r->count);
    s.values[1] = static_cast<int64_t>(r->count * kCpuPeriodNs);
    if (r->tid > 0) {
      s.labels[0] = ProfileLabel{"thread_name", names.Name(r->tid), 0};
      s.labels[1] = ProfileLabel{"tid", nullptr, r->tid};
      s.nlabels = 2;
    }
    off += sizeof(StackRecord) + static_cast<size_t>(r->depth) * sizeof(uintptr_t);
  }
  char c0[160];
  base::RawBuffer b(c0, sizeof c0);
  b.Str("heapscope: cpu samples=").Uint(g_samples.load()).Str(" dropped_samples=");
  b.Uint(g_dropped.load()).Str(" unprofiled_threads=").Uint(g_unprofiled.load()).CStr();
  StackProfile p{};
  p.sample_types[0][0] = "samples";
  p.sample_types[0][1] = "count";
  p.sample_types[1][0] = "cpu";
  p.sample_types[1][1] = "nanoseconds";
  p.ntypes = 2;
  p.period_type[0] = "cpu";
  p.period_type[1] = "nanoseconds";
  p.default_type = "cpu";
  p.samples = samples;
  p.nsamples = n;
  p.comments[0] = c0;
  p.ncomments = 1;
  p.symbols = symbols;
  p.period = static_cast<int64_t>(kCpuPeriodNs);
  p.duration_ns = duration;
  bool ok = WriteStackProfileGz(out, p);
  ResetTable();
  return ok;
}

void CpuProfileForkChild() {
  // The child has no timers (they are not inherited) and no server thread:
  // it gets the program's disposition back.
  if (!g_active.load()) return;
  g_active.store(false);
  g_ntimers.store(0);
  g_registering.store(0);
  g_in_handler.store(0);
  sigaction(SIGPROF, &g_old_action, nullptr);
}

void CpuProfileThreadStarted() {
  g_registering.fetch_add(1, std::memory_order_seq_cst);
  if (g_active.load(std::memory_order_seq_cst)) ArmTimer(static_cast<int32_t>(syscall(SYS_gettid)));
  g_registering.fetch_sub(1, std::memory_order_seq_cst);
}

}  // namespace heapscope::runtime
